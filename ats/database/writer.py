"""The journal's writer: batches of rows from what the bus announced, one transaction each.

Off the hot path: the :class:`~ats.database.intake.Intake` reduces each event as it is
published, and every ``flush_interval`` seconds this writer has what arrived turned into
rows (:mod:`ats.database.batch`) and writes them in one transaction with multi-row
INSERTs (SQLite runs in aiosqlite's thread).

"A fill is committed before it is shown as done": after each commit the writer publishes
a :class:`~ats.database.events.FillCommitted` per new fill on the same bus. For paper and
live jobs a ``before_commit`` hook (``ats.persistence.persistent_jobs``) writes the
job's snapshot first, so the journal is never ahead of the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from ats.database import rows
from ats.database.batch import COLLECT_SLICE, Batch, BatchBuilder, Tracked
from ats.database.events import FillCommitted
from ats.database.intake import Intake, subscribe
from ats.database.schema import JOB_TABLES, RUN_TABLES
from ats.database.sources import JobSource
from ats.exceptions import JobError, StateError
from ats.trading_job.events import JobReport, Listener
from ats.utils.app_log import SHOWN
from ats.utils.finite_json import finite_json
from ats.utils.redaction import redact_data

logger = logging.getLogger(__name__)

BeforeCommit = Callable[[set[str]], Awaitable[None]]


class JournalWriter:
    """The batching writer task of one :class:`~ats.database.journal.Journal`."""

    def __init__(
        self,
        connection: Callable[[], aiosqlite.Connection],
        lock: asyncio.Lock,
        *,
        flush_interval: float,
        log_rows_per_job: int,
        equity_points: int,
    ) -> None:
        self._connection = connection
        self._lock = lock
        """Held around each transaction (recovery writes through the same connection)."""
        self.flush_interval = flush_interval
        self.log_rows_per_job = log_rows_per_job
        self.equity_points = equity_points
        self.failures = 0
        """Batches that could not be written (each is also logged to the jobs it held)."""
        self._builder = BatchBuilder(equity_points)
        self._manager: JobSource | None = None
        self._subscription: Listener | None = None
        self._intake = Intake()
        self._dropped_seen = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._waiters: list[asyncio.Future[None]] = []
        self._tracked = self._builder.tracked
        self._before_commit: BeforeCommit | None = None
        self._failing: str | None = None
        """The last write failure, until a batch is written again."""
        self._warned: set[str] = set()
        """Jobs told about ``_failing`` already."""
        self._unexpected: str | None = None
        """The last unexpected batch failure logged (a repeat is not logged again)."""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, manager: JobSource, before_commit: BeforeCommit | None) -> None:
        """Subscribe to ``manager``'s events and start the batching writer task."""
        if self._task is not None:
            raise StateError("journal is already attached")
        self._manager = self._builder.manager = manager
        self._before_commit = before_commit
        self._subscription = subscribe(manager.bus, self._intake)
        for job in manager:
            self._tracked.setdefault(job.id, Tracked(job.exchange))
        self._task = asyncio.create_task(self._run(), name="journal-writer")

    def track(self, job_id: str, tracked: Tracked) -> None:
        """What is committed of a job's current run (after recovery rewrote it)."""
        self._tracked[job_id] = tracked

    def tracked_run(self, job_id: str, account: object) -> Tracked | None:
        """What is committed of a job's run whose exchange is ``account`` (None if the
        writer follows another run of it, or none)."""
        tracked = self._tracked.get(job_id)
        return tracked if tracked is not None and tracked.exchange is account else None

    def forget(self, job_id: str) -> None:
        self._tracked.pop(job_id, None)

    async def flush(self) -> None:
        """Return once every event published before this call is committed."""
        if self._task is None or self._task.done():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    async def stop(self) -> None:
        """Write what is queued, then stop the task and unsubscribe."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    @property
    def db(self) -> aiosqlite.Connection:
        return self._connection()

    # -- the loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            closing = self._closing
            waiters, self._waiters = self._waiters, []
            try:
                await self._write_pending()
            except Exception as exc:  # never let the writer die: the jobs must go on
                self._log_unexpected(exc)
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            if closing:
                return

    def _log_unexpected(self, exc: Exception) -> None:
        """A bug, not a full disk (that is :meth:`_warn`): logged with its traceback,
        once until a different one happens (it would otherwise repeat every batch)."""
        what = f"{type(exc).__name__}: {exc}"
        if what != self._unexpected:
            self._unexpected = what
            jobs = ", ".join(sorted(self._tracked)) or "none"
            logger.error("journal batch failed (jobs tracked: %s)", jobs, exc_info=exc)

    def _drain(self) -> Intake:
        return self._intake.take()

    async def _write_pending(self) -> None:
        assert self._subscription is not None
        intake = self._drain()
        resync = bool(intake.dropped) or self._subscription.dropped != self._dropped_seen
        self._dropped_seen = self._subscription.dropped
        # Reports are immutable once published; encoding one with thousands of trades
        # takes tens of ms, so it happens off the event loop.
        reports = {
            id(event): await asyncio.to_thread(_report_json, event.report)
            for event in intake.other
            if isinstance(event, JobReport)
        }
        batch = await self._builder.collect(intake, resync=resync, reports=reports)
        if not batch:
            return
        if self._before_commit is not None and batch.changed_jobs:
            try:
                await self._before_commit(batch.changed_jobs)
            except Exception:  # the commit still goes ahead: the rows are not lost
                logger.exception(
                    "snapshot before journal commit failed (jobs %s)",
                    ", ".join(sorted(batch.changed_jobs)),
                )
        async with self._lock:
            try:
                await self._commit(batch)
            except (sqlite3.Error, ValueError) as exc:
                self.failures += 1
                self._warn(batch, f"journal write failed: {type(exc).__name__}: {exc}")
                return
        if self._failing is not None:
            logger.info("journal writes work again after: %s", self._failing)
            self._failing, self._warned = None, set()
        self._unexpected = None
        for job_id, (fill_count, closed) in batch.counters.items():
            tracked = self._tracked.get(job_id)
            if tracked is not None:
                tracked.fills, tracked.trades_closed = fill_count, closed
        if self._manager is not None:
            publish = self._manager.bus.publish
            for job_id, first, fills in batch.committed:
                for seq, fill in enumerate(fills, first):
                    publish(FillCommitted(job_id, seq, fill))
                    if not (seq - first + 1) % COLLECT_SLICE:
                        await asyncio.sleep(0)  # a big batch: let the console draw

    def _warn(self, batch: Batch, message: str) -> None:
        """Say it once per failure (a full disk fails every batch), in the log of each job
        it holds back (the front ends show job logs; stderr stays for one-line verdicts)."""
        if message != self._failing:
            jobs = ", ".join(sorted(batch.job_ids()))
            logger.warning("%s (jobs %s)", message, jobs, extra=SHOWN)  # in their logs
            self._failing, self._warned = message, set()
        if self._manager is None:
            return
        for job_id in batch.job_ids() - self._warned:
            self._warned.add(job_id)
            with contextlib.suppress(JobError):
                self._manager.get(job_id).log("WARNING", message)

    # -- the transaction -----------------------------------------------------------------
    async def _commit(self, batch: Batch) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            for job_id in batch.removed:
                await rows.delete_rows(db, job_id, ("jobs", *JOB_TABLES))
            for job_id in dict.fromkeys(batch.resets):
                await rows.delete_rows(db, job_id, RUN_TABLES)
            if batch.jobs:
                await db.executemany(rows.UPSERT_JOB, list(batch.jobs.values()))
            if batch.reports:
                await db.executemany(
                    "UPDATE jobs SET report = ?, updated_at = ? WHERE job_id = ?", batch.reports
                )
            flat = batch.flat
            await rows.UPSERT_ORDER.run(db, flat["orders"])
            await rows.INSERT_HISTORY.run(db, flat["history"])
            await rows.UPSERT_FILL.run(db, flat["fills"])
            for job_id, first in batch.stale_trades:
                await db.execute(
                    "DELETE FROM trades WHERE job_id = ? AND idx >= ?", (job_id, first)
                )
            await rows.UPSERT_TRADE.run(db, flat["trades"])
            for job_id in batch.balance_jobs:  # an asset no longer listed goes too
                await db.execute("DELETE FROM balances WHERE job_id = ?", (job_id,))
            await rows.UPSERT_BALANCE.run(db, flat["balances"])
            samples = rows.drop_jobs(flat["equity"], 3, batch.equity_replace)
            if samples:
                await rows.UPSERT_EQUITY.run(db, samples)
                await self._thin_equity(samples[0::3])
            for job_id, replacement in batch.equity_replace.items():
                await db.execute("DELETE FROM equity WHERE job_id = ?", (job_id,))
                await rows.UPSERT_EQUITY.run(db, rows.flat(replacement))
            if flat["logs"]:
                await rows.INSERT_LOG.run(db, flat["logs"])
                await self._prune_logs(flat["logs"][0::4])
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            raise

    async def _prune_logs(self, job_ids: list[str]) -> None:
        """Keep the newest ``log_rows_per_job`` lines per job (checked every 10% growth);
        ``job_ids`` has one entry per line just written."""
        slack = max(self.log_rows_per_job // 10, 1)
        for job_id in set(job_ids):
            tracked = self._tracked.setdefault(job_id, Tracked(None))
            tracked.logs += job_ids.count(job_id)
            if tracked.logs < slack:
                continue
            tracked.logs = 0
            await self.db.execute(rows.PRUNE_LOGS, (job_id, job_id, self.log_rows_per_job))

    async def _thin_equity(self, job_ids: list[str]) -> None:
        """Bound a long-running job's samples: halve the density of its older half.
        ``job_ids`` has one entry per sample just written."""
        for job_id in set(job_ids):
            tracked = self._tracked.get(job_id)
            if tracked is None:
                continue
            tracked.equity += job_ids.count(job_id)
            if tracked.equity < self.equity_points:
                continue
            found = list(
                await self.db.execute_fetchall(
                    "SELECT COUNT(*) FROM equity WHERE job_id = ?", (job_id,)
                )
            )
            count = found[0][0] if found else 0
            tracked.equity = 0
            if (count or 0) > self.equity_points:
                await self.db.execute(rows.THIN_EQUITY, (job_id, job_id, count // 2))


def _report_json(report: dict[str, Any]) -> str:
    return finite_json(redact_data(report))
