"""A chart frame slower than the chart's tick still lands.

On a loaded machine (a sweep on both cores, backtests on the loop) the plot of a frame,
done in a worker thread, can take longer than the tick (``1 / CHART_HZ``). A running or
paused job marks its chart stale on every tick (its progress is published every 0.2 s).
On main each tick started a new frame over the one on its way, whose result was then
dropped: the chart of a running job never showed anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from ui_helpers import replay_config, wait_for

from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen
from ats.ui.widgets import chart as chart_module
from ats.ui.widgets.chart import CHART_HZ, ChartSpec

FRAME_S = 2.5 / CHART_HZ


@pytest.fixture
def slow_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame takes two and a half ticks to plot."""
    build_lines = chart_module.build_lines

    def slowly(spec: ChartSpec) -> Any:
        time.sleep(FRAME_S)
        return build_lines(spec)

    monkeypatch.setattr(chart_module, "build_lines", slowly)


@pytest.mark.usefixtures("slow_frames")
@pytest.mark.parametrize("paused", [False, True])
async def test_a_running_or_paused_jobs_chart_shows_though_a_frame_outlasts_a_tick(
    make_app: Callable[..., AtsApp], paused: bool
) -> None:
    manager = JobManager()
    replay = manager.create(replay_config(speed=5.0))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        chart = screen.chart
        await wait_for(pilot, lambda: screen.selected_job_id == replay.id)
        manager.start(replay.id)
        exchange = replay.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: exchange.progress.done > 0, timeout=15)
        if paused:
            manager.pause(replay.id)
            assert replay.status is JobStatus.PAUSED
        frames = chart.frames
        await wait_for(pilot, lambda: chart.frames > frames, timeout=10 * FRAME_S)
        assert chart.message is None  # candles plotted
        await manager.stop_all()
