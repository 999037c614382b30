"""The console tells the trader what is going on (issue 10): screenshots, metrics, the
header, the log and the keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from job_configs import backtest_config
from textual import events
from ui_helpers import press, screen_text, type_text, wait_for

from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def test_screenshot_is_saved_under_the_state_directory(
    make_app: Callable[..., AtsApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug 7: with no ~/Downloads the palette's Screenshot failed; now it lands in the
    state directory and the toast says where."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    state = tmp_path / "state"
    app = make_app(settings_path=state / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        app.deliver_screenshot()
        shots = state / "screenshots"
        await wait_for(pilot, lambda: shots.is_dir() and any(shots.glob("*.svg")))
        saved = next(shots.glob("*.svg"))
        await wait_for(pilot, lambda: any(str(saved) in n.message for n in app._notifications))
        assert not any(n.severity == "error" for n in app._notifications)
        assert "<svg" in saved.read_text(encoding="utf-8")[:500]


async def test_long_log_lines_wrap_at_80_columns(make_app: Callable[..., AtsApp]) -> None:
    """Bug 9: a log line longer than the pane was cut (``...+00:0``); now it wraps."""
    manager = JobManager()
    job = manager.create(backtest_config(name="wrap"))
    app = make_app(manager)
    async with app.run_test(size=(80, 24)) as pilot:
        message = "restored from snapshot saved at 2026-12-07T06:34:44.218+00:00 (the end)"
        job.log("INFO", message)
        await press(pilot, "l")
        await wait_for(pilot, lambda: "(the end)" in screen_text(app))
        text = screen_text(app)
        assert "+00:00" in text and "(the end)" in text


async def test_keys_arriving_in_one_write_are_not_lost(make_app: Callable[..., AtsApp]) -> None:
    """Bug 6: ``j`` and Up in one write (as over ssh) left the cursor where it was: the
    focus moved a loop turn after ``j``, so Up went to the log."""
    manager = JobManager()
    for name in ("one", "two", "three"):
        manager.create(backtest_config(name=name))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 3)
        await press(pilot, "down", "down")
        assert screen.table.cursor_row == 2
        await press(pilot, "l")
        assert app.focused is screen.log_view
        for key in ("j", "up"):  # one burst: no loop turn between the two
            app.post_message(events.Key(key, key if key == "j" else None))
        await wait_for(pilot, lambda: screen.table.cursor_row == 1)
        assert app.focused is screen.table


async def test_w_shows_only_warnings_and_errors(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="levels"))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        job.log("INFO", "order 1 placed: buy market 0.1 BTC")
        job.log("WARNING", "order 2 rejected: buy market 9 BTC: insufficient USDT")
        job.log("ERROR", "it broke")
        log = main_screen(app).log_view
        await wait_for(pilot, lambda: len(log.lines) >= 3)
        await press(pilot, "l", "w")
        assert [str(line.text)[17:] for line in log.lines] == [
            "order 2 rejected: buy market 9 BTC: insufficient USDT",
            "it broke",
        ]
        await press(pilot, "w")
        assert len(log.lines) >= 3


async def test_80_columns_keep_the_name_and_show_absolute_pnl(
    make_app: Callable[..., AtsApp],
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="demo-sma-cross"))
    app = make_app(manager)
    async with app.run_test(size=(80, 24)) as pilot:
        manager.start(job.id)
        await manager.wait(job.id)
        table = main_screen(app).table
        await wait_for(pilot, lambda: "finished" in str(table.get_row(job.id)))
        row = [str(cell) for cell in table.get_row(job.id)]
        assert "demo-sma-cross" in row and "-379.01" in row and "-3.79" in row
        await wait_for(pilot, lambda: "demo-sma-cross  " in screen_text(app))


async def test_form_and_dialogs_show_their_own_keys(make_app: Callable[..., AtsApp]) -> None:
    from ats.ui.screens.confirm import ConfirmScreen
    from ats.ui.screens.job_form import JobFormScreen
    from ats.ui.widgets.key_footer import KeyFooter

    manager = JobManager()
    manager.create(backtest_config(name="keys"))
    app = make_app(manager)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 1)
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form_keys = app.screen.query_one(KeyFooter).keys
        assert ("^s", "Save") in form_keys and ("esc", "Cancel") in form_keys
        assert not any(label == "Delete" for _key, label in form_keys)
        await press(pilot, "escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await press(pilot, "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        dialog_keys = [label for _key, label in app.screen.query_one(KeyFooter).keys]
        assert "Yes" in dialog_keys and "No" in dialog_keys and "New" not in dialog_keys


async def test_palette_matches_descriptions(make_app: Callable[..., AtsApp]) -> None:
    from textual.command import CommandList, CommandPalette

    app = make_app(JobManager())
    async with app.run_test(size=(120, 40)) as pilot:
        await press(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await type_text(pilot, "speed")

        def found() -> list[str]:
            options = app.screen.query_one(CommandList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        # the search has replaced the full list (which holds every command)
        await wait_for(pilot, lambda: not any("New job" in text for text in found()))
        # the hits come in batches (a slow machine shows the first ones after 0.25 s)
        await wait_for(
            pilot,
            lambda: (
                any("Replay faster" in t for t in found())
                and any("Replay slower" in t for t in found())
            ),
            timeout=15,
        )
        assert any("Replay faster" in text for text in found()), found()
        assert any("Replay slower" in text for text in found())


async def test_esc_clears_a_kept_filter(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    for name in ("btc-fast", "eth-swing"):
        manager.create(backtest_config(name=name))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 2)
        await press(pilot, "slash")
        await type_text(pilot, "swing")
        await press(pilot, "enter")  # the filter is kept, the prompt closes
        assert screen.table.filter_text == "swing" and app.focused is screen.table
        await press(pilot, "escape")
        assert screen.table.filter_text == ""
        await press(pilot, "l", "slash")
        await type_text(pilot, "nothing")
        await press(pilot, "enter")
        assert screen.log_view.filter_text == "nothing"
        await press(pilot, "escape")
        assert screen.log_view.filter_text == "" and app.focused is screen.log_view
        await press(pilot, "escape")
        assert app.focused is screen.table


async def test_the_filter_prompt_shows_at_once_at_80x24(make_app: Callable[..., AtsApp]) -> None:
    """The prompt was docked under the footer: typing went into an invisible field."""
    manager = JobManager()
    manager.create(backtest_config(name="prompt"))
    app = make_app(manager)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = main_screen(app)
        await wait_for(pilot, lambda: screen.table.row_count == 1)
        await press(pilot, "l", "slash")
        await type_text(pilot, "fill")
        await wait_for(pilot, lambda: "filter log:" in screen_text(app))
        assert "fill" in screen_text(app).split("filter log:")[1]
