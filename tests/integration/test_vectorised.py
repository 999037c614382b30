"""The vectorised fast path decides exactly like the event-driven strategy."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.data.candle_readers import load_candles
from ats.data.candles import CandleData
from ats.demo import DEMO_DATA
from ats.exchanges.exchanges.back_trading.exchange import Exchange as BackTrading
from ats.trading_job.backtest import run_backtest
from ats.trading_job.events import Filled, JobEvent, OrderUpdated
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader
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


SIGNAL_TABLE = '''
import numpy as np
from pydantic import Field

from ats.strategies.base_strategy import BaseStrategy, Signals, StrategyParams


class Params(StrategyParams):
    seed: int = 0
    density: float = Field(0.05, gt=0, lt=1)
    count: int = 300
    start: int = 1_577_836_800_000


class Strategy(BaseStrategy):
    """Random entry/exit tables (signals on the first and last candle, both at once,
    runs of them): on_candle follows the same tables one candle at a time."""

    Params = Params

    def tables(self, count):
        rng = np.random.default_rng(self.params.seed)
        entries = rng.random(count) < self.params.density
        exits = rng.random(count) < self.params.density
        entries[[0, -1]] = exits[[0, -1]] = True
        return entries, exits

    def populate_signals(self, data):
        return Signals(*self.tables(len(data)))

    def on_candle(self, candle):
        if not hasattr(self, "_tables"):
            self._tables = self.tables(self.params.count)
        i = (candle.timestamp - self.params.start) // 60_000
        entries, exits = self._tables
        if entries[i] and self.position.is_flat:
            free_quote = self.balance(self.quote).free
            if free_quote > 0:
                self.buy(quote_amount=free_quote)
        elif exits[i]:
            self.sell_all()
'''


@pytest.fixture(scope="module")
def signal_table_loader(tmp_path_factory: pytest.TempPathFactory) -> PluginLoader:
    root = tmp_path_factory.mktemp("custom")
    (root / "strategies" / "signal_table").mkdir(parents=True)
    (root / "strategies" / "signal_table" / "strategy.py").write_text(SIGNAL_TABLE)
    return PluginLoader(root)


BINANCE_RULES = {  # Binance BTC/USDT's filters: lot step, minimum notional, fee rounding
    "amount_step": 0.00001,
    "price_tick": 0.01,
    "cost_step": 0.01,
    "min_amount": 0.00001,
    "min_notional": 5,
    "fee_step": 0.00000001,
}


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    density=st.sampled_from([0.01, 0.1, 0.5, 0.9]),
    rules=st.sampled_from([None, BINANCE_RULES]),
    charged_in=st.sampled_from(["quote", "received"]),
    cash=st.sampled_from([1_000.0, 5.004]),  # 5.004: every buy is under the minimum notional
)
def test_signal_edge_cases_match_the_event_driven_run(
    signal_table_loader: PluginLoader,
    seed: int,
    density: float,
    rules: dict[str, float] | None,
    charged_in: str,
    cash: float,
) -> None:
    """Runs of signals, an entry and an exit on one candle, signals on the last candle;
    with and without market rules, fees in quote or taken from the coins bought (dust),
    orders refused by the rules: the same orders, trades and equity."""
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **make_candles(300, seed))
    reports, orders = [], []
    params = {"data": "generated.csv", **({"market": rules} if rules else {})}
    for vectorised in (False, True):
        config = parse_job_config(
            {
                "name": "table",
                "vectorised": vectorised,
                "balances": {"USDT": cash},
                "exchange": {"name": "back_trading", "params": params},
                "strategy": {"name": "signal_table", "params": {"seed": seed, "density": density}},
                "fees": {"name": "flat_rate", "params": {"rate": 0.001, "charged_in": charged_in}},
            }
        )
        manager = JobManager(loader=signal_table_loader)
        job = asyncio.run(run_backtest(config, data=data, manager=manager))
        assert job.status is JobStatus.FINISHED, job.error
        assert job.report is not None and job.exchange is not None
        reports.append(job.report)
        orders.append(
            [(o.side, o.amount, o.status, o.timestamp) for o in job.exchange.get_orders()]
        )
    event, vector = reports
    assert orders[1] == orders[0]
    assert vector["trades"] == event["trades"]
    assert vector["final_equity"] == event["final_equity"]
    assert event["trades"] or (rules and cash < 5.01)


@pytest.mark.parametrize("charged_in", ["quote", "received"])
def test_sma_cross_under_market_rules_matches(charged_in: str) -> None:
    data = load_candles(DEMO_DATA)
    reports = []
    for vectorised in (False, True):
        config = parse_job_config(
            {
                "name": "rules",
                "vectorised": vectorised,
                "exchange": {
                    "name": "back_trading",
                    "params": {"data": str(DEMO_DATA), "market": BINANCE_RULES},
                },
                "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
                "fees": {"name": "flat_rate", "params": {"rate": 0.001, "charged_in": charged_in}},
            }
        )
        job = asyncio.run(run_backtest(config, data=data))
        assert job.status is JobStatus.FINISHED, job.error
        assert job.report is not None
        reports.append(job.report)
    event, vector = reports
    assert vector["trades"] == event["trades"] and len(event["trades"]) > 50
    assert vector["final_equity"] == event["final_equity"]
    assert vector["metrics"] == event["metrics"]


def _engine_state(job: TradingJob) -> dict[str, Any]:
    exchange = job.exchange
    assert isinstance(exchange, BackTrading)
    return {
        "orders": [order.to_dict() for order in exchange.get_orders()],
        "fills": [fill.to_dict() for fill in exchange.engine.fills],
        "balances": exchange.wallet.balances(),
        "holds": exchange.wallet.holds(),
        "fees_paid": exchange.engine.fees_paid,
        "trades": exchange.get_trades(),
        "position": exchange.get_position(exchange.symbol),
        "equity": exchange.equity_curve()[1].tolist(),
    }


@pytest.mark.parametrize(
    ("extra", "events"),
    [
        ({}, False),  # orders straight to the engine, the job not listening
        ({}, True),  # someone reads fills and orders: the job keeps publishing them
        ({"risk": {"max_order_value": 1e12}}, False),  # risk checks see every order
    ],
)
def test_every_order_fill_and_balance_is_the_per_candle_ones(
    extra: dict[str, object], events: bool
) -> None:
    """Not only the report: each order (ids, times, sizes, fees), fill, balance, hold
    and the equity curve, with slippage, whichever way the vectorised orders go."""
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **make_candles(30_000, 3))
    states, published = [], []
    for vectorised in (False, True):
        config = parse_job_config(
            {
                "name": "state",
                "vectorised": vectorised,
                "balances": {"USDT": 2_500.0},
                "exchange": {
                    "name": "back_trading",
                    "params": {"data": "generated.csv", "slippage_bps": 3},
                },
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 40}},
                "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
                **extra,
            }
        )
        manager = JobManager()
        heard: list[JobEvent] = []
        if events:
            manager.bus.listen(heard.append, kinds=[Filled, OrderUpdated])
        job = asyncio.run(run_backtest(config, data=data, manager=manager))
        assert job.status is JobStatus.FINISHED, job.error
        states.append(_engine_state(job))
        published.append([type(event) for event in heard])
        assert job.exchange is not None
        assert job._order_changed in job.exchange.order_listeners  # listening again
    event, vector = states
    assert len(event["trades"]) > 100
    assert vector == event
    assert published[1] == published[0]
    assert (Filled in published[1]) is events
