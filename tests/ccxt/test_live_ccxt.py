"""The live ccxt exchange skeleton against the loopback FakeBinance (no internet)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fake_exchange import FakeBinance
from test_paper_ccxt import WARMUP, feed_params, wait_for, wavy_candles

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import Order, OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.exchanges.run_control import RunControl, StopRequested
from ats.utils.plugins import default_loader


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    server = FakeBinance(balances={"USDT": 10_000}, timeout_delay=2.0)
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    async with server:
        yield server


def make_exchange(fake: FakeBinance, **extra: Any) -> Exchange:
    fees = default_loader.fees_class("flat_rate")(rate=0.001)
    config = {**feed_params(fake, warmup=1), "api_key": "test-key", "secret": "test-secret"}
    return Exchange(symbol="BTC/USDT", fees=fees, balances={}, config={**config, **extra})


async def test_orders_are_rounded_sent_with_client_id_and_reconciled(fake: FakeBinance) -> None:
    ex = make_exchange(fake)
    updates: list[Order] = []
    ex.order_listeners.append(lambda o: updates.append(o.copy()))
    await ex.connect()
    control = RunControl()
    runner = asyncio.create_task(ex.run(control))
    try:
        assert ex.get_wallet_balance("USDT").free == 10_000
        await wait_for(lambda: ex.candle is not None)

        buy = ex.submit_order("BTC/USDT", "buy", "market", 0.0, quote_amount=1_000.0)
        assert buy.status is OrderStatus.OPEN and buy.id.startswith("ats-")  # at once
        await wait_for(lambda: buy.status is OrderStatus.FILLED)
        server_buy = fake.find_order(client_order_id=buy.id)
        assert server_buy is not None and server_buy.status == "FILLED"
        assert buy.filled == float(server_buy.executed_qty) and len(ex.get_fills()) == 1
        assert ex.get_position("BTC/USDT").amount == pytest.approx(buy.filled)
        fee = ex.get_fills()[0].fee
        assert fee > 0 and 999.0 < buy.cost + fee <= 1_000.0  # fees included, step-truncated
        await wait_for(lambda: ex.get_wallet_balance("BTC").free == buy.filled)
        assert ex.get_wallet_balance("USDT").free == float(fake.balance("USDT").free)

        limit = ex.submit_order("BTC/USDT", "buy", "limit", 0.0123456789, 20_000.123456)
        assert (limit.price, limit.amount) == (20_000.12, 0.01234)
        await wait_for(lambda: fake.find_order(client_order_id=limit.id) is not None)
        server_limit = fake.find_order(client_order_id=limit.id)
        assert server_limit is not None and str(server_limit.price) == "20000.12"
        ex.cancel_order(limit.id)
        await wait_for(lambda: limit.status is OrderStatus.CANCELED)
        server_limit = fake.find_order(client_order_id=limit.id)
        assert server_limit is not None and server_limit.status == "CANCELED"

        dust = ex.submit_order("BTC/USDT", "sell", "market", 0.000001)
        assert dust.status is OrderStatus.REJECTED and dust.reason
        assert fake.find_order(client_order_id=dust.id) is None

        fake.lose_order_response("timeout")  # executed, but the response never arrives
        sell = ex.submit_order("BTC/USDT", "sell", "market", buy.filled)
        await wait_for(lambda: fake.find_order(client_order_id=sell.id) is not None)
        await asyncio.sleep(0.6)  # past the client timeout: the order is still open here
        assert sell.status is OrderStatus.OPEN
        fake.advance(1)  # next candle: sync finds it by client order id
        await wait_for(lambda: sell.status is OrderStatus.FILLED)
        assert [o.client_order_id for o in fake.orders.values()].count(sell.id) == 1
        assert ex.get_position("BTC/USDT").amount == pytest.approx(0.0, abs=1e-12)
        assert len(ex.get_trades()) == 1 and ex.get_trades()[0].exit_price is not None
        assert {u.status for u in updates if u.id == sell.id} == {"open", "filled"}
    finally:
        control.stop()
        with pytest.raises(StopRequested):
            await runner
        await ex.disconnect()


async def test_live_needs_keys(fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    ex = make_exchange(fake, api_key=None, secret=None)
    with pytest.raises(ConfigError, match="BINANCE_API_KEY"):
        await ex.connect()
    await ex.disconnect()
