"""Shared set-up of the reliability tests: a state directory with saved jobs, one of
them running :mod:`stuck_strategy` (copied into a ``custom_modules/`` of the test's own)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from persist_helpers import ats_command, ats_env, run_ats, settings_for

from ats.headless.job_add import add_job

STUCK_STRATEGY = Path(__file__).with_name("stuck_strategy.py")


def custom_modules(tmp_path: Path) -> Path:
    """``tmp_path/custom_modules`` with the ``stuck`` strategy in it."""
    root = tmp_path / "custom_modules"
    target = root / "strategies" / "stuck" / "strategy.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(STUCK_STRATEGY, target)
    return root


def job(name: str, exchange: dict[str, Any], strategy: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "symbol": "BTC/USDT",
        "balances": {"USDT": 10_000},
        "exchange": exchange,
        "strategy": strategy,
        "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
    }


def backtest(data: Path, name: str = "good") -> dict[str, Any]:
    return job(
        name,
        {"name": "back_trading", "params": {"data": str(data)}},
        {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
    )


def replay(data: Path, name: str = "replay", speed: float = 60.0) -> dict[str, Any]:
    return job(
        name,
        {"name": "paper", "params": {"feed": "replay", "data": str(data), "speed": speed}},
        {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
    )


def stuck(data: Path, how: str, name: str = "stuck", **params: Any) -> dict[str, Any]:
    return job(
        name,
        {"name": "back_trading", "params": {"data": str(data)}},
        {"name": "stuck", "params": {"how": how, **params}},
    )


def save_jobs(state: Path, custom: Path, jobs: dict[str, dict[str, Any]]) -> None:
    """``ats jobs add JOB.yaml --id ID --start`` for each job (in this process)."""
    settings = settings_for(state, custom_modules_dir=custom)
    for job_id, config in jobs.items():
        path = state.parent / f"{job_id}.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        assert add_job(settings, path, job_id, start=True) == 0


def env(state: Path, custom: Path, **settings: str) -> dict[str, str]:
    """An ``ats`` subprocess's environment: its own state and custom_modules, and the
    given ``ATS_*`` settings (``watchdog_backtest_s="0.5"``)."""
    extra = {f"ATS_{key.upper()}": value for key, value in settings.items()}
    return ats_env(state, ATS_CUSTOM_MODULES_DIR=str(custom), **extra)


class AtsProcess:
    """One ``ats`` subprocess, its output in a file (shown when a wait fails)."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.log_path = cwd / f"ats-{len(list(cwd.glob('ats-*.log')))}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ats_command(*args), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll (the loop stays free: a test's fake exchange may live on it)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if self.process.poll() is not None:
                pytest.fail(
                    f"ats exited ({self.process.returncode}) before {what}:\n{self.output()}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what}:\n{self.output()}")
            await asyncio.sleep(0.02)

    async def stopped_by(self, sig: signal.Signals, within: float) -> tuple[int, float]:
        """Send ``sig``; (exit status, seconds to exit). Fails if it lives ``within``."""
        began = time.monotonic()
        self.process.send_signal(sig)
        deadline = began + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"still alive {within}s after {sig.name}:\n{self.output()}")
            await asyncio.sleep(0.02)
        return self.process.returncode, time.monotonic() - began

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def saved_jobs(state: Path, cwd: Path) -> dict[str, dict[str, Any]]:
    """``ats jobs list --json`` (a real process): the snapshots are readable."""
    listed = run_ats("jobs", "list", "--json", env=ats_env(state), cwd=cwd, timeout=60)
    assert listed.returncode == 0, listed.stderr
    return {row["job_id"]: row for row in json.loads(listed.stdout)}
