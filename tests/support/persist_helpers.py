"""Shared helpers for the persistence tests: synthetic candles, job configs, subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ats.data.candle_writer import save_candles_csv
from ats.data.candles import CandleData
from ats.persistence.snapshot_store import SnapshotStore
from ats.utils.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def make_candles(count: int, seed: int = 7, step_ms: int = 60_000) -> CandleData:
    """A reproducible random walk of 1-minute candles."""
    rng = np.random.default_rng(seed)
    timestamps = 1_600_000_000_000 + np.arange(count, dtype=np.int64) * step_ms
    close = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.0005, count))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.0005, count))
    volume = rng.uniform(1, 10, count)
    return CandleData(Path("synthetic"), timestamps, open_, high, low, close, volume, step_ms)


def write_candles(path: Path, count: int, seed: int = 7) -> Path:
    save_candles_csv(make_candles(count, seed), path)
    return path


def settings_for(state_dir: Path, **overrides: Any) -> Settings:
    return Settings(_env_file=None, saved_states_dir=state_dir, **overrides)  # type: ignore[call-arg]


def ats_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for an ``ats`` subprocess writing its state under ``state_dir``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ATS_") and key not in ("COLUMNS", "LINES")
    }
    env.update(
        {
            "ATS_SAVED_STATES_DIR": str(state_dir),
            "COLUMNS": "120",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def ats_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ats.cli", *args]


def run_ats(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ats_command(*args), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def read_payload(state_dir: Path, job_id: str) -> dict[str, Any] | None:
    """The current snapshot's payload, or None while it is missing or being replaced."""
    candidate = SnapshotStore.read(state_dir / f"{job_id}.json", job_id)
    return candidate.payload


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """:func:`wait_for` for a test on the event loop, which must keep running meanwhile
    (what is awaited runs on it): True once ``predicate`` holds, False after ``timeout``
    (then the test's own assert says what did not happen)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def dump(data: Any) -> str:
    return json.dumps(data, sort_keys=True)
