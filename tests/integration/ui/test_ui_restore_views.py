"""Restarts keep the view (issue 10, bugs 2 and 3, item 6): finished, stopped and paused
jobs show after a restart what they showed before, through the real PersistentJobs
(snapshots and journal in a temporary directory), as ``ats`` wires the console.

On main a finished backtest came back with "No candles yet — press s to start", ``g``
gave ``DataError: … data not loaded``, its Prog column was blank; a paused replay had no
chart, x80 came back as x20 and the jobs came back in another order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from job_configs import backtest_config
from persistent_console import persistent_app, quit_app
from ui_helpers import press, replay_config, wait_for

from ats.trading_job.status import JobStatus
from ats.trading_job.views import to_json
from ats.ui import job_view
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def chart_drawn(pilot: Any, app: AtsApp, job_id: str, mode: str = "candles") -> str | None:
    """Select ``job_id``, show the chart in ``mode``, wait for a fresh frame or message;
    the chart's message (None when it plotted)."""
    screen = main_screen(app)
    await wait_for(pilot, lambda: screen.table.row_count == len(app.manager))

    def selected() -> bool:
        if screen.selected_job_id != job_id:
            screen.table.select_job(job_id)
        return screen.selected_job_id == job_id

    await wait_for(pilot, selected)
    chart = screen.chart
    if chart.mode != mode:
        await press(pilot, "g")
    await wait_for(pilot, lambda: chart.mode == mode)
    frames = chart.frames
    chart.redraw()

    def drawing() -> bool:  # gathering the window, or plotting it in a thread
        return any(worker.node is chart and not worker.is_finished for worker in app.workers)

    await wait_for(pilot, lambda: chart.frames > frames or not drawing(), 15)
    if chart.frames == frames:  # no frame: the chart says why
        return chart.message or "no frame"
    await pilot.pause(0.05)
    return chart.message


async def seen(app: AtsApp, job_id: str) -> dict[str, Any]:
    """What the console shows of a job, as the read model gives it."""
    control = app.control
    view = await control.job(job_id)
    return {
        "row": job_view.job_row(view),
        "chart": await control.chart_window(job_id, 150),
        "equity": await control.equity_curve(job_id, 200),
        "trades": await control.trades(job_id, 0, 1000),
        "metrics": view.metrics,
        "speed": view.speed,
        "progress": view.progress,
    }


async def test_a_finished_backtest_shows_the_same_after_a_restart(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state)
    job = manager.create(backtest_config(name="demo-sma-cross"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.started)
        manager.start(job.id)
        await manager.wait(job.id)
        assert job.status is JobStatus.FINISHED
        assert await chart_drawn(pilot, app, job.id) is None
        before = await seen(app, job.id)
        await quit_app(pilot, app)
    assert len(before["chart"]) == 150 and len(before["equity"]) > 100
    assert before["trades"].total == 27

    again, manager2 = persistent_app(make_app, state)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(manager2) == 1)
        (restored,) = manager2.jobs
        assert restored.status is JobStatus.FINISHED
        view = await again.control.job(restored.id)
        assert view.progress.fraction == 1.0  # Prog 100%, before any chart asked for candles
        assert job_view.job_row(view) == before["row"]
        assert await chart_drawn(pilot, again, restored.id) is None
        assert await chart_drawn(pilot, again, restored.id, "equity") is None  # no DataError
        after = await seen(again, restored.id)
        await quit_app(pilot, again)
    assert after == before


async def test_a_paused_replay_keeps_its_chart_speed_equity_and_place(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state)
    first = manager.create(backtest_config(name="first"))
    replay = manager.create(replay_config("replay", speed=5_000.0))
    last = manager.create(backtest_config(name="last"))
    order = [first.id, replay.id, last.id]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.started)
        manager.start(replay.id)
        exchange = replay.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: exchange.progress.done >= 120, 20)
        manager.pause(replay.id)
        manager.set_speed(replay.id, 80.0)
        await wait_for(pilot, lambda: replay.status is JobStatus.PAUSED)
        assert await chart_drawn(pilot, app, replay.id) is None
        before = await seen(app, replay.id)
        await quit_app(pilot, app)
    assert len(before["chart"]) >= 100

    again, manager2 = persistent_app(make_app, state)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(manager2) == 3)
        assert [job.id for job in manager2.jobs] == order
        restored = manager2.get(replay.id)
        await wait_for(pilot, lambda: restored.status is JobStatus.PAUSED)
        assert await chart_drawn(pilot, again, replay.id) is None  # not "press s to start"
        after = await seen(again, replay.id)
        assert after["speed"] == 80.0
        assert to_json(after["chart"]) == to_json(before["chart"])  # NaN warm-up equal
        assert after["equity"].timestamps[0] == before["equity"].timestamps[0]
        # Resumed, the curve continues from where it was rather than starting afresh.
        await press(pilot, "p")
        await wait_for(pilot, lambda: restored.status is JobStatus.RUNNING)
        restored_exchange = restored.exchange
        assert restored_exchange is not None
        done = restored_exchange.progress.done
        await wait_for(pilot, lambda: restored_exchange.progress.done >= done + 3, 10)
        resumed = await again.control.equity_curve(replay.id, 10_000)
        assert resumed.timestamps[0] == before["equity"].timestamps[0]
        assert len(resumed) > len(before["equity"])
        await quit_app(pilot, again)


async def test_an_empty_chart_names_the_key_that_helps() -> None:
    """A paused job's empty chart said "press s to start", though s would stop it."""
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.local_control import LocalJobControl
    from ats.ui.widgets.chart import ChartView

    manager = JobManager()
    job = manager.create(replay_config("replay"))
    control = LocalJobControl(manager)
    said = {}
    for status in (JobStatus.CREATED, JobStatus.RUNNING, JobStatus.PAUSED):
        job.status = status  # as the job would be at that moment
        said[status] = await ChartView._nothing_yet(control, job.id, "No candles yet")
    assert said == {
        JobStatus.CREATED: "No candles yet — press s to start",
        JobStatus.RUNNING: "No candles yet — waiting for the first candle",
        JobStatus.PAUSED: "No candles yet — paused, press p to resume",
    }
