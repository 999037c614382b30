"""Every console key, driven with Pilot: panels, chart, log, filter, theme, help, palette,
speed, quit."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from job_configs import backtest_config
from textual.command import CommandPalette
from ui_helpers import palette_search, press, replay_config, screen_text, type_text, wait_for

from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.ui.app import AtsApp
from ats.ui.commands import palette_commands
from ats.ui.keys import CHART_KEYS, FOOTER_SPARE, LOG_KEYS, MAIN_KEYS
from ats.ui.screens.help import HelpScreen
from ats.ui.screens.main import MainScreen
from ats.ui.widgets.chart import ChartView
from ats.ui.widgets.key_footer import KeyFooter
from ats.ui.widgets.log_view import LogView
from ats.ui.widgets.metrics import MetricsPanel


def finished_manager(*names: str) -> JobManager:
    manager = JobManager()
    for name in names or ("alpha",):
        manager.create(backtest_config(name=name))
    return manager


async def run_all(manager: JobManager) -> None:
    for job in manager.jobs:
        manager.start(job.id)
    await manager.wait_all()


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_panel_focus_keys(make_app: Callable[..., AtsApp]) -> None:
    app = make_app(finished_manager())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        assert screen.narrow and screen.table.has_focus
        await press(pilot, "c")
        assert isinstance(app.focused, ChartView) and screen.chart.display
        await press(pilot, "l")
        assert isinstance(app.focused, LogView) and screen.log_view.display
        assert not screen.chart.display  # narrow: one panel at a time
        await press(pilot, "o")
        assert app.focused is screen.account.orders_table and screen.account.display
        await press(pilot, "m")
        assert isinstance(app.focused, MetricsPanel)
        await press(pilot, "j")
        assert app.focused is screen.table
        await press(pilot, "c", "escape")
        assert app.focused is screen.table


async def test_chart_zoom_scroll_and_equity_keys(make_app: Callable[..., AtsApp]) -> None:
    manager = finished_manager()
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        await run_all(manager)
        screen = main_screen(app)
        chart = screen.chart
        await wait_for(pilot, lambda: chart.job_id is not None)
        await press(pilot, "c")
        await press(pilot, "right_square_bracket", "right_square_bracket")
        assert chart.factor == 4
        await press(pilot, "left_square_bracket")
        assert chart.factor == 2
        await press(pilot, "comma", "comma")
        assert chart.bars_back > 0
        back = chart.bars_back
        await press(pilot, "full_stop")
        assert 0 < chart.bars_back < back
        await press(pilot, "end")
        assert chart.bars_back == 0
        redraws = chart.redraws
        await press(pilot, "g")
        assert chart.mode == "equity" and chart.redraws > redraws
        await wait_for(pilot, lambda: chart.message is None)
        await press(pilot, "g")
        assert chart.mode == "candles"


async def test_log_level_and_filter_keys(make_app: Callable[..., AtsApp]) -> None:
    manager = finished_manager()
    job = manager.jobs[0]
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        job.log("INFO", "hello world")
        job.log("WARNING", "careful now")
        job.log("ERROR", "it broke")
        screen = main_screen(app)
        log = screen.log_view
        await wait_for(pilot, lambda: len(log.lines) >= 3)
        await press(pilot, "l", "v")
        assert log.min_level == "INFO"
        await press(pilot, "v")
        assert log.min_level == "WARNING"
        assert [str(line.text) for line in log.lines][-2:] == [
            "12:00:00 WARNING careful now",
            "12:00:00 ERROR   it broke",
        ]
        await press(pilot, "v", "v")
        assert log.min_level == "DEBUG"

        await press(pilot, "slash")
        await type_text(pilot, "broke")
        assert log.filter_text == "broke"
        assert [str(line.text) for line in log.lines] == ["12:00:00 ERROR   it broke"]
        await press(pilot, "enter")
        assert app.focused is log and log.filter_text == "broke"
        await press(pilot, "slash", "escape")
        assert log.filter_text == ""
        assert len(log.lines) >= 3


async def test_filter_from_jobs_table_filters_jobs(make_app: Callable[..., AtsApp]) -> None:
    app = make_app(finished_manager("btc-fast", "btc-slow", "eth-swing"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 3)
        await press(pilot, "slash")
        await type_text(pilot, "swing")
        assert screen.table.row_count == 1
        await press(pilot, "enter")
        assert screen.table.has_focus
        await press(pilot, "slash", "escape")
        assert screen.table.row_count == 3


async def test_theme_key_cycles_and_persists(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    app = make_app(finished_manager())
    async with app.run_test() as pilot:
        first = app.theme
        assert first == "ats-dark"
        assert {"ats-dark", "ats-light", "ats-high-contrast"} <= set(app.available_themes)
        await press(pilot, "t")
        second = app.theme
        assert second != first and second in app.ats_themes
    saved = tmp_path / "ui.json"
    assert json.loads(saved.read_text()) == {"theme": second}
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    again = make_app(finished_manager())
    async with again.run_test():
        assert again.theme == second


async def test_help_screen_lists_every_key(make_app: Callable[..., AtsApp]) -> None:
    app = make_app(finished_manager())
    async with app.run_test(size=(120, 60)) as pilot:
        await press(pilot, "question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.05)
        text = " ".join(screen_text(app).split())
        for spec in (*MAIN_KEYS, *CHART_KEYS, *LOG_KEYS):
            assert f"{spec.label} {spec.help}" in text, spec
        await press(pilot, "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_footer_at_80x24_keeps_to_two_rows_with_the_keys_a_new_user_needs_first(
    make_app: Callable[..., AtsApp],
) -> None:
    """``h`` (Trades) was not in the footer at all, and a focused chart or log made it three
    rows; the keys left out now are spare ones (FOOTER_SPARE), the first ones first."""
    app = make_app(finished_manager())
    async with app.run_test(size=(80, 24)) as pilot:
        footer = app.screen.query_one(KeyFooter)
        first = {"New", "Start/Stop", "Chart", "Log", "Trades", "Help", "Quit", "Palette"}
        spare = {spec.short for spec in MAIN_KEYS if spec.action in FOOTER_SPARE}
        for key, focused_keys in (("j", ()), ("c", CHART_KEYS), ("l", LOG_KEYS), ("h", ())):
            await press(pilot, key)
            await pilot.pause(0.05)
            shown = [label for _key, label in footer.shown]
            assert footer.size.height == 2, (key, shown)
            assert first | {spec.short for spec in focused_keys} <= set(shown), key
            offered = [label for _key, label in footer.keys]
            left_out = [label for label in offered if label not in shown]
            assert set(left_out) <= spare, key
            ranks = [FOOTER_SPARE.index(spec.action) for spec in MAIN_KEYS
                     if spec.short in left_out]  # fmt: skip
            assert sorted(ranks) == list(range(len(ranks))), (key, left_out)
        lines = screen_text(app).splitlines()
        assert "hTrades" in lines[-1] + lines[-2] and "?Help" in lines[-1]


async def test_footer_shows_every_key_when_there_is_room(make_app: Callable[..., AtsApp]) -> None:
    app = make_app(finished_manager())
    async with app.run_test(size=(160, 48)) as pilot:
        footer = app.screen.query_one(KeyFooter)
        for key in ("j", "c", "l"):
            await press(pilot, key)
            await pilot.pause(0.05)
            assert footer.shown == footer.keys
        assert {spec.short for spec in MAIN_KEYS if spec.show} <= {
            label for _key, label in footer.shown
        }


async def test_command_palette_offers_every_command(make_app: Callable[..., AtsApp]) -> None:
    manager = finished_manager("alpha", "beta")
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        titles = {command.title for command in palette_commands(screen)}
        actions = [spec for spec in (*MAIN_KEYS, *CHART_KEYS, *LOG_KEYS) if spec.palette]
        assert len(titles) >= len(actions) + len(app.ats_themes) + 2
        assert {"New job", "Start / stop job", "Delete job", "Select job: beta"} <= titles
        assert "Theme: ats-high-contrast" in titles

        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await palette_search(pilot, "select job beta", "Select job: beta")
        await press(pilot, "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: screen.selected_job_id == manager.jobs[1].id)


async def test_speed_keys_change_a_replay_jobs_pace(make_app: Callable[..., AtsApp]) -> None:
    manager = finished_manager()
    backtest = manager.jobs[0]
    replay = manager.create(replay_config("replay", speed=20.0))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.selected_job_id == backtest.id)
        await press(pilot, "plus")  # a backtest has no pace: a warning, nothing else
        await press(pilot, "down", "s")
        await wait_for(pilot, lambda: screen.selected_job_id == replay.id)
        assert replay.status is JobStatus.RUNNING
        await press(pilot, "plus")
        assert getattr(replay.exchange, "speed", None) == 40.0
        await press(pilot, "minus", "minus")
        assert getattr(replay.exchange, "speed", None) == 10.0
        await wait_for(pilot, lambda: "paper x10" in str(screen.table.get_row(replay.id)))
        await press(pilot, "s")
        await wait_for(pilot, lambda: not replay.status.is_active)


async def test_quit_stops_jobs_then_runs_the_hook(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="long", data=long_data))
    seen: list[Any] = []

    async def on_quit() -> None:
        seen.append(job.status)

    app = make_app(manager, on_quit=on_quit)
    async with app.run_test() as pilot:
        await press(pilot, "s")
        assert job.status is JobStatus.RUNNING
        await press(pilot, "q")
        await wait_for(pilot, lambda: bool(seen))
    assert seen == [JobStatus.STOPPED]
    assert app.return_code == 0


async def test_ctrl_q_quits_gracefully_too(make_app: Callable[..., AtsApp]) -> None:
    called: list[bool] = []

    async def on_quit() -> None:
        called.append(True)

    app = make_app(finished_manager(), on_quit=on_quit)
    async with app.run_test() as pilot:
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: bool(called))
    assert app.return_code == 0


async def test_quit_hook_failure_exits_non_zero(make_app: Callable[..., AtsApp]) -> None:
    async def on_quit() -> None:
        raise OSError("disk full")

    app = make_app(finished_manager(), on_quit=on_quit)
    async with app.run_test() as pilot:
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.return_code is not None, timeout=15)  # hook ran
    assert app.return_code == 1


async def test_table_rows_follow_jobs(make_app: Callable[..., AtsApp]) -> None:
    manager = finished_manager("alpha")
    app = make_app(manager)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = main_screen(app)
        table = screen.table
        assert screen.table.visible_columns[:3] == ["name", "strategy", "market"]
        await run_all(manager)
        job = manager.jobs[0]
        await wait_for(pilot, lambda: "finished" in str(table.get_row(job.id)))
        row = [str(cell) for cell in table.get_row(job.id)]
        assert row[:5] == ["alpha", "sma_cross", "BTC/USDT 3s", "backtest", "finished"]
        assert row[5] == "100%"
        assert row[6] == "9,620.99" and row[7] == "-379.01" and row[8] == "-3.79"
        assert row[9].endswith("BTC")
        second = manager.create(backtest_config(name="beta"))
        await wait_for(pilot, lambda: table.row_count == 2)
        await press(pilot, "down")
        await wait_for(pilot, lambda: screen.selected_job_id == second.id)
