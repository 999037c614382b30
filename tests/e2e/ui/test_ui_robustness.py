"""Robustness: job errors stay in their row and log, broken views and theme files do not
take the console down, resize, SIGHUP, demo jobs on first start, and exit codes."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from ui_helpers import press, wait_for

from ats.trading_job import view_builder
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.ui import app as app_module
from ats.ui.app import AtsApp, run_console
from ats.ui.screens.main import MainScreen
from ats.ui.settings import UISettings
from ats.ui.themes import BUNDLED_THEMES, load_themes


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_job_error_shows_in_its_row_and_log(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("time,open,high,low,close,volume\n")
    manager = JobManager()
    job = manager.create(backtest_config(name="broken", data=empty))
    app = make_app(manager)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = main_screen(app)
        await press(pilot, "s")
        await wait_for(pilot, lambda: job.status is JobStatus.ERROR)
        assert job.error
        # the status cell: the row's message (the file's path, under this test's
        # tmp_path named "...error...") shows before the status does
        await wait_for(pilot, lambda: str(screen.table.get_row(job.id)[4]) == "error", 15)
        row = [str(cell) for cell in screen.table.get_row(job.id)]
        assert row[4] == "error" and job.error in row[-1]
        await wait_for(
            pilot, lambda: any("ERROR" in str(line.text) for line in screen.log_view.lines)
        )
        # and the console is still fully usable
        await press(pilot, "c", "j", "question_mark")
        assert app.is_running


async def test_a_failing_chart_view_does_not_crash_the_console(
    make_app: Callable[..., AtsApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="alpha"))

    def broken(job: Any, size: int = 200, back: int = 0) -> Any:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(view_builder, "candle_window", broken)
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        manager.start(job.id)
        await manager.wait(job.id)
        await wait_for(pilot, lambda: "engine bug" in (screen.chart.message or ""))
        await press(pilot, "c", "right_square_bracket", "g", "g")
        assert app.is_running and app.return_code is None


async def test_a_failing_refresh_keeps_the_event_pump_alive(
    make_app: Callable[..., AtsApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="alpha"))
    app = make_app(manager)
    async with app.run_test() as pilot:
        screen = main_screen(app)
        original = screen.table.update_row
        failures: list[int] = []

        def flaky(row: Any) -> None:
            if not failures:
                failures.append(1)
                raise ValueError("boom")
            original(row)

        monkeypatch.setattr(screen.table, "update_row", flaky)
        manager.start(job.id)
        await manager.wait(job.id)
        await wait_for(pilot, lambda: bool(failures))
        # the failed batch is made good by a full resync, without any new event
        await wait_for(pilot, lambda: "finished" in str(screen.table.get_row(job.id)))
        assert app.is_running


async def test_resize_switches_between_wide_and_narrow_layouts(
    make_app: Callable[..., AtsApp],
) -> None:
    manager = JobManager()
    manager.create(backtest_config(name="alpha"))
    app = make_app(manager)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = main_screen(app)
        assert not screen.narrow
        assert "strategy" in screen.table.visible_columns
        assert screen.chart.display and screen.log_view.display and screen.metrics.display
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: screen.narrow and not screen.log_view.display)
        assert screen.narrow
        assert "strategy" not in screen.table.visible_columns
        assert screen.chart.display and not screen.log_view.display
        await pilot.resize_terminal(200, 60)
        await wait_for(pilot, lambda: not screen.narrow and screen.log_view.display)
        assert not screen.narrow and screen.log_view.display
        assert screen.table.row_count == 1


async def test_first_start_creates_the_demo_jobs(tmp_path: Path) -> None:
    manager = JobManager()
    app = AtsApp(manager, settings_path=tmp_path / "ui.json", theme_dirs=[BUNDLED_THEMES])
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: len(manager) == 2)
        backtest, replay = manager.jobs
        assert backtest.config.strategy.name == "sma_cross"
        assert backtest.mode == "backtest" and replay.mode == "paper"
        assert replay.config.exchange.params["feed"] == "replay"
        assert replay.config.exchange.params["data"] == backtest.config.exchange.params["data"]
        await wait_for(pilot, lambda: backtest.status is JobStatus.FINISHED)
        assert replay.status is JobStatus.CREATED


async def test_no_demo_when_jobs_exist(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    manager.create(backtest_config(name="mine"))
    app = make_app(manager, demo=True)
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        assert [job.config.name for job in manager.jobs] == ["mine"]


async def test_sighup_quits_gracefully_with_on_hangup_stop(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    """``--on-hangup stop``: a hang-up quits as before (the default keeps the jobs
    running headless: test_ui_hangup.py)."""
    manager = JobManager()
    job = manager.create(backtest_config(name="long", data=long_data))
    saved: list[JobStatus] = []

    async def on_quit() -> None:
        saved.append(job.status)

    app = make_app(manager, on_quit=on_quit, handle_signals=True, on_hangup="stop")
    async with app.run_test() as pilot:
        await press(pilot, "s")
        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(pilot, lambda: bool(saved))
    assert saved == [JobStatus.STOPPED]
    assert app.return_code == 0


def test_run_console_returns_non_zero_on_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(self: AtsApp, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("widget exploded")

    monkeypatch.setattr(app_module.AtsApp, "run", crash)
    assert run_console(JobManager(), settings_path=None) == 1

    def failed(self: AtsApp, *args: Any, **kwargs: Any) -> None:
        self._return_code = 1  # what Textual sets after an unhandled exception

    monkeypatch.setattr(app_module.AtsApp, "run", failed)
    assert run_console(JobManager(), settings_path=None) == 1

    def clean(self: AtsApp, *args: Any, **kwargs: Any) -> int:
        return 0

    monkeypatch.setattr(app_module.AtsApp, "run", clean)
    assert run_console(JobManager(), settings_path=None) == 0


async def test_an_exception_in_a_widget_exits_with_code_1(
    make_app: Callable[..., AtsApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Textual restores the terminal and records the failure; run_console returns it."""
    app = make_app(JobManager())

    def explode(self: object) -> None:
        raise RuntimeError("render bug")

    with pytest.raises(RuntimeError, match="render bug"):
        async with app.run_test() as pilot:
            monkeypatch.setattr(MainScreen, "action_help", explode)
            await press(pilot, "question_mark")
    assert app.return_code == 1


def test_bad_settings_and_theme_files_fall_back(tmp_path: Path) -> None:
    settings = tmp_path / "ui.json"
    settings.write_text("{not json")
    assert UISettings.load(settings) == UISettings()
    settings.write_text('{"theme": "no-such-theme"}')
    app = AtsApp(JobManager(), demo=False, settings_path=settings, theme_dirs=[BUNDLED_THEMES])
    assert app.theme == "ats-dark"

    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "good.toml").write_text('name = "good"\nprimary = "#123456"\n')
    (themes / "bad.toml").write_text('name = "bad"\nprimary = "not-a-colour"\n')
    (themes / "worse.toml").write_text("name = [unclosed\n")
    loaded = load_themes([themes])
    assert loaded.names == ["good"]
    assert len(loaded.errors) == 2
    assert any("bad.toml: primary" in error for error in loaded.errors)
    app = AtsApp(JobManager(), demo=False, settings_path=None, theme_dirs=[themes])
    assert "good" in app.available_themes and app.theme_errors


def test_shipped_themes_include_a_high_contrast_one() -> None:
    loaded = load_themes([BUNDLED_THEMES])
    assert not loaded.errors
    assert len(loaded.themes) >= 2
    contrast = next(theme for theme in loaded.themes if "contrast" in theme.name)
    assert contrast.background == "#000000" and contrast.foreground == "#ffffff"


async def test_persistence_hooks_run_in_order(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    """on_start restores jobs before the demo check; on quit, before_stop sees the jobs
    still running (so a persistence layer can mark them to resume), on_quit sees them
    stopped."""
    manager = JobManager()
    calls: list[tuple[str, Any]] = []

    async def on_start() -> None:
        job = manager.create(backtest_config(name="restored", data=long_data))
        manager.start(job.id)
        calls.append(("start", len(manager)))

    def before_stop() -> None:
        calls.append(("before_stop", [str(job.status) for job in manager.jobs]))

    async def on_quit() -> None:
        calls.append(("quit", [str(job.status) for job in manager.jobs]))

    app = make_app(manager, demo=True, on_start=on_start, before_stop=before_stop, on_quit=on_quit)
    async with app.run_test() as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 1)
        assert [job.config.name for job in manager.jobs] == ["restored"]  # no demo added
        await press(pilot, "q")
        await wait_for(pilot, lambda: len(calls) == 3)
    assert calls == [("start", 1), ("before_stop", ["running"]), ("quit", ["stopped"])]
