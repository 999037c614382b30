"""Issue 9, acceptance 3: ``ats run live.yaml --no-ui --yes-live`` is as restart-safe as
``ats --no-ui``. A real process running a live sma_cross job against the loopback
FakeBinance (ccxt's real binance class, credentials from the environment) is killed with
SIGKILL twice, each time with an order in flight; each rerun of the same command takes
up the same job (its id comes from the config file's path and the job's name), looks
every order up by client order id and says what it found, sends nothing twice, and the
final books (orders, fills, balances) in the snapshot and the journal equal the
exchange's. The scenario is test_live_kill9's, started with ``ats run`` instead of
``ats jobs add`` + ``ats --no-ui``."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    posts_by_client_id,
    sma_cross_server,
)
from paper_helpers import WARMUP
from persist_helpers import ats_env, read_payload, settings_for
from test_live_kill9 import (
    JOB_ID,
    STALL_SECONDS,
    START_TIMEOUT,
    STEP_TIMEOUT,
    Ats,
    Saved,
    assert_books_match_server,
    cross_candles,
    last_post,
    lookups_by_client_id,
    server_balances,
    until,
    write_job_yaml,
)

from ats.database.journal import Journal
from ats.headless.run_command import config_job_id

pytestmark = pytest.mark.slow  # three real processes, ~15 s


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    async with sma_cross_server() as server:
        yield server


class SavedJob(Saved):
    """:class:`Saved` for the job id ``ats run`` derived."""

    def __init__(self, state: Path, job_id: str) -> None:
        super().__init__(state)
        self.job_id = job_id

    def payload(self) -> dict[str, Any]:
        return read_payload(self.state, self.job_id) or {}


async def test_kill_9_twice_during_ats_run_resumes_without_resending(
    fake: FakeBinance, tmp_path: Path
) -> None:
    crosses = cross_candles()[:6]
    assert [side for _, side in crosses] == ["buy", "sell"] * 3
    buy1, sell1, buy2, _, buy3, sell3 = (candle for candle, _ in crosses)
    state = tmp_path / "state"
    config = write_job_yaml(tmp_path, fake)
    job_id = config_job_id(config, JOB_ID)
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.05", **{KEY_ENV: API_KEY, SECRET_ENV: SECRET})
    saved = SavedJob(state, job_id)
    processes: list[Ats] = []

    def start(name: str) -> Ats:
        command = ("run", str(config), "--no-ui", "--yes-live")
        processes.append(Ats(tmp_path, name, env, *command))
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
        # Run 1: a new job; a normal buy, then a sell the exchange executes but whose
        # response stalls: killed with it in flight.
        first = start("run1")
        await until(lambda: saved.handled() >= WARMUP, START_TIMEOUT, "warm-up", first)
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

        # Run 2, the same command: the same job, the sell found filled by its client
        # order id; then a buy whose request stalls before the exchange sees it.
        restarted = time.time()
        second = start("run2")
        await until(lambda: saved.status(sold) == "filled", START_TIMEOUT, "reconcile", second)
        await until(lambda: saved.settled_at(sell1 + 5), STEP_TIMEOUT, "catch-up", second)
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
        third = start("run3")
        await until(lambda: saved.status(never) == "rejected", START_TIMEOUT, "reject", third)
        assert lookups_by_client_id(fake, never, restarted) >= 1
        bought_again = await trade_on(buy3, third)
        sold_again = await trade_on(sell3, third)
        third.process.send_signal(signal.SIGTERM)
        assert await third.exited() == 0, third.output()
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
    await assert_journal_equals_exchange(state, job_id, exchange, fake, sold, never)


async def assert_journal_equals_exchange(
    state: Path, job_id: str, exchange: dict[str, Any], fake: FakeBinance, sold: str, never: str
) -> None:
    """Each fill once, orders and balances as the exchange has them (holds included), and
    in the log what each restart found per order by client order id."""
    journal = await Journal(settings_for(state).journal_file, readonly=True).open()
    try:
        data = await journal.export(job_id)
    finally:
        await journal.close()
    assert data is not None
    fills = [(r["order_id"], r["price"], r["amount"], r["fee"]) for r in data["fills"]]
    assert fills == [(f["order_id"], f["price"], f["amount"], f["fee"]) for f in exchange["fills"]]
    journaled = {r["order_id"]: (r["status"], r["amount"], r["filled"]) for r in data["orders"]}
    assert journaled == {
        o["id"]: (o["status"], o["amount"], o["filled"]) for o in exchange["orders"]
    }
    balances = {r["asset"]: [r["free"], r["used"]] for r in data["balances"]}
    assert balances == server_balances(fake) == exchange["balances"]
    messages = [row["message"] for row in data["logs"]]
    reconciled = [m for m in messages if m.startswith("reconciled with the exchange")]
    assert len(reconciled) == 2, reconciled
    found = "in flight when last saved; found on the exchange by client order id: filled"
    assert f"order {sold}: {found}" in messages
    missing = "in flight when last saved; not on the exchange by client order id"
    assert f"order {never}: {missing}" in messages
