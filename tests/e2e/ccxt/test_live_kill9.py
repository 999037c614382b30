"""Acceptance (issue 5, item 4; issue 9, acceptance 3): a real ATS process running a live
sma_cross job is killed with SIGKILL while an order is in flight, twice, and resumes
without sending anything twice; its books (orders, fills, balances) in the snapshot and
the journal end equal to the exchange's. One scenario, started two ways: ``ats jobs add``
then ``ats --no-ui --yes-live``, and ``ats run live.yaml --no-ui --yes-live`` (each rerun
of the same command takes up the same job: its id comes from the config file's path and
the job's name).

The loopback FakeBinance runs on this test's event loop, the ATS processes are real
subprocesses (the test only polls them, so the server keeps serving). The fake's clock is
moved straight to the candles on which SMA(5)/SMA(20) cross: the candles before are
back-filled history (no orders), the crossing one is the latest closed candle, so the
strategy orders exactly there. Two kinds of in-flight order at a kill:

1. executed by the exchange, response lost (stalled): the restart must find it filled by
   its client order id and book its fill;
2. stalled before the exchange processed it: the restart must wait until the request can
   no longer be accepted (recvWindow), find nothing, and reject it, not resend it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_exchange import FakeBinance
from fake_exchange.models import fmt
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    live_params,
    posts_by_client_id,
    sma_cross_server,
)
from paper_helpers import LOOPBACK_OPTIONS, WARMUP, job_config, wavy_candles
from persist_helpers import ats_command, ats_env, read_payload, settings_for

from ats.database.journal import Journal
from ats.headless.job_add import add_job
from ats.headless.run_command import config_job_id
from ats.trading_job.job_config import parse_job_config

pytestmark = pytest.mark.slow  # three real processes per launch, ~15 s each

JOB_ID = "live-sma"
FAST, SLOW = 5, 20
RECV_WINDOW_MS = 2_000
"""Generous for a loaded 2-core CI box (a request signed but delayed longer is refused)."""
STALL_SECONDS = 120.0
"""Server-side stall of an in-flight request: far longer than the test; released at stop."""
START_TIMEOUT = 60.0
STEP_TIMEOUT = 30.0


def cross_candles() -> list[tuple[int, str]]:
    """(candle index, "buy"/"sell") where SMA(fast) crosses SMA(slow) on a close."""
    closes = np.array([row[4] for row in wavy_candles()])

    def sma(n: int) -> np.ndarray:
        out = np.full(len(closes), np.nan)
        window = np.lib.stride_tricks.sliding_window_view(closes, n).mean(axis=1)
        out[n - 1 :] = window
        return out

    diff = sma(FAST) - sma(SLOW)
    return [
        (i, "buy" if diff[i - 1] < 0 < diff[i] else "sell")
        for i in range(1, len(closes))
        if diff[i - 1] < 0 < diff[i] or diff[i - 1] > 0 > diff[i]
    ]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with sma_cross_server() as server:
        yield server


class Ats:
    """One ``ats`` subprocess, its output in a log file (shown when a wait fails)."""

    def __init__(self, tmp_path: Path, name: str, env: dict[str, str], *args: str) -> None:
        self.log_path = tmp_path / f"{name}.log"
        self.name = name
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                ats_command(*args), env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def exited(self, timeout: float = 20.0) -> int:
        """Poll (never block the loop: the fake server lives on it) until it exits."""
        await until(lambda: self.process.poll() is not None, timeout, f"{self.name} to exit")
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


async def until(
    predicate: Callable[[], bool], timeout: float, what: str, proc: Ats | None = None
) -> None:
    """Poll ``predicate`` while ``proc`` (if given) runs; fail saying what was awaited,
    with the process's output, if it times out or the process dies."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.process.poll() is not None:
            pytest.fail(
                f"{proc.name} exited ({proc.process.returncode}) waiting for {what}:\n"
                f"{proc.output()[-4000:]}"
            )
        if time.monotonic() > deadline:
            tail = proc.output()[-4000:] if proc is not None else ""
            pytest.fail(f"timed out after {timeout}s waiting for {what}\n{tail}")
        await asyncio.sleep(0.02)


class Saved:
    """The job's snapshot on disk, as the test reads it while ATS runs."""

    def __init__(self, state: Path, job_id: str) -> None:
        self.state = state
        self.job_id = job_id

    def payload(self) -> dict[str, Any]:
        return read_payload(self.state, self.job_id) or {}

    def exchange(self) -> dict[str, Any]:
        return self.payload().get("exchange") or {}

    def handled(self) -> int:
        return int(self.exchange().get("handled") or 0)

    def order(self, cid: str) -> dict[str, Any] | None:
        return next((o for o in self.exchange().get("orders", []) if o["id"] == cid), None)

    def status(self, cid: str) -> str | None:
        order = self.order(cid)
        return None if order is None else str(order["status"])

    def in_flight(self, cid: str) -> bool:
        """Saved while its create request was still unanswered."""
        order = self.order(cid)
        return order is not None and order["status"] == "open" and order["tracking"]["sending"]

    def settled_at(self, candles: int) -> bool:
        """Every candle up to ``candles`` handled and no order open or in flight."""
        exchange = self.exchange()
        return int(exchange.get("handled") or 0) >= candles and not any(
            o["status"] in ("open", "partially_filled") for o in exchange.get("orders", [])
        )


def last_post(fake: FakeBinance) -> str:
    return str(fake.calls("/api/v3/order", "POST")[-1].params["newClientOrderId"])


def lookups_by_client_id(fake: FakeBinance, cid: str, since: float) -> int:
    return sum(
        1
        for request in fake.calls("/api/v3/order", "GET")
        if request.params.get("origClientOrderId") == cid and request.time >= since
    )


def write_job_yaml(tmp_path: Path, fake: FakeBinance) -> Path:
    params = live_params(
        fake,
        warmup=WARMUP,
        poll_seconds=0.05,
        timeout_ms=30_000,  # an unanswered order request stays in flight until the kill
        options={**LOOPBACK_OPTIONS, "recvWindow": RECV_WINDOW_MS},
        order_grace_ms=RECV_WINDOW_MS + 500,
    )
    config = {**job_config(JOB_ID, {"name": "ccxt", "params": params}), "mode": "live"}
    path = tmp_path / f"{JOB_ID}.yaml"
    path.write_text(parse_job_config(config).to_yaml())
    return path


@dataclass(frozen=True)
class Launch:
    """How the job is saved and started; the scenario is the same either way."""

    by_run: bool
    """``ats run live.yaml`` (the job saved by the run itself) rather than ``ats jobs add``
    then ``ats --no-ui``."""
    restores: int
    """Runs that restore the job from its snapshot: ``ats jobs add`` saves it before the
    first run, ``ats run`` on it."""

    def job_id(self, config: Path) -> str:
        return config_job_id(config, JOB_ID) if self.by_run else JOB_ID

    def args(self, config: Path, *flags: str) -> tuple[str, ...]:
        return ("run", str(config), *flags) if self.by_run else flags


@pytest.mark.parametrize(
    "launch",
    [Launch(by_run=False, restores=3), Launch(by_run=True, restores=2)],
    ids=["jobs-add-no-ui", "run"],
)
async def test_kill_9_with_orders_in_flight_resumes_without_resending(
    fake: FakeBinance, tmp_path: Path, launch: Launch
) -> None:
    crosses = cross_candles()[:6]
    assert [side for _, side in crosses] == ["buy", "sell"] * 3
    buy1, sell1, buy2, _, buy3, sell3 = (candle for candle, _ in crosses)
    state = tmp_path / "state"
    config = write_job_yaml(tmp_path, fake)
    job_id = launch.job_id(config)
    if not launch.by_run:
        assert add_job(settings_for(state), config, JOB_ID, start=True) == 0
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.05", **{KEY_ENV: API_KEY, SECRET_ENV: SECRET})
    saved = Saved(state, job_id)
    processes: list[Ats] = []

    def start(name: str, *flags: str) -> Ats:
        processes.append(Ats(tmp_path, name, env, *launch.args(config, *flags)))
        return processes[-1]

    async def trade_on(candle: int, proc: Ats) -> str:
        """Close candles up to ``candle`` (a cross); the order placed on it settles."""
        posts = len(fake.calls("/api/v3/order", "POST"))
        fake.set_candle_index(candle + 1)
        await until(
            lambda: len(fake.calls("/api/v3/order", "POST")) > posts,
            STEP_TIMEOUT,
            f"an order on candle {candle}",
            proc,
        )
        cid = last_post(fake)
        await until(
            lambda: saved.settled_at(candle + 1), STEP_TIMEOUT, f"order {cid} settled", proc
        )
        assert saved.status(cid) == "filled"
        return cid

    try:
        # Without --yes-live nothing starts: no request, the saved job untouched.
        before = files(state)
        refused = start("refused", "--no-ui")
        assert await refused.exited() == 2, refused.output()
        message = refused.output().strip()
        assert message.count("\n") == 0 and JOB_ID in message and "--yes-live" in message
        assert fake.requests == []
        assert files(state) == before

        # Run 1: a normal buy, then a sell the exchange executes but whose response stalls.
        first = start("run1", "--no-ui", "--yes-live")
        await until(lambda: saved.handled() >= WARMUP, START_TIMEOUT, "warm-up", first)
        if launch.by_run:
            assert f"job {JOB_ID} ({job_id}): new" in first.output()
        bought = await trade_on(buy1, first)
        lost = fake.inject(
            "/api/v3/order", "timeout", method="POST", after_processing=True, delay=STALL_SECONDS
        )
        fake.set_candle_index(sell1 + 1)
        await until(lambda: lost.fired == 1, STEP_TIMEOUT, "the sell request", first)
        sold = last_post(fake)
        await until(lambda: saved.in_flight(sold), STEP_TIMEOUT, f"{sold} saved in flight", first)
        assert fake.find_order(client_order_id=sold).status == "FILLED"
        os.kill(first.process.pid, signal.SIGKILL)
        assert await first.exited() == -signal.SIGKILL
        fake.set_candle_index(sell1 + 5)  # the market moves on while the job is down

        # Run 2 (the same command): the same job; it reconciles the sell by its client
        # order id; then a buy whose request stalls before the exchange sees it.
        restarted = time.time()
        second = start("run2", "--no-ui", "--yes-live")
        await until(lambda: saved.status(sold) == "filled", START_TIMEOUT, "reconcile", second)
        await until(lambda: saved.settled_at(sell1 + 5), STEP_TIMEOUT, "catch-up", second)
        if launch.by_run:
            assert f"resuming job {JOB_ID} ({job_id}) from candle" in second.output()
            assert "1 open order(s) are looked up by client order id" in second.output()
        assert lookups_by_client_id(fake, sold, restarted) >= 1
        stalled = fake.inject("/api/v3/order", "timeout", method="POST", delay=STALL_SECONDS)
        fake.set_candle_index(buy2 + 1)
        await until(lambda: stalled.fired == 1, STEP_TIMEOUT, "the buy request", second)
        never = last_post(fake)
        await until(lambda: saved.in_flight(never), STEP_TIMEOUT, f"{never} saved", second)
        os.kill(second.process.pid, signal.SIGKILL)
        assert await second.exited() == -signal.SIGKILL
        assert fake.find_order(client_order_id=never) is None
        fake.set_candle_index(buy2 + 5)

        # Run 3: the stalled buy never reached the exchange: rejected, not resent. Trading
        # goes on: a full round trip, then a graceful stop.
        restarted = time.time()
        third = start("run3", "--no-ui", "--yes-live")
        await until(lambda: saved.status(never) == "rejected", START_TIMEOUT, "reject", third)
        assert lookups_by_client_id(fake, never, restarted) >= 1
        bought_again = await trade_on(buy3, third)
        sold_again = await trade_on(sell3, third)
        third.process.send_signal(signal.SIGTERM)
        assert await third.exited() == 0, third.output()
        if launch.by_run:
            assert "job(s) saved; 'ats run" in third.output()
    finally:
        for proc in processes:
            proc.kill()

    assert sorted(p.name for p in state.glob("*.json")) == [f"{job_id}.json"]  # one job
    ids = [bought, sold, never, bought_again, sold_again]
    assert posts_by_client_id(fake) == dict.fromkeys(ids, 1)  # nothing was sent twice
    payload = saved.payload()
    assert payload["status"] == "running"  # a SIGTERM saves it to resume
    exchange = payload["exchange"]
    assert_books_match_server(exchange, fake, ids)
    assert saved.order(never)["reason"] == "never reached the exchange"
    await assert_journal_matches(state, job_id, exchange, fake, sold, never, launch.restores)


def files(folder: Path) -> dict[str, bytes]:
    """The folder's files and their bytes (none before it exists)."""
    return {path.name: path.read_bytes() for path in folder.iterdir()} if folder.exists() else {}


def assert_books_match_server(exchange: dict[str, Any], fake: FakeBinance, ids: list[str]) -> None:
    """Orders, fills and balances in the snapshot equal the exchange's, exactly."""
    orders = {o["id"]: o for o in exchange["orders"]}
    assert list(orders) == ids
    statuses = {"FILLED": "filled", "NEW": "open", "CANCELED": "canceled"}
    for cid, order in orders.items():
        server = fake.find_order(client_order_id=cid)
        if server is None:
            assert order["status"] == "rejected", cid
            continue
        assert order["status"] == statuses[server.status], cid
        assert (order["amount"], order["filled"]) == (
            float(server.orig_qty),
            float(server.executed_qty),
        ), cid
    stored = [o.client_order_id for o in fake.orders.values()]
    assert sorted(stored) == sorted(c for c, o in orders.items() if o["status"] != "rejected")
    assert fake.open_orders() == []
    fills = sorted(
        (f["amount"], f["price"], f["fee"], f["timestamp"], f["taker"]) for f in exchange["fills"]
    )
    trades = sorted(
        (float(t.qty), float(t.price), float(t.commission), t.time, not t.is_maker)
        for t in fake.trades
    )
    assert fills == trades and len(fills) == 4
    served = server_balances(fake)
    mine = {a: v for a, v in exchange["balances"].items() if a in served or any(v)}
    assert mine == served


def server_balances(fake: FakeBinance) -> dict[str, list[float]]:
    """What the account endpoint reports: [free, locked] to Binance's 8 decimals."""
    return {asset: [float(fmt(b.free)), float(fmt(b.locked))] for asset, b in fake.balances.items()}


async def assert_journal_matches(
    state: Path,
    job_id: str,
    exchange: dict[str, Any],
    fake: FakeBinance,
    sold: str,
    never: str,
    restores: int,
) -> None:
    """The journal holds each fill once, the orders and balances (holds included) as the
    exchange has them and, in the log, what each restart found by client order id."""
    journal = await Journal(settings_for(state).journal_file, readonly=True).open()
    try:
        data = await journal.export(job_id)
    finally:
        await journal.close()
    assert data is not None
    fills = [(r["order_id"], r["price"], r["amount"], r["fee"]) for r in data["fills"]]
    assert fills == [(f["order_id"], f["price"], f["amount"], f["fee"]) for f in exchange["fills"]]
    journaled = {r["order_id"]: (r["status"], r["amount"], r["filled"]) for r in data["orders"]}
    saved = {o["id"]: (o["status"], o["amount"], o["filled"]) for o in exchange["orders"]}
    assert journaled == saved
    balances = {r["asset"]: [r["free"], r["used"]] for r in data["balances"]}
    assert balances == server_balances(fake) == exchange["balances"]
    messages = [row["message"] for row in data["logs"]]
    # Not the refused start.
    assert sum("restored from snapshot" in m for m in messages) == restores
    reconciled = [m for m in messages if m.startswith("reconciled with the exchange")]
    assert len(reconciled) == 2, reconciled
    assert f"{sold} filled" in reconciled[0] and f"{never} rejected" in reconciled[1]
    found = "in flight when last saved; found on the exchange by client order id: filled"
    assert f"order {sold}: {found}" in messages
    missing = "in flight when last saved; not on the exchange by client order id"
    assert f"order {never}: {missing}" in messages
    assert any(f"order {never} rejected: never reached the exchange" in m for m in messages)
