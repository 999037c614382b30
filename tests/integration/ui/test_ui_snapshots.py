"""Snapshot tests (pytest-textual-snapshot): main screen at 80x24 and 160x48, the new-job
form with a validation error, the help screen, and a second (high-contrast) theme.

Deterministic by construction: the bundled candles, a backtest run to its end before the
screenshot, a pinned log clock, no demo jobs, blinking cursors off.
Regenerate with ``pytest tests/integration/ui/test_ui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from job_configs import backtest_config
from textual.pilot import Pilot
from textual.widgets import Input
from ui_helpers import (
    fixed_clock,
    focus_on,
    press,
    replay_config,
    settled,
    type_text,
    wait_for,
)

from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.screens.job_form import JobFormScreen
from ats.ui.themes import BUNDLED_THEMES

Snap = Callable[..., bool]
RELATIVE_DATA = "data/BTC_USDT_3s_2022-05-12.csv"


def console(tmp_path: Path) -> AtsApp:
    manager = JobManager()
    manager.create(backtest_config(name="demo-sma-cross"))
    manager.create(replay_config("demo-replay"))
    return AtsApp(
        manager,
        demo=False,
        settings_path=tmp_path / "ui.json",
        theme_dirs=[BUNDLED_THEMES],
        log_clock=fixed_clock,
    )


def finished(extra: Callable[[Pilot[Any]], Awaitable[None]] | None = None) -> Any:
    """run_before: run the backtest to its end and let the panels catch up."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, AtsApp)
        job = app.manager.jobs[0]
        app.manager.start(job.id)
        await app.manager.wait(job.id)
        await settled(pilot)  # the pump (10 Hz) and the chart (4 Hz) show the final state
        if extra is not None:
            await extra(pilot)

    return run_before


def test_main_screen_80x24(snap_compare: Snap, tmp_path: Path) -> None:
    assert snap_compare(console(tmp_path), terminal_size=(80, 24), run_before=finished())


def test_main_screen_160x48(snap_compare: Snap, tmp_path: Path) -> None:
    assert snap_compare(console(tmp_path), terminal_size=(160, 48), run_before=finished())


def test_new_job_form_with_validation_error(snap_compare: Snap, tmp_path: Path) -> None:
    async def fill_in_badly(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        for field in form.query(Input).results(Input):
            field.cursor_blink = False
        form.query_one("#f-data", Input).value = RELATIVE_DATA
        await focus_on(pilot, form.query_one("#f-cash", Input))
        await press(pilot, "ctrl+u")
        await type_text(pilot, "lots")
        await press(pilot, "ctrl+s")
        await settled(pilot)

    assert snap_compare(
        console(tmp_path), terminal_size=(80, 24), run_before=finished(fill_in_badly)
    )


def test_help_screen(snap_compare: Snap, tmp_path: Path) -> None:
    assert snap_compare(
        console(tmp_path), terminal_size=(100, 48), press=["question_mark"], run_before=finished()
    )


def test_high_contrast_theme(snap_compare: Snap, tmp_path: Path) -> None:
    async def high_contrast(pilot: Pilot[Any]) -> None:
        # Textual refreshes the CSS, then tells subscribers: the main screen bakes the
        # theme's colours into its panels, the chart draws a frame in a thread and the log
        # rebuilds in a worker. Wait for the signal, then until the screen is still.
        told: list[object] = []
        pilot.app.theme_changed_signal.subscribe(pilot.app.screen, told.append)
        pilot.app.theme = "ats-high-contrast"
        await wait_for(pilot, lambda: bool(told))
        await settled(pilot)

    assert snap_compare(
        console(tmp_path), terminal_size=(120, 36), run_before=finished(high_contrast)
    )
