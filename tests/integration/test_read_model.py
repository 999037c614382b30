"""The read model and JobControl: views are plain data with a JSON schema, built in the
engine, and the in-process control answers queries and commands by job id."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any

import pytest
from job_configs import backtest_config

from ats.exceptions import ConfigError, JobError
from ats.trading_job import view_builder
from ats.trading_job.control import JobControl
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.status import JobStatus
from ats.trading_job.views import (
    VIEW_TYPES,
    ChartWindow,
    EquityCurve,
    FillPage,
    JobView,
    LogPage,
    TradePage,
    from_json,
    json_schema,
    to_json,
)


def _replay(speed: float = 0.0, name: str = "replay") -> Any:
    from ats.demo import DEMO_DATA

    return parse_job_config(
        {
            "name": name,
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": speed},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
    )


@pytest.fixture
async def finished() -> tuple[JobManager, LocalJobControl, str]:
    manager = JobManager()
    control = LocalJobControl(manager)
    job_id = await control.create(backtest_config(name="views"))
    await control.start(job_id)
    await manager.wait(job_id)
    return manager, control, job_id


def test_every_view_has_a_json_schema() -> None:
    for kind in VIEW_TYPES:
        schema = json_schema(kind)
        assert schema["type"] == "object" and schema["properties"], kind
    status = json_schema(JobView)["$defs"]["JobStatus"]
    assert set(status["enum"]) == {str(status) for status in JobStatus}


async def test_views_survive_json_as_they_are(finished: Any) -> None:
    """What the control API will send is what the console draws: each view read back
    from its JSON equals the view (NaN, a warming-up indicator, comes back as None)."""
    _manager, control, job_id = finished
    view = await control.job(job_id)
    assert view.status is JobStatus.FINISHED and view.metrics and view.fill_count
    assert from_json(JobView, to_json(view)) == view
    assert json.loads(to_json(view))["status"] == "finished"

    window = await control.chart_window(job_id, bars=60, factor=4)
    back = from_json(ChartWindow, to_json(window))
    assert len(back) == 60 and back.timestamps == window.timestamps
    assert back.high == window.high and back.buys == window.buys
    assert [info.indicator for info in back.overlay_info] == ["sma", "sma"]

    total = view.progress.total
    assert total is not None
    start = await control.chart_window(job_id, bars=300, offset=total - 300)  # the file's start
    warming = next(iter(start.overlays.values()))
    assert math.isnan(warming[0])  # not enough candles yet for the slow SMA
    assert from_json(ChartWindow, to_json(start)).overlays[next(iter(start.overlays))][0] is None

    curve = await control.equity_curve(job_id, points=50)
    assert from_json(EquityCurve, to_json(curve)) == curve and curve.initial_equity == 10_000
    trades = await control.trades(job_id, limit=5)
    assert from_json(TradePage, to_json(trades)) == trades
    fills = await control.fills(job_id, offset=2, limit=3)
    assert from_json(FillPage, to_json(fills)) == fills
    logs = await control.logs(job_id)
    assert from_json(LogPage, to_json(logs)) == logs


async def test_pages_are_newest_first(finished: Any) -> None:
    manager, control, job_id = finished
    exchange = manager.get(job_id).exchange
    trades = exchange.get_trades()
    page = await control.trades(job_id, offset=1, limit=2)
    assert page.total == len(trades) > 3
    assert [t.entry_time for t in page.trades] == [t.entry_time for t in trades[-2:-4:-1]]
    fills = await control.fills(job_id, limit=1000)
    assert len(fills.fills) == fills.total == exchange.fill_count()
    assert fills.fills[0].timestamp >= fills.fills[-1].timestamp


async def test_log_pages_follow_the_bounded_log() -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="chatty"))
    job.logs = type(job.logs)(job.logs, maxlen=5)
    for i in range(3):
        job.log("INFO", f"line {i}")
    control = LocalJobControl(manager)
    first = await control.logs(job.id)
    last = first.lines[-1].seq
    assert [line.message for line in first.lines][-3:] == ["line 0", "line 1", "line 2"]
    job.log("WARNING", "one more")
    page = await control.logs(job.id, after=last)
    assert [(line.seq, line.message) for line in page.lines] == [(last + 1, "one more")]
    assert not page.gap and page.next_seq == last + 2
    for i in range(6):  # line ``last`` rotates out of the 5 kept
        job.log("INFO", f"flood {i}")
    assert (await control.logs(job.id, after=last)).gap


async def test_commands_go_by_job_id_and_errors_are_one_line() -> None:
    manager = JobManager()
    control: JobControl = LocalJobControl(manager)
    job_id = await control.create(_replay(speed=50.0))
    assert await control.job_ids() == [job_id]
    await control.start(job_id)
    assert (await control.job(job_id)).status is JobStatus.RUNNING
    assert await control.set_speed(job_id, 80.0) == 80.0
    assert (await control.job(job_id)).speed == 80.0
    await control.toggle_pause(job_id)
    assert (await control.job(job_id)).status is JobStatus.PAUSED
    await control.toggle(job_id)
    await manager.wait(job_id)
    assert (await control.job(job_id)).status is JobStatus.STOPPED
    config = await control.job_config(job_id)
    assert config.name == "replay"
    edited = await control.edit(job_id, config.model_copy(update={"name": "renamed"}))
    assert edited == job_id and (await control.job(job_id)).name == "renamed"
    assert await control.kill_switch() == 0
    await control.delete(job_id)
    assert await control.views([job_id]) == []
    with pytest.raises(JobError, match="no job with id"):
        await control.job(job_id)


async def test_form_queries() -> None:
    from ats.demo import DEMO_DATA

    control = LocalJobControl(JobManager())
    strategies = {plugin.name: plugin for plugin in await control.plugins("strategies")}
    assert strategies["sma_cross"].error is None and not strategies["sma_cross"].custom
    fields = {field.name: field for field in await control.strategy_params("sma_cross")}
    assert set(fields) >= {"fast", "slow"} and fields["fast"].default == 10
    with pytest.raises(ConfigError, match="fast"):
        await control.check_strategy_params("sma_cross", {"fast": "fifty"})
    assert str(DEMO_DATA) in await control.data_files()
    assert await control.check_data_file(str(DEMO_DATA)) is None
    assert "no such file" in (await control.check_data_file("/no/such.csv") or "")


async def test_a_broken_account_is_a_view_error_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="broken-account"))
    assert job.exchange is not None

    def boom() -> Any:
        raise RuntimeError("wallet bug")

    job.exchange.get_balances = boom  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="ats.trading_job.view_builder"):
        views = [view_builder.view_of(job) for _ in range(5)]
    assert views[0].account_error == "RuntimeError: wallet bug" and views[0].position is None
    logged = [r for r in caplog.records if "wallet bug" in r.getMessage()]
    assert len(logged) == 1 and job.id in logged[0].getMessage()
    view_builder.forget_failures(job.id)


def test_views_are_frozen() -> None:
    view = JobView(
        "id", "n", "s", {}, "BTC/USDT", "BTC", "USDT", "paper", None, "paper",
        live=False, built=False, status=JobStatus.CREATED,
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.name = "other"  # type: ignore[misc]
    assert view.market == "BTC/USDT"
