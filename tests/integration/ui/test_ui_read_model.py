"""The console works from the read model alone: driven through a JobControl whose every
answer crosses as JSON (as it will through the control API for ``ats attach``), it shows
what it shows in process; a view that fails shows a marker, not a blank pane."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import pytest
from job_configs import backtest_config
from pydantic import BaseModel
from ui_helpers import press, screen_text, settled, wait_for

from ats.trading_job.events import JobProgress
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.views import VIEW_TYPES, from_json, to_json
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen


def _through_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_through_json(item) for item in value]
    if isinstance(value, BaseModel):
        return type(value).model_validate_json(value.model_dump_json())
    if isinstance(value, VIEW_TYPES):
        return from_json(type(value), to_json(value))
    assert value is None or isinstance(value, str | int | float), type(value)
    return value


class JsonControl:
    """A JobControl whose answers are all read back from their JSON."""

    def __init__(self, inner: LocalJobControl) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(method):
            return method  # watch and hold_foreground: not answers

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return _through_json(await method(*args, **kwargs))

        return call


def main_screen(app: AtsApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen)
    return app.screen


async def _shown(app: AtsApp, job_id: str, pilot: Any) -> dict[str, Any]:
    screen = main_screen(app)
    await wait_for(pilot, lambda: "finished" in str(screen.table.get_row(job_id)))
    await wait_for(pilot, lambda: screen.chart.message is None)
    await wait_for(pilot, lambda: str(screen.metrics.border_subtitle).startswith("Report"))
    await wait_for(pilot, lambda: len(screen.log_view.lines) > 1)
    await settled(pilot)  # the panels' next refresh (4 Hz) shows the final state
    return {"row": screen.table.get_row(job_id), "screen": screen_text(app)}


async def _run_one(app: AtsApp, manager: JobManager, job_id: str) -> dict[str, Any]:
    async with app.run_test(size=(160, 48)) as pilot:
        manager.start(job_id)
        await manager.wait(job_id)
        shown = await _shown(app, job_id, pilot)
        chart = main_screen(app).chart
        await press(pilot, "g")  # the equity curve, through the control too
        await wait_for(pilot, lambda: chart.mode == "equity" and chart.message is None)
    return shown


async def test_the_console_shows_the_same_through_json(make_app: Callable[..., AtsApp]) -> None:
    seen = []
    for through_json in (False, True):
        manager = JobManager()
        job = manager.create(backtest_config(name="same"))
        app = make_app(manager)
        control = JsonControl(LocalJobControl(manager))
        if through_json:
            app.control = control  # type: ignore[assignment]
        seen.append(await _run_one(app, manager, job.id))
    assert seen[0] == seen[1]
    assert {"jobs", "job", "views", "chart_window", "equity_curve", "logs"} <= set(control.calls)


async def test_a_failing_account_view_shows_a_marker_and_is_logged_once(
    make_app: Callable[..., AtsApp], caplog: pytest.LogCaptureFixture
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="alpha"))
    assert job.exchange is not None

    def broken() -> Any:
        raise RuntimeError("wallet bug")

    job.exchange.get_balances = broken  # type: ignore[method-assign]
    app = make_app(manager)
    with caplog.at_level(logging.WARNING, logger="ats.trading_job.view_builder"):
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: "wallet bug" in screen_text(app))
            assert "⚠ account failed: RuntimeError: wallet bug, see" in screen_text(app)
            applied = main_screen(app).applied
            for count in range(1, 4):  # the row is rebuilt from a new view each time
                manager.bus.publish(JobProgress(job.id, 0, None, 0.0, None))
                await wait_for(pilot, lambda n=count: main_screen(app).applied >= applied + n)
            assert main_screen(app).applied >= applied + 3 and app.is_running
    logged = [r for r in caplog.records if "wallet bug" in r.getMessage()]
    assert len(logged) == 1 and job.id in logged[0].getMessage()
