"""Acceptance 2: create, start, pause, reload, stop, edit and delete a job from the
keyboard alone, through the real JobManager and a real back_trading job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from job_configs import backtest_config
from textual.widgets import Input, Label, Select
from ui_helpers import add_job_by_form, focus_on, press, type_text, wait_for

from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.confirm import ConfirmScreen
from ats.ui.screens.job_form import JobFormScreen
from ats.ui.screens.main import MainScreen


async def test_create_start_pause_reload_stop_delete_from_keyboard(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    manager = JobManager()
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        # n: the form opens with the name focused; replace it and point it at 1M candles.
        await add_job_by_form(pilot, "keyboard-job", long_data)
        (job,) = manager.jobs
        assert job.config.name == "keyboard-job"
        assert job.config.exchange.params["data"] == str(long_data)
        assert job.status is JobStatus.CREATED
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)

        await press(pilot, "s")
        assert job.status is JobStatus.RUNNING
        exchange = job.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: exchange.progress.done > 0)  # data loaded, replaying
        await press(pilot, "p")
        assert job.status is JobStatus.PAUSED
        await pilot.pause(0.05)  # the chunk in flight finishes, then the loop holds
        done = exchange.progress.done
        await pilot.pause(0.2)
        assert exchange.progress.done == done < 1_000_000  # really paused
        await press(pilot, "r")
        assert any("reloaded" in entry.message for entry in job.logs)
        await press(pilot, "p")
        assert job.status is JobStatus.RUNNING
        await press(pilot, "s")
        await wait_for(pilot, lambda: job.status is JobStatus.STOPPED)
        assert job.exchange is not None and 0 < job.exchange.progress.done < 1_000_000
        await wait_for(pilot, lambda: "stopped" in str(screen.table.get_row(job.id)))

        await press(pilot, "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await press(pilot, "y")
        await wait_for(pilot, lambda: len(manager) == 0)
        await wait_for(pilot, lambda: screen.table.row_count == 0)


async def test_delete_asks_first_and_n_keeps_the_job(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="keep-me"))
    app = make_app(manager)
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        await press(pilot, "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert manager.get(job.id) is job


async def test_edit_changes_a_stopped_job_and_refuses_a_running_one(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="editable", data=long_data))
    app = make_app(manager)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.1)
        await press(pilot, "e")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen)
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        assert form.query_one("#f-name", Input).value == "editable"
        slow = next(w for w in form.query(".param-input").results(Input) if w.id.endswith("slow"))
        assert slow.value == "200"
        await focus_on(pilot, slow)
        await press(pilot, "ctrl+u")
        await type_text(pilot, "120")
        await press(pilot, "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        edited = manager.get(job.id)
        assert edited.config.strategy.params == {"fast": 50, "slow": 120}

        await press(pilot, "s")
        assert edited.status is JobStatus.RUNNING
        await press(pilot, "e")
        assert isinstance(app.screen, MainScreen)  # running jobs are not edited
        await press(pilot, "s")
        await wait_for(pilot, lambda: not edited.status.is_active)


async def test_form_shows_validation_errors_inline(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    app = make_app(manager)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.1)
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen)
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        fast = next(w for w in form.query(".param-input").results(Input) if w.id.endswith("fast"))
        await focus_on(pilot, fast)
        await type_text(pilot, "abc")
        await focus_on(pilot, form.query_one("#f-cash", Input))
        await press(pilot, "ctrl+u")
        await type_text(pilot, "lots")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, JobFormScreen)
        assert len(manager) == 0
        assert "cash" in form.errors and "lots" in form.errors["cash"]
        cash_error = form.query_one("#error-cash", Label)
        assert cash_error.display and "lots" in str(cash_error.render())

        await focus_on(pilot, form.query_one("#f-cash", Input))
        await press(pilot, "ctrl+u")
        await type_text(pilot, "5000")
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, JobFormScreen)
        (field,) = form.errors
        assert field == "param:fast"
        assert "integer" in form.errors[field]

        await focus_on(pilot, fast)
        await press(pilot, "ctrl+u")
        await type_text(pilot, "40")
        # slow defaults to 30 < fast: the strategy's own cross-field check fires.
        await press(pilot, "ctrl+s")
        assert isinstance(app.screen, JobFormScreen)
        assert "smaller than slow" in " ".join(form.errors.values())

        await press(pilot, "ctrl+u")
        await type_text(pilot, "5")
        await press(pilot, "ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        (job,) = manager.jobs
        assert job.config.strategy.params == {"fast": 5}
        assert job.config.balances == {"USDT": 5000.0}


async def test_form_escape_cancels(make_app: Callable[..., AtsApp]) -> None:
    manager = JobManager()
    app = make_app(manager)
    async with app.run_test() as pilot:
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        await press(pilot, "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        assert len(manager) == 0


async def test_form_lists_builtin_and_custom_strategies(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    from ats.utils.plugins import PluginLoader

    custom = tmp_path / "custom_modules" / "strategies"
    (custom / "broken_one").mkdir(parents=True)
    (custom / "broken_one" / "strategy.py").write_text("def broken(:\n")
    manager = JobManager(loader=PluginLoader(tmp_path / "custom_modules"))
    app = make_app(manager)
    async with app.run_test(size=(100, 30)) as pilot:
        await press(pilot, "n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
        form = app.screen
        assert isinstance(form, JobFormScreen)
        await wait_for(pilot, lambda: len(form.query(".param-input")) == 3)
        select = form.query_one("#f-strategy", Select)
        options = {value: str(label) for label, value in select._options}
        assert {"sma_cross", "buy_and_hold", "rsi_reversion", "broken_one"} <= set(options)
        assert "custom" in options["broken_one"] and "broken" in options["broken_one"]
        await wait_for(pilot, lambda: bool(select.query("#label")))  # fully mounted
        select.value = "broken_one"
        await pilot.pause(0.1)
        await press(pilot, "ctrl+s")
        assert "syntax error" in form.errors.get("strategy", "")
        assert len(manager) == 0
