"""Issue 13 item 7: the console's runtime tuning happens before any thread or job exists,
so ``gc.freeze()`` holds only what imports made and the malloc arena limit covers every
thread (it used to run after the saved jobs were restored and the journal's thread ran)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest
from persistence.persist_helpers import settings_for

from ats.trading_job.job_manager import JobManager
from ats.ui import app as app_module
from ats.ui import launch
from ats.utils import runtime_tuning


def test_ats_tunes_the_runtime_before_the_watchdog_and_the_jobs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    steps: list[str] = []

    class RecordingManager(JobManager):
        def __init__(self, **kwargs: Any) -> None:
            steps.append("job manager")
            super().__init__(**kwargs)

    def run_console(manager: JobManager, **hooks: Any) -> int:
        steps.append("console")  # on_start (restore, journal thread) runs in here
        return 0

    monkeypatch.setattr(launch, "tune_runtime", lambda: steps.append("tune"))
    monkeypatch.setattr(launch, "install", lambda limits: steps.append("watchdog thread"))
    monkeypatch.setattr(launch, "JobManager", RecordingManager)
    monkeypatch.setattr(app_module, "run_console", run_console)
    assert launch.launch_console(settings_for(tmp_path / "state")) == 0
    assert steps == ["tune", "watchdog thread", "job manager", "console"]


def test_tune_runtime_sets_the_collector_and_switch_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not this test process
    monkeypatch.setattr(runtime_tuning.native_memory, "limit_arenas", lambda count: True)
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        runtime_tuning.tune_runtime()
        assert frozen == [True]
        assert gc.get_threshold()[2] == runtime_tuning.FULL_GC_EVERY
        assert sys.getswitchinterval() == pytest.approx(runtime_tuning.SWITCH_INTERVAL)
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
