"""Exchange capabilities are types, checked once when the job builds its exchange."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config

import ats
from ats.exceptions import ConfigError, JobError, StateError
from ats.exchanges.base_exchange import BaseExchange
from ats.exchanges.capabilities import (
    NO_CAPABILITIES,
    Capabilities,
    HistoryWarming,
    Paced,
    Replayable,
    Snapshottable,
)
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.plugins import PluginLoader

ROOT = Path(ats.__file__).parent
PROBE = re.compile(r"(getattr|vars)\(.*exchange")


def _paper(feed: str = "replay") -> Any:
    from ats.demo import DEMO_DATA

    params: dict[str, Any] = {"feed": feed, "data": str(DEMO_DATA), "speed": 5.0}
    if feed == "ccxt":
        params = {"feed": "ccxt", "exchange": "binance", "timeframe": "1m"}
    return parse_job_config(
        {
            "name": "paper",
            "exchange": {"name": "paper", "params": params},
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
    )


def test_built_in_exchanges_declare_what_they_can() -> None:
    manager = JobManager()
    backtest = manager.create(backtest_config(name="bt"))
    paper = manager.create(_paper())
    assert backtest.capabilities.replay is backtest.exchange
    assert backtest.capabilities.pace is None
    assert paper.capabilities.replay is None and paper.capabilities.pace is paper.exchange
    for job in (backtest, paper):
        assert job.capabilities.snapshots is job.exchange
        assert job.capabilities.history_warming is job.exchange
    assert isinstance(paper.exchange, Paced) and not isinstance(paper.exchange, Replayable)
    assert Capabilities.of(None) is NO_CAPABILITIES


def test_a_paper_job_on_a_live_feed_refuses_a_speed_change() -> None:
    manager = JobManager()
    job = manager.create(_paper("ccxt"))
    assert job.capabilities.pace is not None and job.capabilities.pace.speed is None
    with pytest.raises(ConfigError, match="real time"):
        manager.set_speed(job.id, 2.0)


def test_an_exchange_without_capabilities(tmp_path: Path) -> None:
    """A minimal custom exchange (the order API only) is none of them: the job does
    without replay, pacing and snapshots, and says so where one is needed."""
    folder = tmp_path / "exchanges"
    folder.mkdir()
    (folder / "bare.py").write_text(BARE_EXCHANGE)
    manager = JobManager(loader=PluginLoader(tmp_path))
    config = backtest_config(name="bare").model_dump()
    config["exchange"] = {"name": "bare", "params": {}}
    job = manager.create(parse_job_config(config))
    assert job.capabilities == NO_CAPABILITIES
    assert not isinstance(job.exchange, Snapshottable | HistoryWarming | Paced | Replayable)
    assert job.snapshot()["exchange"] is None
    with pytest.raises(JobError, match="no adjustable speed"):
        manager.set_speed(job.id, 2.0)
    with pytest.raises(StateError, match="cannot restore"):
        job.restore({**job.snapshot(), "exchange": {"anything": 1}})


def test_nothing_probes_an_exchange_by_attribute_name() -> None:
    probes = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in ROOT.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PROBE.search(line)
    ]
    assert not probes, probes


def test_base_exchange_declares_timeframe_candle_and_first_close() -> None:
    assert BaseExchange.timeframe_ms is None and BaseExchange.candle is None
    assert BaseExchange.first_close is None


BARE_EXCHANGE = """
from ats.exchanges.base_exchange import BaseExchange
from ats.exchanges.data_classes import Balance, Position


class Exchange(BaseExchange):
    name = "bare"
    mode = "backtest"

    async def run(self, control):
        return None

    def _submit_order(self, *args, **kwargs):
        raise NotImplementedError

    def cancel_order(self, order_id):
        raise NotImplementedError

    def get_order(self, order_id):
        raise KeyError(order_id)

    def get_open_orders(self, symbol=None):
        return []

    def get_orders(self):
        return []

    def get_wallet_balance(self, asset):
        return Balance(asset)

    def get_balances(self):
        return {}

    def _ledger_position(self, symbol):
        return Position(symbol)

    def get_trades(self):
        return []

    def get_fills(self):
        return []

    def last_price(self, symbol):
        return None
"""
