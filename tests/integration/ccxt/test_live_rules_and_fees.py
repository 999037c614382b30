"""The live exchange against a fake Binance that is not polite (issue 9): filters are
checked before anything is sent, fees paid in BNB are booked to BNB and valued in quote,
and orders that fill in parts leave orders, balances, trades and P&L right."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from fake_exchange import FakeBinance
from live_helpers import (
    API_KEY,
    SECRET,
    assert_balances_mirror,
    assert_one_server_order_per_client_id,
    credentials,  # noqa: F401 - fixture
    make_exchange,
)
from paper_helpers import WARMUP, wait_for, wavy_candles

from ats.exchanges.data_classes import OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.exchanges.run_control import RunControl, StopRequested

BNB_PRICE = Decimal("600")


def server(**options: Any) -> FakeBinance:
    fake = FakeBinance(api_key=API_KEY, secret=SECRET, timeout_delay=2.0, **options)
    fake.add_market("BNBUSDT", "BNB", "USDT", step_size="0.001", default_price=BNB_PRICE)
    fake.set_balance("USDT", 10_000)
    fake.load_klines("BTCUSDT", "1m", wavy_candles())
    fake.set_candle_index(WARMUP)
    return fake


async def running(ex: Exchange) -> tuple[RunControl, asyncio.Task[None]]:
    await ex.connect()
    control = RunControl()
    task = asyncio.create_task(ex.run(control))
    await wait_for(lambda: ex.candle is not None)
    return control, task


async def stop(ex: Exchange, control: RunControl, task: asyncio.Task[None]) -> None:
    control.stop()
    with pytest.raises(StopRequested):
        await task
    await ex.disconnect()


async def next_candle(fake: FakeBinance, ex: Exchange) -> None:
    """One candle closes on the exchange; wait until the job handled it and settled."""
    fake.advance(1)
    handled = ex.handled + 1
    await wait_for(lambda: ex.handled >= handled and ex.pending_requests == 0)


def account_value(fake: FakeBinance, btc_price: float) -> float:
    """The account in USDT from the exchange's own balances and prices."""
    value = Decimal(0)
    for asset, balance in fake.balances.items():
        price = {"USDT": Decimal(1), "BNB": fake.last_price("BNBUSDT")}.get(asset)
        value += balance.total * (price if price is not None else Decimal(repr(btc_price)))
    return float(value)


@pytest.fixture
async def fake(credentials: None) -> AsyncIterator[FakeBinance]:  # noqa: F811
    async with server() as started:
        yield started


async def test_orders_breaking_a_filter_are_refused_before_sending(fake: FakeBinance) -> None:
    """Issue 9, item 1: a 0.0001 BTC limit buy at 14,890.76 is 1.49 USDT, under Binance's
    5 USDT NOTIONAL filter; it used to be sent and refused with -1013."""
    log: list[str] = []
    ex = make_exchange(fake, log=log)
    control, task = await running(ex)
    try:
        small = ex.submit_order("BTC/USDT", "buy", "limit", 0.0001, 14_890.76)
        assert small.status is OrderStatus.REJECTED
        assert "NOTIONAL" in (small.reason or "") and "1.489076" in (small.reason or "")
        fake.set_balance("BTC", 0.001)
        tiny_sell = ex.submit_order("BTC/USDT", "sell", "market", 0.0001)  # ~4 USDT
        assert tiny_sell.status is OrderStatus.REJECTED and "NOTIONAL" in (tiny_sell.reason or "")
        await asyncio.sleep(0.05)  # on purpose: no order may go out within it
        assert fake.calls("/api/v3/order", "POST") == []
        assert sum("NOTIONAL" in line for line in log) == 2
    finally:
        await stop(ex, control, task)


async def test_fees_paid_in_bnb_are_valued_in_quote(credentials: None) -> None:  # noqa: F811
    """Issue 9, item 3: a fee of 0.0005 BNB is worth 0.30 USDT at 600, not 0.0005 USDT."""
    async with server(fee_mode="bnb", fill_mode="next_open") as fake:
        fake.set_balance("BNB", 1)
        start = account_value(fake, float(fake.last_price("BTCUSDT")))
        ex = make_exchange(fake)
        control, task = await running(ex)
        try:
            buy = ex.submit_order("BTC/USDT", "buy", "market", 0.0, quote_amount=2_000.0)
            await next_candle(fake, ex)
            assert buy.status is OrderStatus.FILLED
            held = ex.get_position("BTC/USDT").sellable
            sell = ex.submit_order("BTC/USDT", "sell", "market", held)
            await next_candle(fake, ex)
            assert sell.status is OrderStatus.FILLED
            fills = ex.get_fills()
            assert [f.fee_currency for f in fills] == ["BNB", "BNB"]
            for fill, booked in zip(fills, fake.trades, strict=True):
                assert fill.fee == float(booked.commission)
                assert fill.fee_value == pytest.approx(float(booked.commission * BNB_PRICE))
            (trade,) = ex.get_trades()
            assert trade.fee_assets == {"BNB": pytest.approx(sum(f.fee for f in fills))}
            assert trade.fees == pytest.approx(sum(f.fee_value for f in fills))
            assert 1.0 < trade.fees < 5.0  # 0.075 % of ~4,000 USDT traded, not ~0.003
            assert ex.get_position("BTC/USDT").is_flat
            assert_balances_mirror(fake, ex)
            assert ex.candle is not None
            change = account_value(fake, ex.candle.close) - start
            assert trade.pnl == pytest.approx(change, rel=1e-8)
            assert ex.equity() == pytest.approx(account_value(fake, ex.candle.close), rel=1e-12)
        finally:
            await stop(ex, control, task)


async def test_a_limit_order_filled_over_several_candles_then_canceled(
    credentials: None,  # noqa: F811
) -> None:
    """Issue 9, item 10: a resting buy fills in parts (2 % of each candle's volume),
    is canceled with part of it filled, and what was bought is sold: every step mirrors
    the exchange, and the trade's P&L is the account's change in value."""
    async with server(limit_fill_ratio="0.02", fill_mode="next_open") as fake:
        start = account_value(fake, float(fake.last_price("BTCUSDT")))
        ex = make_exchange(fake)
        control, task = await running(ex)
        try:
            below = float(fake.last_price("BTCUSDT")) - 10  # rests; the next lows reach it
            buy = ex.submit_order("BTC/USDT", "buy", "limit", 0.2, below)
            assert buy.status is OrderStatus.OPEN, buy.reason
            await wait_for(lambda: ex.pending_requests == 0)
            partial_seen = 0
            for _ in range(60):
                await next_candle(fake, ex)
                server_order = fake.find_order(client_order_id=buy.id)
                assert server_order is not None
                assert buy.filled == pytest.approx(float(server_order.executed_qty), abs=1e-12)
                assert_balances_mirror(fake, ex)
                if buy.status is OrderStatus.PARTIALLY_FILLED:
                    partial_seen += 1
                    if partial_seen == 2:
                        break
            assert partial_seen == 2, "the order never filled in parts"
            assert len(ex.get_fills()) >= 2
            ex.cancel_order(buy.id)
            await wait_for(lambda: buy.status is OrderStatus.CANCELED)
            assert 0 < buy.filled < 0.2
            assert fake.balance("USDT").locked == 0
            assert_balances_mirror(fake, ex)
            (trade,) = ex.get_trades()
            assert trade.is_open and trade.amount == pytest.approx(buy.filled)

            position = ex.get_position("BTC/USDT")
            sell = ex.submit_order("BTC/USDT", "sell", "market", position.sellable)
            await next_candle(fake, ex)
            assert sell.status is OrderStatus.FILLED
            (trade,) = ex.get_trades()
            assert not trade.is_open
            assert ex.candle is not None
            change = account_value(fake, ex.candle.close) - start
            assert trade.pnl == pytest.approx(change, rel=1e-8)
            assert_balances_mirror(fake, ex)
            assert_one_server_order_per_client_id(fake, ex.get_orders())
        finally:
            await stop(ex, control, task)
