"""Snapshot (pytest-textual-snapshot) of a sweep's pane at 80x24: the jobs table's sweep
row, the heatmap with nine of twelve cells ranked (the three others waiting: ·) and the
trials table sorted by the objective.

Deterministic: the trials are real backtests of fixed candles, and the sweep is stopped
after nine of them (its last three wait for a gate file), so no ETA or clock is shown.
Regenerate with ``pytest tests/integration/ui/test_ui_sweep_snapshot.py --snapshot-update``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from test_ui_sweep import sweep_spec  # noqa: F401  (the fixture)
from textual.pilot import Pilot
from ui_helpers import fixed_clock, settled, wait_for

from ats.research.sweep_jobs import SweepJobs
from ats.trading_job.job_manager import JobManager
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.themes import BUNDLED_THEMES
from ats.ui.widgets.sweep_pane import SweepPane
from ats.utils.plugins import PluginLoader

WAIT = 30.0
Snap = Callable[..., bool]


def test_sweep_pane_80x24(snap_compare: Snap, tmp_path: Path, sweep_spec: Path) -> None:  # noqa: F811
    manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
    sweeps = SweepJobs(manager.bus, manager.loader, tmp_path / "state" / "research.sqlite3")
    app = AtsApp(
        manager,
        demo=False,
        settings_path=tmp_path / "ui.json",
        theme_dirs=[BUNDLED_THEMES],
        log_clock=fixed_clock,
        sweeps=sweeps,
    )

    async def nine_trials(pilot: Pilot[Any]) -> None:
        sweep_id = await app.control.create_sweep(str(sweep_spec))
        await app.control.start(sweep_id)
        sweep = sweeps.get(sweep_id)
        await wait_for(pilot, lambda: sweep.done == 9, timeout=WAIT)
        await app.control.stop(sweep_id)
        await asyncio.sleep(0.1)
        (tmp_path / "gate").touch()  # the trial running is dropped, not journaled
        await wait_for(pilot, lambda: sweep.status is JobStatus.STOPPED, timeout=WAIT)
        await sweep.wait()
        pane = app.screen.query_one(SweepPane)
        await wait_for(
            pilot, lambda: pane.view is not None and pane.view.status == "stopped", timeout=WAIT
        )
        await settled(pilot)  # the pump (10 Hz) and the pane (4 Hz) catch up

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=nine_trials)
    finally:
        sweeps.journal.close()  # the sweep is stopped: its workers are gone
