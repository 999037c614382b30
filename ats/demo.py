"""The bundled demo: real BTC/USDT 3-second candles, so ATS runs with no network."""

from __future__ import annotations

from ats import workspace
from ats.trading_job.job_config import JobConfig, parse_job_config

DEMO_DATA = workspace.bundled("data/BTC_USDT_3s_2022-05-12.csv")
"""Package data (a clone's own ``data/`` file), so the demo runs wherever ATS is installed."""


def demo_backtest_config() -> JobConfig:
    """sma_cross(50, 200) on the bundled candles with 10,000 USDT and a 0.1% fee."""
    return parse_job_config(
        {
            "name": "demo-sma-cross",
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {"name": "back_trading", "params": {"data": str(DEMO_DATA)}},
            "strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 200}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        },
        source="demo",
    )
