"""Job configs the test suites share (tests/ is on pytest's pythonpath)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ats.demo import DEMO_DATA
from ats.trading_job.job_config import JobConfig, parse_job_config


def backtest_config(
    data: Path | str = DEMO_DATA,
    *,
    name: str = "bt",
    fast: int = 50,
    slow: int = 200,
    **extra: Any,
) -> JobConfig:
    """sma_cross on ``data`` (the bundled BTC/USDT candles by default), 10,000 USDT."""
    return parse_job_config(
        {
            "name": name,
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": slow}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
            **extra,
        }
    )
