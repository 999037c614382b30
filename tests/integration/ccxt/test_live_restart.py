"""A live exchange that crashes with orders in flight, restored from its snapshot JSON in
a new instance against the same FakeBinance: reconcile() adopts the exchange's truth and
nothing is sent twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from fake_exchange import FakeBinance
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    assert_balances_mirror,
    assert_one_server_order_per_client_id,
    make_exchange,
    posts_by_client_id,
)
from paper_helpers import WARMUP, wait_for, wavy_candles

from ats.exchanges.data_classes import OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange

SERVER_STATUS = {
    "FILLED": OrderStatus.FILLED,
    "NEW": OrderStatus.OPEN,
    "CANCELED": OrderStatus.CANCELED,
}


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBinance]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    server = FakeBinance(
        api_key=API_KEY, secret=SECRET, balances={"USDT": 10_000}, timeout_delay=2.0
    )
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    async with server:
        yield server


def assert_book_matches_server(ex: Exchange, fake: FakeBinance) -> None:
    """Every order of ours the exchange has: same status, amount and fills; fills equal
    the exchange's trades one for one; balances equal the account's."""
    for order in ex.get_orders():
        server = fake.find_order(client_order_id=order.client_order_id)
        if server is None:
            assert order.status is OrderStatus.REJECTED
            continue
        assert order.status is SERVER_STATUS[server.status], order.id
        assert (order.amount, order.filled) == (float(server.orig_qty), float(server.executed_qty))
    fills = sorted((f.amount, f.price, f.fee, f.timestamp, f.taker) for f in ex.get_fills())
    trades = sorted(
        (float(t.qty), float(t.price), float(t.commission), t.time, not t.is_maker)
        for t in fake.trades
    )
    assert fills == trades
    assert_balances_mirror(fake, ex)


async def test_restart_with_orders_in_flight_reconciles_without_resending(
    fake: FakeBinance,
) -> None:
    rows = wavy_candles()
    before = make_exchange(fake)
    await before.connect()
    # A resting limit buy, confirmed before the crash; it fills while the job is down.
    low = min(row[3] for row in rows[WARMUP : WARMUP + 15])
    resting = before.submit_order("BTC/USDT", "buy", "limit", 0.05, round(low + 1.0, 2))
    await wait_for(lambda: before.pending_requests == 0)
    assert resting.status is OrderStatus.OPEN and fake.open_orders()

    # In flight at the crash: one request stalls before the exchange processes it, the
    # other is executed but its response is lost.
    stall = fake.inject("/api/v3/order", "timeout", method="POST")
    never = before.submit_order("BTC/USDT", "buy", "market", 0.01)
    await wait_for(lambda: stall.fired == 1)
    fake.lose_order_response("timeout")
    executed = before.submit_order("BTC/USDT", "buy", "market", 0.02)
    await wait_for(lambda: fake.find_order(client_order_id=executed.id) is not None)
    saved = json.dumps(before.snapshot())
    assert never.is_open and executed.is_open  # unknown outcome at snapshot time

    # Placed after the snapshot, before the crash: the restored book has never heard of it.
    late = before.submit_order("BTC/USDT", "sell", "market", 0.005)
    await wait_for(lambda: late.status is OrderStatus.FILLED)
    await before.disconnect(grace=0.0)  # the crash: requests in flight are abandoned
    fake.advance(15)
    assert fake.find_order(client_order_id=resting.id).status == "FILLED"

    log: list[str] = []
    after = make_exchange(fake, log=log)
    after.restore(json.loads(saved))
    await after.connect()
    try:
        assert after.get_order(resting.id).status is OrderStatus.FILLED
        assert after.get_fills()[0].taker is False  # the resting order filled as maker
        assert after.get_order(executed.id).status is OrderStatus.FILLED
        assert after.get_order(never.id).status is OrderStatus.REJECTED
        assert after.get_order(never.id).reason == "never reached the exchange"
        assert after.get_order(late.id).status is OrderStatus.FILLED
        assert any(f"adopted order {late.id}" in line for line in log)
        assert_book_matches_server(after, fake)
        assert_one_server_order_per_client_id(fake, after.get_orders())
        assert posts_by_client_id(fake) == dict.fromkeys(
            [resting.id, never.id, executed.id, late.id], 1
        )  # nothing was sent twice, before or after the restart
        assert after.get_position("BTC/USDT").amount == pytest.approx(0.05 + 0.02 - 0.005)
        again = json.loads(json.dumps(after.snapshot()))
        assert all(o["status"] != "open" for o in again["orders"])
        assert API_KEY not in saved and SECRET not in saved
    finally:
        await after.disconnect()
