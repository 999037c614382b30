"""Issue 9 items 4, 5, 6 and 9: what ATS does with a real exchange's network behaviour,
against the loopback FakeBinance through ccxt's real binance class.

- rate limits and bans: one limiter per exchange host, shared by every job and the
  downloader, never sends inside a Retry-After window or a ban, says so once;
- errors by kind: 4xx not retried, -1007 looked up by client order id;
- the exchange's clock decides which candle is closed (downloader, feed) and signs
  private requests, with the exchange clock 30 s either side of the local one;
- sandbox mode and spot-only markets with just a base URL.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    assert_one_server_order_per_client_id,
    live_params,
    make_exchange,
    posts_by_client_id,
)
from paper_helpers import (
    MINUTE,
    START,
    WARMUP,
    feed_params,
    job_config,
    wait_for,
    wavy_candles,
)

from ats.data.candle_readers import load_candles
from ats.data.downloader import download_candles
from ats.exceptions import ConfigError, ExchangeRefused
from ats.exchanges.data_classes import OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.rate_limit import limiter_for
from ats.exchanges.run_control import RunControl
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.trading_job.view_builder import view_of
from ats.ui.job_view import job_row
from ats.utils.plugins import default_loader


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    yield


def limited_server(**limits: Any) -> FakeBinance:
    server = FakeBinance(
        api_key=API_KEY,
        secret=SECRET,
        balances={"USDT": 10_000},
        fill_mode="next_open",
        **limits,
    )
    server.add_market("BTCUSDT", "BTC", "USDT", step_size="0.00000001")
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    return server


def start_job(manager: JobManager, name: str, mode: str, exchange: dict[str, Any]) -> TradingJob:
    job = manager.create(parse_job_config({**job_config(name, exchange), "mode": mode}))
    manager.start(job.id)
    return job


def limiter_lines(job: TradingJob) -> list[str]:
    return [
        log.message for log in job.logs if "(HTTP 429)" in log.message or "HTTP 418" in log.message
    ]


# -- 4. rate limits and bans -----------------------------------------------------------


async def test_jobs_and_downloader_share_one_limiter_and_never_send_inside_retry_after(
    credentials: None, tmp_path: Path
) -> None:
    """A weight limit small enough that a live job, a paper job and a download together
    run into it again and again: each 429's Retry-After is honoured by all of them (zero
    requests inside a window), trading and downloading go on, and each job's log says so
    once per window instead of once per refused request."""
    async with limited_server(weight_limit=80, weight_window=0.25) as fake:
        manager = JobManager()
        fast = {"poll_seconds": 0.02, "warmup": WARMUP}
        live = start_job(
            manager, "live", "live", {"name": "ccxt", "params": live_params(fake, **fast)}
        )
        paper = start_job(
            manager, "paper", "paper", {"name": "paper", "params": feed_params(fake, **fast)}
        )
        downloaded: list[str] = []
        download = asyncio.create_task(
            download_candles(
                exchange_id="binance",
                symbol="BTC/USDT",
                timeframe="1m",
                since=START,
                until=START + WARMUP * MINUTE,
                out=tmp_path / "btc.csv",
                urls=fake.base_url,
                page_size=2,
                log=lambda level, message: downloaded.append(message),
            )
        )
        feeds = [job.exchange.feed for job in (live, paper)]  # type: ignore[union-attr]
        await wait_for(lambda: all(feed.count >= WARMUP for feed in feeds), timeout=20)
        for _ in range(35):
            fake.advance(1)
            index = fake.candle_index()
            await wait_for(lambda index=index: all(f.count >= index for f in feeds), 20)
            await wait_for(lambda: live.exchange.pending_requests == 0, timeout=20)  # type: ignore[union-attr]
            assert live.status is JobStatus.RUNNING and paper.status is JobStatus.RUNNING
        progress = await asyncio.wait_for(download, 20)
        for job in (live, paper):
            manager.stop(job.id)
            await manager.wait(job.id)
            assert job.status is JobStatus.STOPPED, job.error

    assert fake.limits.rate_limited >= 5  # the limit was hit, repeatedly
    assert fake.violations == []  # and nothing was sent inside a Retry-After window
    assert progress.written == WARMUP and downloaded  # the download heard of it too
    ex = live.exchange
    assert isinstance(ex, Exchange) and len(ex.get_orders()) >= 2
    assert all(o.status is OrderStatus.FILLED for o in ex.get_orders())
    assert_one_server_order_per_client_id(fake, ex.get_orders())
    assert live.report is not None and paper.report is not None
    assert live.report["trades"] and len(live.report["trades"]) == len(paper.report["trades"])
    for job in (live, paper):
        said = limiter_lines(job)
        assert said and len(said) <= fake.limits.rate_limited + len(fake.limits.in_flight)
        assert not any("DDoSProtection" in log.message for log in job.logs)  # no retry noise


async def test_a_ban_stops_every_request_until_its_end_and_shows_in_the_job_row() -> None:
    async with limited_server(weight_limit=None) as fake:
        manager = JobManager()
        paper = start_job(
            manager,
            "paper",
            "paper",
            {"name": "paper", "params": feed_params(fake, warmup=WARMUP, poll_seconds=0.002)},
        )
        feed = paper.exchange.feed  # type: ignore[union-attr]
        await wait_for(lambda: feed.count >= WARMUP)
        fake.inject("/api/v3/klines", "418", retry_after=0.6)
        fake.advance(1)
        await wait_for(lambda: paper.exchange.connection_state is not None)  # type: ignore[union-attr]
        banned_at = time.monotonic()
        row = job_row(view_of(paper))
        assert row.connection is not None
        assert re.fullmatch(r"banned until \d\d:\d\d:\d\d", row.connection)
        requests = len(fake.requests)
        await asyncio.sleep(0.4)
        assert len(fake.requests) == requests  # nothing at all during the ban
        await wait_for(lambda: feed.count >= WARMUP + 1)
        assert time.monotonic() - banned_at >= 0.5
        assert job_row(view_of(paper)).connection is None
        fake.advance(1)
        await wait_for(lambda: feed.count >= WARMUP + 2)
        manager.stop(paper.id)
        await manager.wait(paper.id)
    assert fake.violations == []
    messages = [log.message for log in paper.logs]
    assert sum("banned this IP (HTTP 418)" in m for m in messages) == 1
    assert sum("the IP ban is over" in m for m in messages) == 1


# -- 5. errors by kind ---------------------------------------------------------------------


async def test_a_refused_request_is_one_line_and_not_retried(credentials: None) -> None:
    async with limited_server() as fake:
        fake.inject("/api/v3/account", "403", count=-1)  # a firewall block
        ex = make_exchange(fake)
        try:
            with pytest.raises(ExchangeRefused, match=r"fetch balance: HTTP 403: .*not retried"):
                await ex.connect()
        finally:
            await ex.disconnect()
        assert len(fake.calls("/api/v3/account")) == 1


async def test_a_404_from_an_unserved_market_type_is_one_line_and_not_retried(
    tmp_path: Path,
) -> None:
    async with FakeBinance() as fake:
        fake.load_klines("BTCUSDT", "1m", wavy_candles())
        fake.set_clock(None)
        command = [
            sys.executable, "-m", "ats.cli", "data", "download", "--exchange", "binance",
            "--symbol", "BTC/USDT", "--timeframe", "1m", "--since", "2024-01-01",
            "--until", "2024-01-01T01:00", "--out", str(tmp_path / "x.csv"),
            "--url", fake.base_url, "--option", "fetchMarkets={types: [spot, linear]}",
        ]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    errors = [line for line in stderr.decode().splitlines() if line.startswith("ats: error:")]
    assert process.returncode == 2, stderr.decode()
    assert len(errors) == 1 and "HTTP 404" in errors[0] and "not retried" in errors[0], errors
    assert len(fake.calls("/fapi/v1/exchangeInfo")) == 1


@pytest.mark.parametrize("accepted", [True, False])
async def test_an_order_with_status_unknown_is_looked_up_never_blindly_resent(
    credentials: None, accepted: bool
) -> None:
    """Binance -1007: "Send status unknown; execution status unknown." The order is looked
    up by client order id; if the exchange has it, it is adopted; if not, it is sent
    again only once the first request can no longer be accepted (recvWindow)."""
    async with limited_server() as fake:
        log: list[str] = []
        ex = make_exchange(fake, log=log)
        await ex.connect()
        try:
            fake.unknown_order_status(accepted=accepted)
            order = ex.submit_order("BTC/USDT", "buy", "market", 0.01)
            await wait_for(lambda: ex.pending_requests == 0)
        finally:
            await ex.disconnect()
    assert order.status is OrderStatus.FILLED
    assert posts_by_client_id(fake) == {order.id: 1 if accepted else 2}
    assert_one_server_order_per_client_id(fake, [order])
    order_requests = [r for r in fake.requests if r.path == "/api/v3/order"]
    assert order_requests[1].method == "GET"  # looked up before anything else
    assert order_requests[1].params["origClientOrderId"] == order.id
    assert any("RequestTimeout" in line and "-1007" in line for line in log)
    if not accepted:  # resent after looking twice, the second time once it could not land
        posts = [i for i, r in enumerate(order_requests) if r.method == "POST"]
        assert [r.method for r in order_requests[posts[0] : posts[1]]].count("GET") == 2


# -- 6. the exchange's clock decides ----------------------------------------------------------


def seconds_candles(now_ms: int) -> list[tuple[int, float, float, float, float, float]]:
    """1s candles around ``now_ms``: 3 minutes before, 1 minute after."""
    first = now_ms // 1000 * 1000 - 180_000
    rows = []
    for i in range(240):
        price = 100.0 + (i % 17)
        rows.append((first + i * 1000, price, price + 3.5, price - 2.25, price + 1.25, 2.5))
    return rows


def skewed_server(offset_ms: int, **options: Any) -> FakeBinance:
    """Market data on the server's wall clock, ``offset_ms`` from ours; a still-open
    candle that moves as its second passes."""
    server = FakeBinance(
        api_key=API_KEY,
        secret=SECRET,
        balances={"USDT": 10_000},
        partial_candle="progressive",
        **options,
    )
    server.load_klines("BTCUSDT", "1s", seconds_candles(int(time.time() * 1000) + offset_ms))
    server.time_offset_ms = offset_ms
    server.use_wall_clock()
    return server


def assert_rows_are_closed_candles(fake: FakeBinance, path: Path) -> list[int]:
    """Every row equals the candle as loaded (the final one, not a still-open view)."""
    served = {c.ts: c for c in fake.klines("BTCUSDT", "1s")}
    data = load_candles(path)
    for i, ts in enumerate(data.timestamps.tolist()):
        candle = served[ts]
        got = (data.open[i], data.high[i], data.low[i], data.close[i], data.volume[i])
        want = tuple(float(v) for v in (candle.open, candle.high, candle.low, candle.close))
        assert got == (*want, float(candle.volume)), ts
    stamps: list[int] = data.timestamps.tolist()
    return stamps


@pytest.mark.parametrize("offset_ms", [-30_000, 30_000])
async def test_download_ends_at_the_exchange_clock_and_rerun_replaces_an_open_row(
    tmp_path: Path, offset_ms: int
) -> None:
    """The exchange's clock 30 s behind ours: what our clock calls closed is still open
    there. 30 s ahead: candles our clock calls future are closed there."""
    out = tmp_path / "btc.csv"
    async with skewed_server(offset_ms) as fake:
        since = fake.now_ms() // 1000 * 1000 - 90_000

        async def download() -> None:
            await download_candles(
                exchange_id="binance",
                symbol="BTC/USDT",
                timeframe="1s",
                since=since,
                until=None,
                out=out,
                urls=fake.base_url,
            )

        await download()
        stamps = assert_rows_are_closed_candles(fake, out)
        assert stamps[0] == since and stamps[-1] + 1000 <= fake.now_ms()
        assert stamps[-1] >= fake.now_ms() - 3000  # up to the exchange's now, not ours

        # A file written by a downloader that trusted the local clock ends in a candle
        # that was still open: the rerun must replace that row, not resume after it.
        lines = out.read_text().splitlines()
        cells = lines[-1].split(",")
        cells[4] = repr(float(cells[4]) - 0.75)  # the close it had while open
        out.write_text("\n".join([*lines[:-1], ",".join(cells)]) + "\n")
        await download()
        again = assert_rows_are_closed_candles(fake, out)
        assert again[: len(stamps)] == stamps and again == sorted(set(again))


@pytest.mark.parametrize("offset_ms", [-30_000, 30_000])
async def test_feed_hands_out_closed_candles_by_the_exchange_clock(offset_ms: int) -> None:
    async with skewed_server(offset_ms) as fake:
        feed = CcxtFeed("BTC/USDT", {**feed_params(fake, warmup=3), "timeframe": "1s"})
        await feed.open()
        try:
            async with asyncio.timeout(5):
                got = [await feed.next_candle(RunControl()) for _ in range(4)]
        finally:
            await feed.close()
        served = {c.ts: c for c in fake.klines("BTCUSDT", "1s")}
        for candle in got:
            assert candle is not None
            final = served[candle.timestamp]
            assert candle.close == float(final.close) and candle.volume == float(final.volume)
            assert candle.timestamp + 1000 <= fake.now_ms()
        assert [c.timestamp for c in got if c] == list(
            range(got[0].timestamp, got[0].timestamp + 4000, 1000)
        )  # type: ignore[union-attr]


@pytest.mark.parametrize("offset_ms", [-30_000, 30_000])
async def test_live_signs_with_the_exchange_clock_and_loads_spot_markets_only(
    credentials: None, offset_ms: int
) -> None:
    """No ``options`` at all, only a base URL: spot markets only (no /fapi, /dapi, /sapi),
    and private requests signed with the exchange's time, 30 s away from ours."""
    async with skewed_server(offset_ms) as fake:
        params = {
            "exchange": "binance",
            "timeframe": "1s",
            "urls": fake.base_url,
            "api_key_env": KEY_ENV,
            "secret_env": SECRET_ENV,
            "enable_rate_limit": False,
            "poll_seconds": 0.05,
            "connect_max_failures": 3,
            "backoff_seconds": 0.01,
        }
        fees = default_loader.fees_class("flat_rate")(rate=0.001)
        ex = Exchange(symbol="BTC/USDT", fees=fees, balances={}, config=params)
        await ex.connect()
        try:
            order = ex.submit_order("BTC/USDT", "buy", "market", 0.1)
            await wait_for(lambda: ex.pending_requests == 0)
            assert order.status is OrderStatus.FILLED, order.reason
            assert ex.get_wallet_balance("BTC").free == pytest.approx(0.1)
        finally:
            await ex.disconnect()
    paths = {r.path for r in fake.requests}
    assert not [p for p in paths if p.startswith(("/fapi", "/dapi", "/sapi", "/eapi"))], paths
    assert len(fake.calls("/api/v3/exchangeInfo")) == 1


async def test_clocks_drifting_apart_later_are_compared_again(credentials: None) -> None:
    async with skewed_server(0) as fake:
        log: list[str] = []
        params = {**live_params(fake, timeframe="1s"), "options": {}, "connect_max_failures": 3}
        fees = default_loader.fees_class("flat_rate")(rate=0.001)
        ex = Exchange(
            symbol="BTC/USDT",
            fees=fees,
            balances={},
            config=params,
            log=lambda level, message: log.append(message),
        )
        await ex.connect()
        try:
            fake.time_offset_ms = -30_000  # the exchange's clock is now 30 s behind
            order = ex.submit_order("BTC/USDT", "buy", "market", 0.1)
            await wait_for(lambda: ex.pending_requests == 0)
            assert order.status is OrderStatus.FILLED, order.reason
            fake.time_offset_ms = 30_000  # and now 30 s ahead
            await ex.sync()
            assert ex.get_wallet_balance("BTC").free == pytest.approx(0.1)
        finally:
            await ex.disconnect()
    assert posts_by_client_id(fake) == {order.id: 2}  # refused for its timestamp, resent
    assert sum("its clock is" in line for line in log) == 2


# -- 9. sandbox ----------------------------------------------------------------------------


async def test_sandbox_switches_to_the_test_network_before_custom_urls() -> None:
    feed = CcxtFeed("BTC/USDT", {"exchange": "binance", "sandbox": True})
    await feed.open()
    try:
        assert feed.client.urls["api"]["public"] == "https://testnet.binance.vision/api/v3"
        assert feed.client.options["fetchMarkets"]["types"] == ["spot"]
    finally:
        await feed.close()
    async with FakeBinance() as fake:
        fake.load_klines("BTCUSDT", "1m", wavy_candles())
        fake.set_candle_index(WARMUP)
        feed = CcxtFeed("BTC/USDT", {**feed_params(fake, warmup=2), "sandbox": True})
        await feed.open()
        try:
            async with asyncio.timeout(5):
                assert (await feed.next_candle(RunControl())) is not None
        finally:
            await feed.close()
    with pytest.raises(ConfigError, match="sandbox must be true or false"):
        CcxtFeed("BTC/USDT", {"sandbox": "yes"})


def test_one_limiter_per_exchange_host() -> None:
    async def limiters() -> list[object]:
        return [
            limiter_for("binance", "https://api.binance.com"),
            limiter_for("binance", "https://api.binance.com"),
            limiter_for("binance", "https://testnet.binance.vision"),
        ]

    first, again, testnet = asyncio.run(limiters())
    assert first is again and first is not testnet
