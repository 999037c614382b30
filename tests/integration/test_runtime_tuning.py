"""Issue 13 item 7: the console's runtime tuning happens before any thread or job exists.
The malloc arena limit and the collector's thresholds are set before the first thread
(ats.ui.launch), and ``gc.freeze()`` runs once the console is mounted but before any job
is restored (it used to run after the saved jobs were restored and the journal's thread
ran, freezing those jobs for good)."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from persist_helpers import settings_for

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


async def test_the_console_freezes_start_up_objects_before_restoring_jobs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    steps: list[str] = []
    monkeypatch.setattr(runtime_tuning, "freeze_startup", lambda: steps.append("freeze"))

    async def on_start() -> Iterable[str]:
        steps.append("restore jobs")
        return []

    app = app_module.AtsApp(
        JobManager(), demo=False, settings_path=None, on_start=on_start, tune_runtime=True
    )
    async with app.run_test() as pilot:
        while not app.started:
            await pilot.pause(0.05)
    assert steps == ["freeze", "restore jobs"]


def test_tune_runtime_sets_the_collector_and_switch_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not this test process
    monkeypatch.setattr(runtime_tuning.native_memory, "limit_arenas", lambda count: True)
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        runtime_tuning.tune_runtime()
        assert gc.get_threshold()[2] == runtime_tuning.FULL_GC_EVERY
        assert sys.getswitchinterval() == pytest.approx(runtime_tuning.SWITCH_INTERVAL)
        assert frozen == []  # later: once the console is mounted
        runtime_tuning.freeze_startup()
        assert frozen == [True]
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
