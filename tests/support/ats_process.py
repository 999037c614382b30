"""A real ``ats`` process serving its control API, for the tests of tests/apis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

from ats.demo import DEMO_DATA
from ats.trading_job.job_config import JobConfig, parse_job_config


def ats_env(state_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATS_")}
    env.update(
        {
            "ATS_SAVED_STATES_DIR": str(state_dir),
            "ATS_CANDLE_CACHE_DIR": os.environ.get("ATS_CANDLE_CACHE_DIR", ""),
            "COLUMNS": "160",
            "TERM": "dumb",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return {key: value for key, value in env.items() if value}


def run_ats(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ats.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def save_job(config: JobConfig, job_id: str, *, env: dict[str, str], cwd: Path) -> None:
    """``ats jobs add JOB.yaml --start --id job_id`` (started by the next ats --no-ui),
    run in this process (a process start per job would cost a second each)."""
    from ats.cli import main

    path = cwd / f"{job_id}.yaml"
    path.write_text(config.to_yaml())
    with mock.patch.dict(os.environ, {"ATS_SAVED_STATES_DIR": env["ATS_SAVED_STATES_DIR"]}):
        assert main(["jobs", "add", str(path), "--start", "--id", job_id]) == 0


def start_headless(
    state_dir: Path, *, env: dict[str, str], cwd: Path, args: tuple[str, ...] = ()
) -> subprocess.Popen[str]:
    """``ats --no-ui`` running the saved jobs; returns once its socket answers."""
    return start_serving("--no-ui", *args, state_dir=state_dir, env=env, cwd=cwd)


def start_serving(
    *args: str, state_dir: Path, env: dict[str, str], cwd: Path
) -> subprocess.Popen[str]:
    """``ats ARGS`` (a process that runs jobs); returns once its socket exists."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ats.cli", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (state_dir / "ats.sock").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.communicate(timeout=10)[0] if process.poll() is not None else ""
            process.kill()
            raise AssertionError(f"ats {' '.join(args)} did not serve its socket: {output}")
        time.sleep(0.05)
    return process


def replay_config(name: str = "replay", speed: float = 20.0, data: Path = DEMO_DATA) -> JobConfig:
    """A paper replay of ``data`` at ``speed`` times real time."""
    return parse_job_config(
        {
            "name": name,
            "balances": {"USDT": 10_000},
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(data), "speed": speed},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )
