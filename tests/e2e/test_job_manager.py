"""JobManager commands and events through real back_trading and paper (replay) jobs."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from persist_helpers import eventually

from ats.demo import DEMO_DATA, demo_backtest_config
from ats.exceptions import JobError, StateError
from ats.exchanges.data_classes import Order, OrderSide, OrderType
from ats.state.simple_state import SimpleState
from ats.trading_job.events import Filled, JobProgress, JobReport, JobStatusChanged, OrderUpdated
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.trading_job.view_builder import candle_window


def _replay_config(speed: float = 0.0) -> dict:  # type: ignore[type-arg]
    return {
        "name": "replay",
        "exchange": {
            "name": "paper",
            "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": speed},
        },
        "strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 200}},
    }


async def test_lifecycle_events_and_report() -> None:
    manager = JobManager()
    events = manager.bus.subscribe()
    job = manager.create(demo_backtest_config())
    assert job.status is JobStatus.CREATED
    manager.start(job.id)
    await manager.wait(job.id)
    assert job.status is JobStatus.FINISHED
    seen = events.drain()
    statuses = [e.status for e in seen if isinstance(e, JobStatusChanged)]
    assert statuses == ["created", "running", "finished"]
    assert any(isinstance(e, Filled) for e in seen)
    assert any(isinstance(e, OrderUpdated) and e.order.status == "filled" for e in seen)
    assert any(isinstance(e, JobProgress) and e.done == e.total == 10_000 for e in seen)
    reports = [e for e in seen if isinstance(e, JobReport)]
    assert len(reports) == 1 and reports[0].report["metrics"]["num_trades"] == 27
    json.dumps(job.report, allow_nan=False)


async def test_pause_resume_stop_and_restart_continue_from_cursor() -> None:
    manager = JobManager()
    job = manager.create(parse_job_config(_replay_config(speed=2_000.0)))
    manager.start(job.id)
    assert await eventually(lambda: job.exchange.progress.done > 0, 15)  # type: ignore[union-attr]
    manager.pause(job.id)
    assert job.status is JobStatus.PAUSED
    await asyncio.sleep(0.05)
    paused_at = job.exchange.progress.done  # type: ignore[union-attr]
    await asyncio.sleep(0.2)  # a fixed window on purpose: no candle may pass in it
    assert job.exchange.progress.done == paused_at  # type: ignore[union-attr]
    with pytest.raises(JobError):
        manager.pause(job.id)
    manager.toggle_pause(job.id)
    assert job.status is JobStatus.RUNNING
    await eventually(lambda: job.exchange.progress.done > paused_at, 15)  # type: ignore[union-attr]
    assert job.exchange.progress.done > paused_at  # type: ignore[union-attr]
    manager.toggle(job.id)  # stop
    await manager.wait(job.id)
    assert job.status is JobStatus.STOPPED
    stopped_at = job.exchange.progress.done  # type: ignore[union-attr]
    assert 0 < stopped_at < 10_000
    assert manager.set_speed(job.id, 0) == 0
    manager.toggle(job.id)  # start again: continues where it stopped
    await manager.wait(job.id)
    assert job.status is JobStatus.FINISHED
    assert job.exchange.progress.done == 10_000  # type: ignore[union-attr]


async def test_a_paused_job_repeats_no_progress() -> None:
    """Progress is told when it changes: a paused job used to repeat the same one every
    0.2 s, and the console redrew its chart four times a second for nothing."""
    manager = JobManager()
    job = manager.create(parse_job_config(_replay_config(speed=2_000.0)))
    events = manager.bus.subscribe(kinds=(JobProgress,))
    manager.start(job.id)
    assert await eventually(lambda: job.exchange.progress.done > 0, 15)  # type: ignore[union-attr]
    manager.pause(job.id)
    await asyncio.sleep(0.3)  # the progress of the last candles before the pause
    events.drain()
    await asyncio.sleep(1.0)  # a fixed window on purpose: five progress intervals
    assert events.drain() == []
    manager.toggle_pause(job.id)
    assert await eventually(lambda: bool(events.drain()), 15)  # moving again: told again
    manager.toggle(job.id)
    await manager.wait(job.id)


async def test_paper_replay_gives_the_same_trades_as_back_trading() -> None:
    manager = JobManager()
    backtest = manager.create(demo_backtest_config())
    paper = manager.create(parse_job_config(_replay_config(speed=0.0)))
    manager.start(backtest.id)
    manager.start(paper.id)
    await manager.wait_all()
    assert backtest.report and paper.report
    assert backtest.report["trades"] == paper.report["trades"]
    assert paper.report["final_equity"] == pytest.approx(backtest.report["final_equity"], rel=1e-12)
    window = candle_window(paper, 100)
    assert len(window.close) == 100 and "sma(50)" in window.overlays
    assert not math.isnan(window.overlays["sma(200)"][-1])


async def test_reload_keeps_state_and_delete_removes() -> None:
    manager = JobManager()
    job = manager.create(parse_job_config(_replay_config(speed=500.0)))
    manager.start(job.id)
    # a few candles in (what half a second gives at this speed), so there is state to keep
    assert await eventually(lambda: job.exchange.progress.done >= 3, 15)  # type: ignore[union-attr]
    before = job.strategy
    state_before = before.state.to_dict()  # type: ignore[union-attr]
    manager.reload(job.id)
    assert job.strategy is not before
    assert job.strategy.state.to_dict() == state_before  # type: ignore[union-attr]
    assert job.strategy.fast.get_state() == before.fast.get_state()  # type: ignore[union-attr]
    assert any("reloaded" in log.message for log in job.logs)
    await manager.delete(job.id)
    assert len(manager) == 0
    with pytest.raises(JobError):
        manager.get(job.id)


async def test_edit_requires_a_stopped_job() -> None:
    manager = JobManager()
    job = manager.create(parse_job_config(_replay_config(speed=1.0)))
    manager.start(job.id)
    edited = parse_job_config({**_replay_config(), "name": "edited"})
    with pytest.raises(JobError, match="stop job"):
        manager.edit(job.id, edited)
    manager.stop(job.id)
    await manager.wait(job.id)
    assert manager.edit(job.id, edited).config.name == "edited"


def test_snapshot_restore_round_trip_mid_run() -> None:
    async def scenario() -> tuple[dict, dict]:  # type: ignore[type-arg]
        manager = JobManager()
        job = manager.create(parse_job_config(_replay_config(speed=3_000.0)))
        manager.start(job.id)
        # Mid-run with orders and fills, however loaded the machine (was a fixed 0.4 s).
        for _ in range(1_000):
            if job.exchange is not None and job.exchange.get_fills():
                break
            await asyncio.sleep(0.01)
        manager.stop(job.id)
        await manager.wait(job.id)
        snapshot = json.loads(json.dumps(job.snapshot()))
        clone = JobManager().create(parse_job_config(_replay_config(speed=3_000.0)))
        clone.restore(snapshot)
        return snapshot, clone.snapshot()

    original, restored = asyncio.run(scenario())
    assert original["exchange"]["orders"] and original["exchange"]["fills"]
    for key in ("job_id", "status"):
        restored.pop(key)
        original.pop(key)
    assert restored == original


def test_order_round_trips_and_copies() -> None:
    order = Order("7", "c-7", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, 0.5, 100.0)
    assert Order.from_dict(json.loads(json.dumps(order.to_dict()))) == order
    copy = order.copy()
    assert copy == order and copy is not order


def test_simple_state_validates_types() -> None:
    class State(SimpleState):
        count: int = 0
        level: float | None = None
        tags: list[str] = []

    state = State.from_dict({"count": 3, "level": "NaN", "tags": ["a"]})
    assert state.count == 3 and math.isnan(state.level) and state.tags == ["a"]  # type: ignore[arg-type]
    assert State().tags is not State().tags
    for bad in ({"count": "3"}, {"count": 1.5}, {"tags": [1]}, {"unknown": 1}, []):
        with pytest.raises(StateError):
            State.from_dict(bad)


def test_cli_backtest_writes_json_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable, "-m", "ats.cli", "backtest", "--strategy", "sma_cross",
            "--param", "fast=50", "--param", "slow=200", "--data", str(DEMO_DATA),
            "--cash", "10000", "--fee", "0.001", "--json", str(out),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Total return" in result.stdout
    report = json.loads(out.read_text())
    assert set(report) >= {"final_equity", "metrics", "trades"}
    last = report["trades"][-1]
    assert last["exit_time"] is None and last["exit_price"] is None
    assert set(last) >= {"entry_time", "entry_price", "amount", "fees", "pnl"}
