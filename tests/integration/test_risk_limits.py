"""Per-job risk limits: a breach rejects the order, cancels open orders and stops the job."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from persist_helpers import eventually

from ats.demo import DEMO_DATA
from ats.exceptions import ConfigError
from ats.exchanges.data_classes import OrderStatus
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader


def _run(config: dict, loader: PluginLoader | None = None) -> TradingJob:  # type: ignore[type-arg]
    async def scenario() -> TradingJob:
        manager = JobManager(loader=loader)
        job = manager.create(parse_job_config(config))
        manager.start(job.id)
        await job.wait()
        return job

    return asyncio.run(scenario())


def _config(strategy: str, risk: dict, exchange: str = "back_trading") -> dict:  # type: ignore[type-arg]
    params: dict[str, object] = {"data": str(DEMO_DATA)}
    if exchange == "paper":
        params |= {"feed": "replay", "speed": 0}
    return {
        "name": "risky",
        "exchange": {"name": exchange, "params": params},
        "strategy": {"name": strategy, "params": {"fast": 50, "slow": 200}}
        if strategy == "sma_cross"
        else {"name": strategy},
        "risk": risk,
    }


@pytest.mark.parametrize("exchange", ["back_trading", "paper"])
def test_max_order_value_rejects_and_stops(exchange: str) -> None:
    job = _run(_config("sma_cross", {"max_order_value": 5_000}, exchange))
    assert job.status is JobStatus.STOPPED
    assert job.error and "max_order_value" in job.error
    orders = job.exchange.get_orders()  # type: ignore[union-attr]
    assert orders == []  # nothing reached the matching engine
    assert job.exchange.get_wallet_balance("USDT").total == 10_000  # type: ignore[union-attr]
    assert any("risk limit breached" in log.message for log in job.logs)


def test_max_position_value_allows_small_orders(tmp_path: Path) -> None:
    folder = tmp_path / "strategies" / "ladder"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        textwrap.dedent(
            """\
            from ats.strategies.base_strategy import BaseStrategy

            class Strategy(BaseStrategy):
                def on_candle(self, candle):
                    # a resting limit far below the market, then small market buys
                    if not self.open_orders():
                        self.buy(0.01, price=candle.close * 0.5)
                    self.buy(0.01)
            """
        )
    )
    job = _run(_config("ladder", {"max_position_value": 1_500}), PluginLoader(tmp_path))
    assert job.status is JobStatus.STOPPED and "max_position_value" in (job.error or "")
    exchange = job.exchange
    assert exchange is not None
    held_value = exchange.get_wallet_balance("BTC").total * (exchange.last_price("BTC/USDT") or 0)
    assert 1_000 < held_value <= 1_500 * 1.01  # stopped at the limit, not before
    resting = [o for o in exchange.get_orders() if o.type == "limit"]
    assert resting and all(o.status is OrderStatus.CANCELED for o in resting)
    assert not exchange.get_open_orders()


def test_max_daily_loss_stops_the_job() -> None:
    job = _run(_config("buy_and_hold", {"max_daily_loss": 100}))
    assert job.status is JobStatus.STOPPED
    assert job.error and "max_daily_loss" in job.error
    loss = float(job.error.split("daily loss ")[1].split(" ")[0].replace(",", ""))
    assert 100 < loss < 120  # caught on the first candle past the limit
    assert 0 < job.exchange.cursor < 10_000  # type: ignore[union-attr]


def test_limits_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"risk\.max_order_value"):
        parse_job_config(_config("sma_cross", {"max_order_value": -1}))
    with pytest.raises(ConfigError, match=r"risk\.max_loss: unknown field"):
        parse_job_config(_config("sma_cross", {"max_loss": 1}))


async def test_kill_switch_cancels_open_orders_of_selected_modes(tmp_path: Path) -> None:
    folder = tmp_path / "strategies" / "rester"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        "from ats.strategies.base_strategy import BaseStrategy\n\n"
        "class Strategy(BaseStrategy):\n"
        "    def on_candle(self, candle):\n"
        "        if not self.open_orders():\n"
        "            self.buy(0.01, price=candle.close * 0.5)\n"
    )
    manager = JobManager(loader=PluginLoader(tmp_path))
    config = _config("rester", {}, exchange="paper")
    config["exchange"]["params"]["speed"] = 5.0
    job = manager.create(parse_job_config(config))
    manager.start(job.id)
    assert await eventually(lambda: bool(job.exchange.get_open_orders()), 15)  # type: ignore[union-attr]
    assert len(job.exchange.get_open_orders()) == 1  # type: ignore[union-attr]
    assert manager.kill_switch() == 0  # live jobs only by default: paper untouched
    assert manager.kill_switch(("paper",)) == 1
    assert [o.status for o in job.exchange.get_orders()][:1] == [OrderStatus.CANCELED]  # type: ignore[union-attr]
    await manager.stop_all()
