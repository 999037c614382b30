"""The vectorised fast path decides exactly like the event-driven strategy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ats.demo import DEMO_DATA
from ats.exchanges.exchanges.back_trading.candle_data import CandleData, load_candles
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.trading_job import JobStatus
from ats.utils.synthetic_candles import make_candles


def _report(data: CandleData, strategy: str, vectorised: bool, **params: object) -> dict:  # type: ignore[type-arg]
    config = parse_job_config(
        {
            "name": "v",
            "vectorised": vectorised,
            "exchange": {"name": "back_trading", "params": {"data": str(data.path)}},
            "strategy": {"name": strategy, "params": params},
            "fees": {"name": "maker_taker", "params": {"taker": 0.00075}},
        }
    )
    job = asyncio.run(run_backtest(config, data=data))
    assert job.status is JobStatus.FINISHED, job.error
    assert job.report is not None
    return job.report


@pytest.mark.parametrize(("fast", "slow"), [(5, 20), (50, 200), (13, 89)])
def test_same_report_on_real_data(fast: int, slow: int) -> None:
    data = load_candles(DEMO_DATA)
    event = _report(data, "sma_cross", False, fast=fast, slow=slow)
    vector = _report(data, "sma_cross", True, fast=fast, slow=slow)
    assert vector["trades"] == event["trades"] and len(event["trades"]) > 5
    assert vector["final_equity"] == event["final_equity"]
    assert vector["metrics"] == event["metrics"]


def test_same_report_on_generated_data() -> None:
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **make_candles(100_000))
    event = _report(data, "sma_cross", False, fast=20, slow=60)
    vector = _report(data, "sma_cross", True, fast=20, slow=60)
    assert vector["trades"] == event["trades"] and len(event["trades"]) > 100
    assert vector["final_equity"] == event["final_equity"]


def test_strategy_without_signals_is_a_clear_error() -> None:
    data = load_candles(DEMO_DATA)
    config = parse_job_config(
        {
            "name": "v",
            "vectorised": True,
            "exchange": {"name": "back_trading", "params": {"data": str(DEMO_DATA)}},
            "strategy": {"name": "rsi_reversion"},
        }
    )
    job = asyncio.run(run_backtest(config, data=data))
    assert job.status is JobStatus.ERROR
    assert job.error == "vectorised: strategy rsi_reversion has no populate_signals"
