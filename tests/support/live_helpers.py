"""Live ccxt jobs against the loopback FakeBinance: credentials, params and shared checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fake_exchange import FakeBinance
from fake_exchange.models import fmt
from paper_helpers import LOOPBACK_OPTIONS, WARMUP, feed_params, wavy_candles

from ats.exchanges.data_classes import Order, OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.utils.plugins import default_loader

KEY_ENV, SECRET_ENV = "LIVE_TEST_API_KEY", "LIVE_TEST_SECRET"


API_KEY, SECRET = "live-test-key-Zq81", "live-test-secret-Wm47xT"


GRACE_MS = 300


"""Binance may accept a request until recvWindow after it was signed; the tests use a
short recvWindow (250 ms) so "is it safe to resend" is answered in well under a second."""


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    yield


@pytest.fixture
async def fake(credentials: None) -> AsyncIterator[FakeBinance]:
    server = FakeBinance(
        api_key=API_KEY, secret=SECRET, balances={"USDT": 10_000}, timeout_delay=2.0
    )
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    async with server:
        yield server


def sma_cross_server(step_size: str | None = None, **options: Any) -> FakeBinance:
    """A server for a live sma_cross job on ``wavy_candles()``: 10,000 USDT, market orders
    filled at the next candle's open with the flat_rate plugin's 0.1 % fee (in quote),
    the clock at ``WARMUP``. ``step_size`` sets BTCUSDT's lot step."""
    server = FakeBinance(
        api_key=API_KEY,
        secret=SECRET,
        balances={"USDT": 10_000},
        fill_mode="next_open",
        taker_rate="0.001",
        **options,
    )
    if step_size is not None:
        server.add_market("BTCUSDT", "BTC", "USDT", step_size=step_size)
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    return server


def live_params(fake: FakeBinance, **extra: Any) -> dict[str, Any]:
    """Feed params plus what a live exchange needs; fast timeouts and backoff for tests."""
    return {
        **feed_params(fake, warmup=1),
        "options": {**LOOPBACK_OPTIONS, "recvWindow": 250},
        "api_key_env": KEY_ENV,
        "secret_env": SECRET_ENV,
        "enable_rate_limit": False,
        "order_grace_ms": GRACE_MS,
        "disconnect_grace_seconds": 2.0,
        **extra,
    }


def make_exchange(fake: FakeBinance, *, log: list[str] | None = None, **extra: Any) -> Exchange:
    fees = default_loader.fees_class("flat_rate")(rate=0.001)
    sink = log if log is not None else []
    return Exchange(
        symbol="BTC/USDT",
        fees=fees,
        balances={},
        config=live_params(fake, **extra),
        log=lambda level, message: sink.append(f"{level} {message}"),
    )


def posts_by_client_id(fake: FakeBinance) -> dict[str, int]:
    """How many create requests carried each client order id (resends included)."""
    counts: dict[str, int] = {}
    for request in fake.calls("/api/v3/order", "POST"):
        cid = request.params.get("newClientOrderId", "")
        counts[cid] = counts.get(cid, 0) + 1
    return counts


def assert_one_server_order_per_client_id(fake: FakeBinance, orders: list[Order]) -> None:
    """Nothing duplicated (one stored order per client id) and nothing lost (every order
    the exchange was told about, and no other)."""
    stored = [o.client_order_id for o in fake.orders.values()]
    assert len(stored) == len(set(stored)), f"duplicated: {stored}"
    ours = {o.client_order_id for o in orders if o.status is not OrderStatus.REJECTED}
    assert set(stored) == ours


def assert_balances_mirror(fake: FakeBinance, ex: Exchange) -> None:
    """Exactly what the account endpoint reports (Binance shows 8 decimals)."""
    for asset, balance in fake.balances.items():
        mine = ex.get_wallet_balance(asset)
        served = (float(fmt(balance.free)), float(fmt(balance.locked)))
        assert (mine.free, mine.used) == served, asset


FAULTS: list[tuple[dict[str, Any], int]] = [
    ({"kind": "429", "count": 2, "retry_after": 0.05}, 3),  # refused: looked up, then resent
    ({"kind": "503"}, 2),  # outcome unknown, not processed: resent once it cannot land
    ({"kind": "timeout", "delay": 1.0}, 2),  # never processed; the client times out
    ({"kind": "drop"}, 2),
    ({"kind": "timeout", "after_processing": True}, 1),  # lost response: found, not resent
    ({"kind": "drop", "after_processing": True}, 1),
    ({"kind": "500", "payload": {"code": -1001, "msg": "Internal error"}}, 2),
]


"""Fault on the create request -> how many create requests the order takes."""
