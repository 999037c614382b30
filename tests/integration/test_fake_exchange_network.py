"""The loopback FakeBinance's network behaviour, as Binance documents it: request weight,
429 + Retry-After, 418 bans for requests inside the window (escalating), the server clock
with an offset, a still-open last kline that keeps moving, -1007 and 404s.

Driven through ccxt's real binance class, or raw aiohttp where ccxt would hide the
headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import ccxt.async_support as ccxt
import pytest
from fake_exchange import FakeBinance, make_binance

MINUTE = 60_000
START = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def ramp(n: int = 30) -> list[tuple[int, float, float, float, float, float]]:
    return [(START + i * MINUTE, 100.0 + i, 110.0 + i, 95.0 + i, 104.0 + i, 8.0) for i in range(n)]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    # a window long enough for a test's 18 requests on a loaded machine (they take ~0.05 s)
    server = FakeBinance(weight_limit=30, weight_window=1.0, ban_seconds=0.3, in_flight_grace=0)
    server.load_klines("BTCUSDT", "1m", ramp())
    server.set_candle_index(10)
    async with server:
        yield server


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], dict]:
    async with session.get(url) as response:
        return response.status, dict(response.headers), await response.json()


async def wait_for_fresh_window(fake: FakeBinance) -> None:
    """Start at the beginning of a weight interval, so a test's requests share one."""
    window = fake.limits.window_seconds
    await asyncio.sleep(window - time.monotonic() % window + 0.005)


async def test_weight_429_retry_after_then_418_ban_for_a_request_inside_the_window(
    fake: FakeBinance,
) -> None:
    url = fake.base_url + "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5"
    async with aiohttp.ClientSession() as session:
        await wait_for_fresh_window(fake)
        used = []
        for _ in range(15):  # klines weigh 2: 15 of them use the 30 allowed
            status, headers, _ = await get(session, url)
            assert status == 200
            used.append(int(headers["X-MBX-USED-WEIGHT-1M"]))
        assert used == list(range(2, 31, 2))
        status, headers, body = await get(session, url)
        assert status == 429 and body["code"] == -1003
        assert "Too much request weight used; current limit is 30" in body["msg"]
        retry_after = float(headers["Retry-After"])
        assert 0 < retry_after <= 1.0
        assert fake.violations == []

        asked_ms = fake.now_ms()
        status, headers, body = await get(session, fake.base_url + "/api/v3/time")  # too soon
        answered_ms = fake.now_ms()
        assert status == 418 and body["code"] == -1003
        assert "IP banned until" in body["msg"]
        banned_until = int(body["msg"].split("banned until ")[1].split(".")[0])
        assert asked_ms + 300 - 1 <= banned_until <= answered_ms + 300 + 1  # 0.3 s from then
        assert float(headers["Retry-After"]) == pytest.approx(0.3, abs=0.05)
        assert [r.path for r in fake.violations] == ["/api/v3/time"]

        asked = time.monotonic()
        status, _, _ = await get(session, fake.base_url + "/api/v3/time")  # during the ban
        answered = time.monotonic()
        assert status == 418
        assert asked + 0.6 - 0.001 <= fake.limits.ban_until <= answered + 0.6 + 0.001
        assert len(fake.violations) == 2  # and the ban doubled

        await asyncio.sleep(fake.limits.blocked_for() + 0.01)
        status, headers, body = await get(session, fake.base_url + "/api/v3/time")
        assert status == 200 and abs(body["serverTime"] - fake.now_ms()) < 100
        assert len(fake.violations) == 2


async def test_requests_already_on_their_way_are_refused_but_not_counted() -> None:
    async with FakeBinance(in_flight_grace=0.2) as fake:
        fake.inject("/api/v3/ping", "429", retry_after=0.5)
        async with aiohttp.ClientSession() as session:
            assert (await get(session, fake.base_url + "/api/v3/ping"))[0] == 429
            assert (await get(session, fake.base_url + "/api/v3/time"))[0] == 429
            assert fake.violations == [] and len(fake.limits.in_flight) == 1
            await asyncio.sleep(0.25)
            assert (await get(session, fake.base_url + "/api/v3/time"))[0] == 418
            assert len(fake.violations) == 1


async def test_ccxt_sees_429_and_418_as_ddos_protection(fake: FakeBinance) -> None:
    exchange = make_binance(fake.base_url)
    try:
        fake.inject("/api/v3/ticker/24hr", "418", retry_after=0.2)
        with pytest.raises(ccxt.DDoSProtection):
            await exchange.fetch_ticker("BTC/USDT")
        assert exchange.last_response_headers["Retry-After"] == "0.200"
        await asyncio.sleep(0.21)
        assert (await exchange.fetch_ticker("BTC/USDT"))["last"] == 113.0
        assert fake.violations == []
    finally:
        await exchange.close()


@pytest.mark.parametrize("offset_ms", [-30_000, 30_000])
async def test_server_clock_and_market_data_follow_the_offset(offset_ms: int) -> None:
    now = int(time.time() * 1000)
    first = now // 1000 * 1000 - 120_000
    rows = [(first + i * 1000, 100, 101, 99, 100.5, 2) for i in range(240)]
    async with FakeBinance(partial_candle="full") as fake:
        fake.load_klines("BTCUSDT", "1s", rows)
        fake.time_offset_ms = offset_ms
        fake.use_wall_clock()
        exchange = make_binance(fake.base_url)
        try:
            server_time = await exchange.fetch_time()
            assert server_time - int(time.time() * 1000) == pytest.approx(offset_ms, abs=200)
            klines = await exchange.fetch_ohlcv("BTC/USDT", "1s", limit=5)
            newest = klines[-1][0]
            assert newest <= exchange.milliseconds() + offset_ms < newest + 1000 + 200
        finally:
            await exchange.close()


async def test_the_open_candle_moves_until_it_closes() -> None:
    async with FakeBinance(partial_candle="progressive") as fake:
        fake.load_klines("BTCUSDT", "1m", ramp())
        exchange = make_binance(fake.base_url)
        try:
            seen = []
            for seconds in (0, 15, 30, 59):
                fake.set_clock(START + 10 * MINUTE + seconds * 1000)
                seen.append((await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2))[-1])
            fake.set_clock(START + 11 * MINUTE)
            closed = (await exchange.fetch_ohlcv("BTC/USDT", "1m", limit=2))[-2]
        finally:
            await exchange.close()
        assert {row[0] for row in seen} == {START + 10 * MINUTE}
        assert seen[0][1:] == [110.0, 110.0, 110.0, 110.0, 0.0]  # just opened
        closes = [row[4] for row in seen]
        highs, lows, volumes = (
            [row[2] for row in seen],
            [row[3] for row in seen],
            [row[5] for row in seen],
        )
        assert closes == sorted(closes) and len(set(closes)) == 4  # walks to the close
        assert highs == sorted(highs) and lows == sorted(lows, reverse=True)
        assert volumes == sorted(volumes) and volumes[-1] < 8.0
        assert closed[1:] == [110.0, 120.0, 105.0, 114.0, 8.0]  # the loaded candle


@pytest.mark.parametrize("accepted", [True, False])
async def test_minus_1007_leaves_the_order_accepted_or_not(accepted: bool) -> None:
    async with FakeBinance(balances={"USDT": 10_000}) as fake:
        fake.load_klines("BTCUSDT", "1m", ramp())
        fake.set_candle_index(10)
        exchange = make_binance(fake.base_url)
        try:
            await exchange.load_markets()
            fake.unknown_order_status(accepted=accepted)
            with pytest.raises(ccxt.RequestTimeout, match="-1007"):
                await exchange.create_order(
                    "BTC/USDT", "market", "buy", 0.1, params={"clientOrderId": "x1"}
                )
        finally:
            await exchange.close()
        assert (fake.find_order(client_order_id="x1") is not None) is accepted


async def test_endpoints_a_spot_host_does_not_serve_are_404() -> None:
    async with FakeBinance() as fake, aiohttp.ClientSession() as session:
        for path in ("/fapi/v1/exchangeInfo", "/sapi/v1/capital/config/getall"):
            async with session.get(fake.base_url + path) as response:
                assert response.status == 404
