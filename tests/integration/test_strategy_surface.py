"""Acceptance (issue 14, item 9): a strategy sees orders, balances, position, candles and
logging, and cannot reach the wallet, the matching engine or the exchange through them.

Before, ``self.exchange.wallet.deposit(1e12)`` made a backtest report 15 billion of
equity with exit code 0.
"""

from __future__ import annotations

import asyncio
import textwrap
import warnings
from collections import deque
from pathlib import Path
from typing import Any

from ats.demo import DEMO_DATA
from ats.exchanges.base_exchange import BaseExchange
from ats.exchanges.matching import MatchingEngine
from ats.exchanges.trade_ledger import TradeLedger
from ats.exchanges.wallet import Wallet
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader

INTERNALS = (BaseExchange, Wallet, MatchingEngine, TradeLedger)


def _run(tmp_path: Path, source: str, *, strategy: str = "probe") -> TradingJob:
    folder = tmp_path / "mods" / "strategies" / strategy
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "strategy.py").write_text(textwrap.dedent(source))
    data = tmp_path / "candles.csv"
    data.write_text("\n".join(DEMO_DATA.read_text().splitlines()[:301]) + "\n")
    config = parse_job_config(
        {
            "name": strategy,
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": strategy},
        }
    )
    manager = JobManager(loader=PluginLoader(tmp_path / "mods"))
    return asyncio.run(run_backtest(config, manager=manager))


def _public_reach(roots: list[Any], depth: int = 4) -> list[tuple[str, Any]]:
    """Every object reachable from ``roots`` through public attributes, properties and
    the items of returned lists/dicts, with the path that reached it."""
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    queue: deque[tuple[str, Any, int]] = deque(("root", root, 0) for root in roots)
    while queue:
        path, value, level = queue.popleft()
        if id(value) in seen or level > depth or isinstance(value, str | int | float | type):
            continue
        seen.add(id(value))
        found.append((path, value))
        if isinstance(value, dict):
            children = [(f"{path}[{key!r}]", item) for key, item in value.items()]
        elif isinstance(value, list | tuple | set):
            children = [(f"{path}[]", item) for item in value]
        else:
            children = []
            for name in dir(value):
                if name.startswith("_"):
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # pydantic's deprecated properties
                        attribute = getattr(value, name)
                except Exception:  # e.g. the removed ``exchange`` says why it is gone
                    continue
                if callable(attribute) and not isinstance(attribute, type):
                    continue
                children.append((f"{path}.{name}", attribute))
        queue.extend((child_path, child, level + 1) for child_path, child in children)
    return found


PROBE = """\
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    def setup(self):
        self.seen = []
        self.order = None

    def on_candle(self, candle):
        if self.order is None:
            self.order = self.buy(0.01, price=round(candle.close * 0.5, 2))
            self.market = self.buy(0.01)
        self.seen = [
            self.order, self.market, self.open_orders(), self.balance(self.quote),
            self.position, self.last_price(), self.broker.balances(), candle,
            self.get_order(self.order.id),
        ]
"""


def test_documented_surface_reaches_no_internals(tmp_path: Path) -> None:
    job = _run(tmp_path, PROBE)
    assert job.status is JobStatus.FINISHED, job.error
    strategy = job.strategy
    assert strategy is not None
    reached = _public_reach([strategy, *strategy.seen])  # type: ignore[attr-defined]
    leaks = [path for path, value in reached if isinstance(value, INTERNALS)]
    assert leaks == []
    assert len(reached) > 20  # the walk did look around


def test_the_exchange_object_is_gone(tmp_path: Path) -> None:
    job = _run(
        tmp_path,
        """\
        from ats.strategies.base_strategy import BaseStrategy

        class Strategy(BaseStrategy):
            def on_candle(self, candle):
                self.exchange.wallet.deposit("USDT", 1e12)
        """,
    )
    assert job.status is JobStatus.ERROR
    assert "has no exchange object" in (job.error or "") and "self.balance(asset)" in job.error
    assert job.exchange is not None and job.exchange.equity() < 20_000


def test_changing_what_the_strategy_got_changes_no_books(tmp_path: Path) -> None:
    """Orders, balances, positions and candles handed to a strategy are its own copies."""
    cheat = """\
    from ats.strategies.base_strategy import BaseStrategy

    class Strategy(BaseStrategy):
        def setup(self):
            self.orders = []

        def on_candle(self, candle):
            if not self.orders:
                self.orders = [self.buy(0.05), self.buy(0.01, price=round(candle.close * 0.9, 2))]
            if CHEAT:
                for order in self.orders + self.open_orders():
                    order.amount, order.price, order.filled = 1e9, 1.0, 0.0
                self.balance(self.quote).free = 1e12
                self.position.amount = 1e9
                candle.close = candle.high = 1e12

        def on_order_update(self, order):
            if CHEAT:
                order.amount = 1e9
    """
    honest = _run(tmp_path / "honest", cheat.replace("CHEAT", "False"))
    cheater = _run(tmp_path / "cheater", cheat.replace("CHEAT", "True"))
    assert honest.status is cheater.status is JobStatus.FINISHED, cheater.error
    assert honest.exchange is not None and cheater.exchange is not None
    assert cheater.exchange.equity() == honest.exchange.equity() < 20_000
    assert [order.to_dict() for order in cheater.exchange.get_orders()] == [
        order.to_dict() for order in honest.exchange.get_orders()
    ]
    assert cheater.report is not None and honest.report is not None
    assert cheater.report["final_equity"] == honest.report["final_equity"]
