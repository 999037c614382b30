"""Drive ccxt's real async Binance class against the loopback FakeBinance server.

Every exchange call below goes through ccxt's own request signing, parsing and error
mapping; only the host is swapped for 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import ccxt.async_support as ccxt
import pytest

# tests/ is on pytest's pythonpath (pyproject.toml)
from fake_exchange import FakeBinance, make_binance

MINUTE = 60_000
START = 1_699_999_200_000  # 2023-11-14 22:00 UTC, hour aligned
CLOCK_INDEX = 300
N_CANDLES = 600

Row = tuple[int, float, float, float, float, float]


def btc_candles(n: int = N_CANDLES) -> list[Row]:
    """A steady ramp: close_i = 60000 + 10 i, open_i = close_{i-1} + 2 (a small gap)."""
    rows: list[Row] = []
    for i in range(n):
        close = 60_000.0 + 10 * i
        open_ = close - 8
        rows.append((START + i * MINUTE, open_, close + 5, open_ - 5, close, 1.5))
    return rows


def last_close(index: int = CLOCK_INDEX) -> float:
    """Close of the last closed BTC candle when the clock is at ``index``."""
    return 60_000 + 10 * (index - 1)


def next_open(index: int = CLOCK_INDEX) -> float:
    """Open of the in-progress BTC candle when the clock is at ``index``."""
    return 60_000 + 10 * index - 8


def flat_eth(n: int = N_CANDLES, price: float = 3000.0) -> list[Row]:
    """Flat ETH candles (range 2990-3010) to tweak per test."""
    return [(START + i * MINUTE, price, price + 10, price - 10, price, 4.0) for i in range(n)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    server = FakeBinance(balances={"USDT": 10_000, "BTC": "0.5"}, timeout_delay=5.0)
    server.load_klines("BTCUSDT", "1m", btc_candles())
    server.load_klines("ETHUSDT", "1m", flat_eth())
    server.set_candle_index(CLOCK_INDEX)
    async with server:
        yield server


@pytest.fixture
async def exchange(fake: FakeBinance) -> AsyncIterator[ccxt.binance]:
    ex = make_binance(fake.base_url, timeout_ms=2000)
    try:
        yield ex
    finally:
        await ex.close()


async def test_load_markets_parses_filters(fake: FakeBinance, exchange: ccxt.binance) -> None:
    markets = await exchange.load_markets()
    btc = markets["BTC/USDT"]
    assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
    assert btc["precision"]["amount"] == 0.00001
    assert btc["precision"]["price"] == 0.01
    assert btc["limits"]["amount"]["min"] == 0.00001
    assert btc["limits"]["cost"]["min"] == 5
    assert btc["limits"]["price"] == {"min": 0.01, "max": 1_000_000}
    assert markets["ETH/USDT"]["precision"]["amount"] == 0.0001
    # only the spot exchangeInfo endpoint: no sapi margin/capital calls
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/api/v3/exchangeInfo")]


async def test_fetch_time_and_ping(fake: FakeBinance, exchange: ccxt.binance) -> None:
    assert abs(await exchange.fetch_time() - fake.now_ms()) < 5_000
    assert await exchange.public_get_ping() == {}


async def test_fetch_ohlcv_serves_closed_candles_plus_the_open_one(
    exchange: ccxt.binance,
) -> None:
    candles = await exchange.fetch_ohlcv("BTC/USDT", "1m")
    assert len(candles) == CLOCK_INDEX + 1  # 300 closed + the in-progress one
    o, c = next_open(299), last_close()
    assert candles[-2] == [START + 299 * MINUTE, o, c + 5, o - 5, c, 1.5]
    ts, o, h, low, c, v = candles[-1]
    assert ts == START + CLOCK_INDEX * MINUTE
    assert o == h == low == c == next_open() and v == 0


async def test_fetch_ohlcv_paging_with_since_and_limit(exchange: ccxt.binance) -> None:
    since, pages, got = START, 0, []
    while True:
        page = await exchange.fetch_ohlcv("BTC/USDT", "1m", since=since, limit=120)
        if not page:
            break
        pages += 1
        got.extend(page)
        since = page[-1][0] + MINUTE
    assert pages == 3
    assert [c[0] for c in got] == [START + i * MINUTE for i in range(CLOCK_INDEX + 1)]


async def test_fetch_ohlcv_until_and_unset_clock(fake: FakeBinance, exchange: ccxt.binance) -> None:
    until = START + 99 * MINUTE
    candles = await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=10, params={"until": until})
    assert [c[0] for c in candles] == [START + i * MINUTE for i in range(90, 100)]
    fake.set_clock(None)  # no clock: every loaded candle is closed
    candles = await exchange.fetch_ohlcv("BTC/USDT", "1m")
    assert len(candles) == 500 and candles[-1][0] == START + (N_CANDLES - 1) * MINUTE
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == last_close(N_CANDLES)


async def test_fetch_ohlcv_follows_the_clock(fake: FakeBinance, exchange: ccxt.binance) -> None:
    fake.advance(2)
    candles = await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=3)
    assert [c[0] for c in candles] == [START + i * MINUTE for i in (300, 301, 302)]
    assert candles[0][4] == 60_000 + 3000  # formerly in progress, now closed with full data
    assert candles[-1][5] == 0


async def test_fetch_ohlcv_aggregates_higher_timeframes(exchange: ccxt.binance) -> None:
    candles = await exchange.fetch_ohlcv("BTC/USDT", "5m", limit=2)
    # clock at minute 300 = a 5m boundary: the last 5m candle has just opened
    closed, current = candles
    assert closed[0] == START + 295 * MINUTE
    assert closed[1] == next_open(295) and closed[4] == last_close()
    assert closed[5] == pytest.approx(7.5)
    assert current[0] == START + 300 * MINUTE and current[5] == 0
    hourly = await exchange.fetch_ohlcv("BTC/USDT", "1h")
    assert len(hourly) == 6  # five closed hours + the new one


async def test_fetch_ticker_and_order_book(exchange: ccxt.binance) -> None:
    ticker = await exchange.fetch_ticker("BTC/USDT")
    assert ticker["symbol"] == "BTC/USDT"
    assert ticker["last"] == last_close()
    assert ticker["bid"] == pytest.approx(last_close() - 0.01)
    assert ticker["ask"] == pytest.approx(last_close() + 0.01)
    assert ticker["baseVolume"] > 0
    tickers = await exchange.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}
    book = await exchange.fetch_order_book("BTC/USDT", limit=5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]


async def test_fetch_balance(fake: FakeBinance, exchange: ccxt.binance) -> None:
    balance = await exchange.fetch_balance()
    assert balance["USDT"] == {"free": 10_000, "used": 0, "total": 10_000}
    assert balance["BTC"]["free"] == 0.5
    assert balance["ETH"]["total"] == 0
    account = fake.calls("account")[0]
    assert {"timestamp", "signature", "recvWindow"} <= set(account.params)
    assert account.headers["X-MBX-APIKEY"] == "test-key"


async def test_market_buy_with_client_order_id(fake: FakeBinance, exchange: ccxt.binance) -> None:
    order = await exchange.create_order(
        "BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "mkt-1"}
    )
    price = last_close()
    assert order["clientOrderId"] == "mkt-1"
    assert order["status"] == "closed" and order["filled"] == 0.01
    assert order["average"] == price
    assert order["fee"] == {"currency": "USDT", "cost": pytest.approx(price * 0.01 * 0.001)}
    assert order["trades"][0]["price"] == price
    sent = fake.calls("order", "POST")[0].params
    assert sent["newClientOrderId"] == "mkt-1" and sent["type"] == "MARKET"
    balance = await exchange.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.51)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - price * 0.01 * 1.001)


async def test_market_sell_and_my_trades(exchange: ccxt.binance) -> None:
    await exchange.create_order("BTC/USDT", "market", "sell", 0.1)
    await exchange.create_order("BTC/USDT", "market", "buy", 0.02)
    trades = await exchange.fetch_my_trades("BTC/USDT")
    assert [(t["side"], t["amount"], t["takerOrMaker"]) for t in trades] == [
        ("sell", 0.1, "taker"),
        ("buy", 0.02, "taker"),
    ]
    assert trades[0]["cost"] == pytest.approx(0.1 * last_close())
    assert trades[0]["fee"]["currency"] == "USDT"
    assert len(await exchange.fetch_my_trades("BTC/USDT", limit=1)) == 1


async def test_market_buy_by_cost_uses_quote_order_qty(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    order = await exchange.create_market_buy_order_with_cost("BTC/USDT", 100)
    sent = fake.calls("order", "POST")[0].params
    assert sent["quoteOrderQty"] == "100" and "quantity" not in sent
    assert order["filled"] == pytest.approx(0.00158)  # floor(100 / 62990, step 0.00001)


async def test_fill_at_next_open_and_custom_fill_price(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    fake.fill_mode = "next_open"
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    assert order["average"] == next_open()
    fake.fill_price_fn = lambda server, symbol, side: server.last_price(symbol) * Decimal("1.01")
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    assert order["average"] == pytest.approx(last_close() * 1.01)


async def test_limit_order_lifecycle_locks_and_releases(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    order = await exchange.create_order(
        "BTC/USDT", "limit", "buy", 0.01, 50_000, params={"clientOrderId": "lim-1"}
    )
    assert order["status"] == "open" and order["clientOrderId"] == "lim-1"
    balance = await exchange.fetch_balance()
    assert balance["USDT"]["used"] == pytest.approx(500 * 1.001)  # notional + max commission
    assert balance["USDT"]["free"] == pytest.approx(10_000 - 500 * 1.001)

    open_orders = await exchange.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [order["id"]]
    by_id = await exchange.fetch_order(order["id"], "BTC/USDT")
    by_client_id = await exchange.fetch_order("", "BTC/USDT", params={"origClientOrderId": "lim-1"})
    assert by_id["id"] == by_client_id["id"] == order["id"]
    assert fake.calls("order", "GET")[-1].params["origClientOrderId"] == "lim-1"

    canceled = await exchange.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    # Binance echoes the cancel request's id as clientOrderId; the original is origClientOrderId
    assert canceled["info"]["origClientOrderId"] == "lim-1"
    assert canceled["clientOrderId"] != "lim-1"
    balance = await exchange.fetch_balance()
    assert balance["USDT"] == {"free": 10_000, "used": 0, "total": 10_000}
    assert await exchange.fetch_open_orders("BTC/USDT") == []
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.fetch_order("999999", "BTC/USDT")


async def test_limit_sell_locks_base(exchange: ccxt.binance) -> None:
    await exchange.create_order("BTC/USDT", "limit", "sell", 0.2, 70_000)
    balance = await exchange.fetch_balance()
    assert balance["BTC"] == {"free": pytest.approx(0.3), "used": 0.2, "total": 0.5}


async def test_limit_order_fills_after_advancing_the_clock(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    eth = flat_eth()
    eth[303] = (START + 303 * MINUTE, 3000.0, 3005.0, 2900.0, 2950.0, 9.0)  # dip through 2950
    eth[305] = (START + 305 * MINUTE, 3100.0, 3120.0, 3090.0, 3110.0, 9.0)  # gap up over 3050
    fake.load_klines("ETHUSDT", "1m", eth)
    fake.set_balance("ETH", "0.5")
    buy = await exchange.create_order("ETH/USDT", "limit", "buy", 1, 2950)
    sell = await exchange.create_order("ETH/USDT", "limit", "sell", 0.5, 3050)
    assert fake.advance(3) == []  # candles 300-302 never reach either price
    assert (await exchange.fetch_order(buy["id"], "ETH/USDT"))["status"] == "open"

    filled = fake.advance(1)  # candle 303 closes
    assert [o.order_id for o in filled] == [int(buy["id"])]
    got = await exchange.fetch_order(buy["id"], "ETH/USDT")
    assert got["status"] == "closed" and got["filled"] == 1 and got["average"] == 2950

    fake.advance(2)  # candle 305 opens at 3100 above the 3050 sell: filled at the open
    got = await exchange.fetch_order(sell["id"], "ETH/USDT")
    assert got["status"] == "closed" and got["average"] == 3100
    trades = await exchange.fetch_my_trades("ETH/USDT")
    assert [t["takerOrMaker"] for t in trades] == ["maker", "maker"]
    balance = await exchange.fetch_balance()
    assert balance["ETH"] == {"free": 1, "used": 0, "total": 1}
    assert balance["USDT"]["used"] == 0
    assert balance["USDT"]["free"] == pytest.approx(10_000 - 2950 * 1.001 + 1550 * 0.999)


async def test_marketable_limit_fills_immediately_and_post_only_is_rejected(
    exchange: ccxt.binance,
) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 70_000)
    assert order["status"] == "closed" and order["average"] == last_close()
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        await exchange.create_order(
            "BTC/USDT", "limit", "buy", 0.001, 70_000, params={"postOnly": True}
        )


async def test_fetch_closed_orders_uses_all_orders(exchange: ccxt.binance) -> None:
    await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000)
    closed = await exchange.fetch_closed_orders("BTC/USDT")
    assert [o["type"] for o in closed] == ["market"]
    assert len(await exchange.fetch_orders("BTC/USDT")) == 2


async def test_fee_in_received_asset(fake: FakeBinance, exchange: ccxt.binance) -> None:
    fake.fee_mode = "received"
    order = await exchange.create_order("BTC/USDT", "market", "buy", 0.01)
    assert order["fee"]["currency"] == "BTC"
    assert order["fee"]["cost"] == pytest.approx(0.00001)
    balance = await exchange.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.5 + 0.01 - 0.00001)


# ---------------------------------------------------------------------- exchange errors


async def test_insufficient_balance(exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("BTC/USDT", "market", "buy", 1)
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("ETH/USDT", "limit", "sell", 1, 5000)


async def test_filter_failures(fake: FakeBinance, exchange: ccxt.binance) -> None:
    # NOTIONAL (-1013): ccxt 4.5.90 maps it to BadRequest, *not* InvalidOrder.
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL") as err:
        await exchange.create_order("BTC/USDT", "market", "buy", 0.00005)
    assert not isinstance(err.value, ccxt.InvalidOrder)
    # PRICE_FILTER and LOT_SIZE bodies are matched by substring -> InvalidOrder.
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        await exchange.create_order("BTC/USDT", "limit", "sell", 0.001, 2_000_000)
    fake.add_market("SOLUSDT", "SOL", "USDT", step_size="0.001", min_qty="0.1")
    await exchange.load_markets(reload=True)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        await exchange.create_order("SOL/USDT", "market", "buy", 0.05)
    # Below the amount precision ccxt raises InvalidOrder itself: nothing is sent.
    sent = len(fake.calls("order"))
    with pytest.raises(ccxt.InvalidOrder, match="minimum amount precision"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.000001)
    assert len(fake.calls("order")) == sent


async def test_unknown_parameter_is_rejected(exchange: ccxt.binance) -> None:
    with pytest.raises(ccxt.BadRequest, match="-1104"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.001, params={"foo": "1"})


async def test_bad_api_key_and_bad_secret(fake: FakeBinance) -> None:
    for key, secret in (("wrong-key", "test-secret"), ("test-key", "wrong-secret")):
        ex = make_binance(fake.base_url, api_key=key, secret=secret)
        try:
            with pytest.raises(ccxt.AuthenticationError):
                await ex.fetch_balance()
        finally:
            await ex.close()
    assert len(fake.calls("account")) == 2


async def test_revoked_key_after_success_maps_to_ddos_protection(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    """ccxt quirk: -2015 after any successful private call is raised as DDoSProtection."""
    await exchange.fetch_balance()
    fake.api_key = "rotated"
    with pytest.raises(ccxt.DDoSProtection):
        await exchange.fetch_balance()


async def test_timestamp_outside_recv_window(fake: FakeBinance, exchange: ccxt.binance) -> None:
    fake.time_offset_ms = 60_000
    with pytest.raises(ccxt.InvalidNonce):
        await exchange.fetch_balance()


async def test_duplicate_client_order_id_rejected(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    params = {"clientOrderId": "dup-1"}
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)
    assert len(fake.open_orders()) == 1
    # Binance only requires uniqueness among *open* orders: reuse after a cancel is fine
    await exchange.cancel_order("", "BTC/USDT", params={"origClientOrderId": "dup-1"})
    await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)
    # the stricter policy rejects any reuse
    fake.duplicate_client_order_id = "any"
    await exchange.cancel_order("", "BTC/USDT", params={"origClientOrderId": "dup-1"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)


# ---------------------------------------------------------------------- transport faults


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("429", ccxt.DDoSProtection),
        ("418", ccxt.DDoSProtection),
        ("500", ccxt.ExchangeNotAvailable),
        ("503", ccxt.ExchangeNotAvailable),
    ],
)
async def test_http_faults(
    fake: FakeBinance, exchange: ccxt.binance, kind: str, error: type[Exception]
) -> None:
    fake.inject("/api/v3/ticker/24hr", kind, retry_after=0.05)
    with pytest.raises(error) as err:
        await exchange.fetch_ticker("BTC/USDT")
    assert isinstance(err.value, ccxt.NetworkError)
    await asyncio.sleep(0.06)  # a 429 or 418 asks to wait (Retry-After) before the next
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == last_close()  # one-shot
    assert fake.violations == []


async def test_503_with_binance_json_body_is_operation_failed(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    """A JSON error body wins over the HTTP status: -1001 -> OperationFailed, which is the
    *parent* of NetworkError, so `except NetworkError` does not catch it."""
    fake.inject(
        None,
        "503",
        payload={"code": -1001, "msg": "Internal error; unable to process your request."},
    )
    with pytest.raises(ccxt.OperationFailed) as err:
        await exchange.fetch_balance()
    assert not isinstance(err.value, ccxt.NetworkError)


async def test_timeout(fake: FakeBinance, exchange: ccxt.binance) -> None:
    exchange.timeout = 200
    fake.inject("klines", "timeout", count=1)
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)
    assert len(await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2)) == 2


async def test_dropped_connection(fake: FakeBinance, exchange: ccxt.binance) -> None:
    await exchange.load_markets()
    fake.inject("order", "drop", method="POST")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    assert fake.orders == {}  # dropped before the engine saw it
    # GET (and DELETE) are retried once by aiohttp on a dropped connection: invisible to ccxt
    fake.inject("ticker/24hr", "drop")
    await exchange.fetch_ticker("BTC/USDT")
    assert len(fake.calls("ticker/24hr")) == 2


async def test_cancel_response_dropped_then_aiohttp_retry_reports_order_not_found(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000)
    fake.inject("order", "drop", method="DELETE", after_processing=True)
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.cancel_order(order["id"], "BTC/USDT")
    assert fake.orders[int(order["id"])].status == "CANCELED"
    assert len(fake.calls("order", "DELETE")) == 2


async def test_lost_order_response_then_retry_with_same_client_id(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    await exchange.load_markets()
    exchange.timeout = 200
    params = {"clientOrderId": "retry-1"}
    fake.lose_order_response("timeout")
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)
    assert len(fake.open_orders()) == 1  # accepted although the client saw a timeout
    # a blind resend of an order that is still open is rejected as a duplicate ...
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 50_000, params)
    # ... and the order is recoverable by its client id
    found = await exchange.fetch_order("", "BTC/USDT", params={"origClientOrderId": "retry-1"})
    assert found["status"] == "open" and found["clientOrderId"] == "retry-1"
    assert len(fake.orders) == 1


async def test_lost_market_order_response_resend_duplicates_unless_checked(
    fake: FakeBinance, exchange: ccxt.binance
) -> None:
    """A filled order no longer blocks its client id on Binance: query before resending."""
    await exchange.load_markets()
    fake.lose_order_response("drop")
    params = {"clientOrderId": "retry-2"}
    with pytest.raises(ccxt.NetworkError):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.001, params=params)
    found = await exchange.fetch_order("", "BTC/USDT", params={"origClientOrderId": "retry-2"})
    assert found["status"] == "closed" and found["filled"] == 0.001
    await exchange.create_order("BTC/USDT", "market", "buy", 0.001, params=params)
    assert len(fake.orders) == 2  # the blind resend bought twice
    fake.duplicate_client_order_id = "any"
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.001, params=params)


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` (robust against a loaded machine, unlike fixed sleeps)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_outage_then_recovery(fake: FakeBinance, exchange: ccxt.binance) -> None:
    await exchange.load_markets()
    fake.outage(0.5)
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.fetch_ticker("BTC/USDT")
    await wait_until(lambda: not fake.in_outage)
    assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == last_close()

    fake.outage_on()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.fetch_balance()
    fake.outage_off()
    assert (await exchange.fetch_balance())["USDT"]["free"] == 10_000


async def test_connection_refused_then_recovery(fake: FakeBinance, exchange: ccxt.binance) -> None:
    await exchange.load_markets()
    await exchange.fetch_ticker("BTC/USDT")  # leave a pooled keep-alive connection behind
    port = fake.port
    await fake.go_offline()
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.fetch_ticker("BTC/USDT")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.create_order("BTC/USDT", "market", "buy", 0.001)
    assert fake.orders == {}
    await fake.go_online()
    assert fake.port == port
    assert (await exchange.create_order("BTC/USDT", "market", "buy", 0.001))["status"] == "closed"

    await fake.go_offline(seconds=0.5)  # comes back by itself
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await exchange.fetch_balance()
    await wait_until(lambda: not fake.is_offline)
    assert (await exchange.fetch_balance())["BTC"]["free"] == pytest.approx(0.501)


async def test_request_log(fake: FakeBinance, exchange: ccxt.binance) -> None:
    await exchange.fetch_ohlcv("BTC/USDT", "1h", since=START, limit=3)
    klines = fake.calls("/api/v3/klines", "GET")
    assert klines[-1].params == {
        "symbol": "BTCUSDT",
        "interval": "1h",
        "startTime": str(START),
        "limit": "3",
    }
    fake.clear_log()
    assert fake.requests == []
