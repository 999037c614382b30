"""The live ccxt exchange against the loopback FakeBinance (no internet): rounding,
idempotent placement, fills from the exchange's trades, credentials by env name only."""

# ruff: noqa: F811  (the fixtures imported from the helpers are test parameters)
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fake_exchange import FakeBinance
from live_helpers import (  # noqa: F401 (fixtures)
    API_KEY,
    FAULTS,
    GRACE_MS,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    assert_balances_mirror,
    assert_one_server_order_per_client_id,
    credentials,
    fake,
    live_params,
    make_exchange,
    posts_by_client_id,
    sma_cross_server,
)
from paper_helpers import wait_for

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import Order, OrderStatus
from ats.exchanges.run_control import RunControl, StopRequested
from ats.utils.redaction import redact


async def test_orders_are_rounded_sent_with_client_id_and_fills_come_from_trades(
    fake: FakeBinance,
) -> None:
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
        (trade,) = fake.trades
        (fill,) = ex.get_fills()
        assert (fill.amount, fill.price, fill.fee, fill.fee_currency, fill.taker) == (
            float(trade.qty),
            float(trade.price),
            float(trade.commission),
            "USDT",
            True,
        )
        assert fill.timestamp == trade.time and buy.filled == float(server_buy.executed_qty)
        assert 999.0 < buy.cost + fill.fee <= 1_000.0  # fees included, step-truncated
        assert ex.get_position("BTC/USDT").amount == pytest.approx(buy.filled)
        assert_balances_mirror(fake, ex)

        limit = ex.submit_order("BTC/USDT", "buy", "limit", 0.0123456789, 20_000.123456)
        assert (limit.price, limit.amount) == (20_000.12, 0.01234)
        await wait_for(lambda: ex.pending_requests == 0)
        server_limit = fake.find_order(client_order_id=limit.id)
        assert server_limit is not None and str(server_limit.price) == "20000.12"
        ex.cancel_order(limit.id)
        await wait_for(lambda: limit.status is OrderStatus.CANCELED)
        assert fake.find_order(client_order_id=limit.id).status == "CANCELED"
        assert_balances_mirror(fake, ex)

        dust = ex.submit_order("BTC/USDT", "sell", "market", 0.000001)
        assert dust.status is OrderStatus.REJECTED and dust.reason
        stop = ex.submit_order("BTC/USDT", "sell", "stop_market", 0.01, stop_price=30_000.0)
        assert stop.status is OrderStatus.REJECTED and "not supported" in (stop.reason or "")
        assert fake.find_order(client_order_id=dust.id) is None

        # A resting limit sell that fills when the clock moves is a maker fill.
        maker = ex.submit_order("BTC/USDT", "sell", "limit", buy.filled, 40_500.0)
        await wait_for(lambda: ex.pending_requests == 0)
        while maker.is_open:
            fake.advance(1)
            await wait_for(lambda: ex.pending_requests == 0 and ex.handled > 0)
            await asyncio.sleep(0.02)
        assert maker.status is OrderStatus.FILLED and ex.get_fills()[-1].taker is False
        assert ex.get_fills()[-1].fee == float(fake.trades[-1].commission)
        assert ex.get_position("BTC/USDT").amount == pytest.approx(0.0, abs=1e-12)
        assert len(ex.get_trades()) == 1 and ex.get_trades()[0].exit_price is not None
        assert {u.status for u in updates if u.id == buy.id} == {"open", "filled"}

        assert ex.candle is not None
        expires_at = ex.candle.timestamp + 3 * 60_000
        expiring = ex.submit_order(
            "BTC/USDT", "buy", "limit", 0.01, 20_000.0, expires_at=expires_at
        )
        for _ in range(5):
            fake.advance(1)
            await asyncio.sleep(0.05)
        await wait_for(lambda: expiring.status is OrderStatus.EXPIRED)
        assert fake.find_order(client_order_id=expiring.id).status == "CANCELED"
        assert_balances_mirror(fake, ex)
        assert_one_server_order_per_client_id(fake, ex.get_orders())
    finally:
        control.stop()
        with pytest.raises(StopRequested):
            await runner
        await ex.disconnect()


async def test_placement_is_idempotent_through_faults(fake: FakeBinance) -> None:
    log: list[str] = []
    ex = make_exchange(fake, log=log)
    await ex.connect()
    try:
        for fault, posts in FAULTS:
            fake.inject("/api/v3/order", method="POST", **fault)
            looked_up = len(fake.calls("/api/v3/order", "GET"))
            order = ex.submit_order("BTC/USDT", "buy", "market", 0.01)
            await wait_for(lambda: ex.pending_requests == 0, timeout=8)
            assert order.status is OrderStatus.FILLED, (fault, log)
            assert posts_by_client_id(fake)[order.id] == posts, fault
            assert len(fake.calls("/api/v3/order", "GET")) > looked_up  # looked up first
        assert_one_server_order_per_client_id(fake, ex.get_orders())
        assert [f.amount for f in ex.get_fills()] == [0.01] * len(FAULTS)
        assert sum("looking it up by client order id" in line for line in log) >= len(FAULTS)
        assert sum("recovered" in line for line in log) >= len(FAULTS)
        assert_balances_mirror(fake, ex)
    finally:
        await ex.disconnect()


async def test_gives_up_only_when_the_exchange_confirms_it_has_no_such_order(
    fake: FakeBinance,
) -> None:
    log: list[str] = []
    ex = make_exchange(fake, log=log, order_retry_seconds=0.0)
    await ex.connect()
    try:
        fake.inject("/api/v3/order", "503", method="POST")
        order = ex.submit_order("BTC/USDT", "buy", "market", 0.01)
        await wait_for(lambda: ex.pending_requests == 0, timeout=5)
        assert order.status is OrderStatus.REJECTED
        assert "never reached the exchange" in (order.reason or "")
        assert fake.orders == {} and posts_by_client_id(fake) == {order.id: 1}
    finally:
        await ex.disconnect()


@pytest.mark.parametrize("key", ["api_key", "secret", "apiKey"])
def test_literal_credentials_are_refused_without_echoing_them(fake: FakeBinance, key: str) -> None:
    literal = "literal-credential-Xy9!"
    literal_params: dict[str, Any] = {key: literal}
    with pytest.raises(ConfigError, match="api_key_env") as info:
        make_exchange(fake, **literal_params)
    assert literal not in str(info.value) and f"exchange.params.{key}" in str(info.value)


async def test_live_needs_keys_named_by_env(
    fake: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV)
    ex = make_exchange(fake)
    with pytest.raises(ConfigError, match=KEY_ENV):
        await ex.connect()
    await ex.disconnect()


async def test_secrets_are_registered_and_never_leak_from_a_refused_key(
    fake: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-live-key-Qp0021"
    monkeypatch.setenv(KEY_ENV, wrong)
    ex = make_exchange(fake)
    with pytest.raises(ConfigError, match="refused the API key") as info:
        await ex.connect()
    await ex.disconnect()
    assert redact(f"{wrong} {SECRET}") == "*** ***"
    blob = json.dumps(ex.snapshot()) + str(info.value) + repr(info.value)
    assert wrong not in blob and SECRET not in blob and API_KEY not in blob
