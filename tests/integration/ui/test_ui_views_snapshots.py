"""Snapshot tests (pytest-textual-snapshot) of issue 10's views at 80x24 and 160x48: an
RSI job with its oscillator panel, the Trades pane, and a finished backtest after a
restart, which must show exactly what it showed before (checked as text here, and the
SVG pins the picture). Regenerate with ``--snapshot-update``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persistent_console import persistent_app, quit_app
from test_ui_indicator_panels import rsi_config
from textual.pilot import Pilot
from ui_helpers import press, screen_text, settled, wait_for

from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen

Snap = Callable[..., bool]
SIZES = [(80, 24), (160, 48)]


def main_screen(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def caught_up(pilot: Pilot[Any], *, trades: int | None = None) -> None:
    """The selected job's chart drawn (and its trades read), the panels caught up."""
    app = pilot.app
    await wait_for(pilot, lambda: main_screen(app).selected_job_id is not None)
    screen = main_screen(app)
    if trades is not None:
        await press(pilot, "h")
        pane = screen.trades
        await wait_for(pilot, lambda: pane.total == trades and pane.selected is not None)
    chart = screen.chart
    frames = chart.frames
    chart.redraw()
    if chart.display and chart.size.width:
        await wait_for(pilot, lambda: chart.frames > frames)
    await settled(pilot)  # account and metrics panels refresh at 4 Hz


def finished_console(make_app: Callable[..., AtsApp], *configs: Any) -> AtsApp:
    manager = JobManager()
    for config in configs:
        manager.create(config)
    return make_app(manager)


def run_to_end(trades: int | None = None) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AtsApp)
        for job in app.manager.jobs:
            app.manager.start(job.id)
            await app.manager.wait(job.id)
        await caught_up(pilot, trades=trades)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_rsi_job_with_its_panel(
    snap_compare: Snap, make_app: Callable[..., AtsApp], size: tuple[int, int]
) -> None:
    app = finished_console(make_app, rsi_config())
    assert snap_compare(app, terminal_size=size, run_before=run_to_end())


@pytest.mark.parametrize("size", SIZES)
def test_trades_pane(
    snap_compare: Snap, make_app: Callable[..., AtsApp], size: tuple[int, int]
) -> None:
    app = finished_console(make_app, backtest_config(name="demo-sma-cross"))
    assert snap_compare(app, terminal_size=size, run_before=run_to_end(trades=27))


@pytest.mark.parametrize("size", SIZES)
def test_finished_backtest_after_a_restart_as_before(
    snap_compare: Snap, make_app: Callable[..., AtsApp], tmp_path: Path, size: tuple[int, int]
) -> None:
    """Chart, trades, account, metrics and the jobs row are the same after ``q`` and a
    new start (the Trades pane takes the log's place: the log says "restored")."""
    state = tmp_path / "state"

    async def before_restart() -> str:
        app, manager = persistent_app(make_app, state)
        manager.create(backtest_config(name="demo-sma-cross"))
        async with app.run_test(size=size) as pilot:
            await wait_for(pilot, lambda: app.started)
            await run_to_end(trades=27)(pilot)
            shown = screen_text(app)
            await quit_app(pilot, app)
        return shown

    before = asyncio.run(before_restart())
    again, _manager = persistent_app(make_app, state)

    async def after_restart(pilot: Pilot[Any]) -> None:
        await caught_up(pilot, trades=27)
        assert screen_text(pilot.app) == before

    assert snap_compare(again, terminal_size=size, run_before=after_restart)
