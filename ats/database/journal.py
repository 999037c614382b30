"""The journal: one SQLite file (WAL) holding jobs, orders and their status history,
fills, round-trip trades, balances, downsampled equity and job logs.

Off the hot path: the journal subscribes to the JobManager's event bus, reduces each event
to a few plain values as it is published (:class:`_Intake`), and a writer task turns what
arrived into rows every ``flush_interval`` seconds, written in one transaction with
multi-row INSERTs (SQLite runs in aiosqlite's thread). Fills are read from the exchange's
own fill list, so their per-job sequence number (``seq``, 1-based) is their index there,
the same index a snapshot's fill list has. That is what makes crash recovery exact: after a restore,
:meth:`Journal.reconcile` deletes rows beyond the snapshot and re-inserts what the
snapshot has, so replayed fills are never counted twice.

"A fill is committed before it is shown as done": after each commit the journal publishes
a :class:`FillCommitted` event per new fill on the same bus; front ends show a fill as
done on that event (or ``await journal.flush()`` before reporting). For paper and live
jobs a ``before_commit`` hook (see ``ats.trading_job.persistence``) writes the job's
snapshot first, so the journal is never ahead of the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import numpy as np

from ats.database.schema import APP_ID, JOB_TABLES, MIGRATIONS, RUN_TABLES, SCHEMA_VERSION
from ats.exceptions import JobError, StateError
from ats.exchanges.data_classes import Fill, Order, OrderStatus, Trade
from ats.exchanges.equity_curve import equity_curve
from ats.trading_job.events import (
    BalanceChanged,
    CandleClosed,
    Filled,
    JobEvent,
    JobLog,
    JobProgress,
    JobRemoved,
    JobReport,
    JobStatusChanged,
    Listener,
    OrderUpdated,
)
from ats.utils.finite_json import finite_json
from ats.utils.settings import redact, redact_data, scrub_config, secrets_registered

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.trading_job import TradingJob

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
QUEUE_SIZE = 500_000
COLLECT_SLICE = 1_000
"""Rows turned into a batch (or fills announced) between two yields to the event loop."""
"""The journal's bus subscription; large so a burst of fills is never dropped."""
EQUITY_SAMPLE_S = 1.0
"""At most one equity sample per job per this many wall seconds while a job runs."""
_FINAL_STATUSES = ("filled", "canceled", "rejected", "expired")

BeforeCommit = Callable[[set[str]], Awaitable[None]]


class JournalCorrupt(StateError):
    """SQLite says the journal file is damaged (its integrity check fails, or reading it
    raises "database disk image is malformed")."""

    def __init__(self, path: Path, detail: str) -> None:
        # quick_check answers "*** in database main ***\nOn tree page 303 cell 0: ...".
        detail = " ".join(detail.replace("*** in database main ***", "").split())
        super().__init__(f"{path} is damaged: {detail}")
        self.path = path
        self.detail = detail


_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_CANNOT_WRITE = {3, 8, 10, 13, 14}
"""SQLITE_PERM, _READONLY, _IOERR, _FULL, _CANTOPEN: the file system, not the file."""


def _error_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def is_corruption(exc: BaseException) -> bool:
    """Is this SQLite telling that the file is damaged (not busy, full or read-only)?"""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = _error_code(exc)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def quarantine(path: Path) -> Path:
    """Move a damaged journal (and its -wal and -shm files) aside, to
    ``<name>.corrupt-<UTC time>``, so a fresh one can be started in its place. The
    connection must be closed. Returns the new path of the main file."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in ("-wal", "-shm"):  # first: a fresh journal must never meet an old WAL
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, target.with_name(target.name + suffix))
    os.replace(path, target)
    return target


@dataclass(frozen=True, slots=True)
class FillCommitted(JobEvent):
    """Published after the transaction holding this fill committed (durable on disk)."""

    seq: int
    fill: Fill


@dataclass(slots=True)
class _Tracked:
    """What the writer knows about one job's exchange (the current run)."""

    exchange: BaseExchange | None
    fills: int = 0
    """Fills committed so far (the next one gets seq ``fills + 1``)."""
    trades_closed: int = 0
    """Leading closed trades committed; later ones are rewritten as they change."""
    logs: int = 0
    equity: int = 0
    last_sample: float = 0.0


@dataclass(slots=True)
class _Batch:
    """Rows gathered from one drain of the queue, written in one transaction."""

    resets: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    jobs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    reports: list[tuple[str, float, str]] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)
    """One row per changed order, laid end to end (like ``history``, ``fills``, ``trades``)."""
    history: list[Any] = field(default_factory=list)
    """Status-history rows."""
    fills: list[Any] = field(default_factory=list)
    trades: list[Any] = field(default_factory=list)
    stale_trades: list[tuple[str, int]] = field(default_factory=list)
    balances: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    """The current balances of every job whose balances may have changed: one row per
    asset, however many changes the batch covers (they replace the job's rows)."""
    balance_jobs: list[str] = field(default_factory=list)
    equity: list[tuple[str, int, float]] = field(default_factory=list)
    equity_replace: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    logs: list[tuple[str, float, str, str]] = field(default_factory=list)
    fill_jobs: set[str] = field(default_factory=set)
    changed_jobs: set[str] = field(default_factory=set)
    committed: list[tuple[str, int, list[Fill]]] = field(default_factory=list)
    """(job id, seq of the first, fills) to announce as FillCommitted after the commit."""
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    flat: dict[str, list[Any]] = field(default_factory=dict)
    """Row values laid end to end per table (see :meth:`flatten`)."""

    def flatten(self) -> None:
        """Lay every table's rows end to end as plain values.

        Rows are built this way from the start (each row tuple is freed at once): thousands
        of live tuples would make the garbage collector run, and walk the running
        backtest's data, all through a batch; strings and numbers are not tracked by it.
        """
        self.flat = {
            "orders": self.orders,
            "history": self.history,
            "fills": self.fills,
            "trades": self.trades,
            "balances": _flat(self.balances.values()),
            "equity": _flat(self.equity),
            "logs": _flat(self.logs),
        }
        self.orders, self.history, self.fills, self.trades = [], [], [], []
        self.balances, self.equity, self.logs = {}, [], []

    def __bool__(self) -> bool:
        return any(self.flat.values()) or any(
            (
                self.resets,
                self.removed,
                self.jobs,
                self.reports,
                self.orders,
                self.history,
                self.fills,
                self.trades,
                self.balances,
                self.equity,
                self.equity_replace,
                self.logs,
            )
        )


_SEP = "\x1f"


def _key(job_id: str, order_id: str) -> str:
    return job_id + _SEP + order_id


class _Intake:
    """What the bus delivered since the last batch, reduced as it arrives.

    A job allocates its events whether or not anyone listens; holding them until the next
    batch made the garbage collector run about six times as often during a backtest
    (each pass also walking the replay loop's large per-chunk lists): that was most of the
    journal's cost. So order, fill and balance events are reduced at once to strings and
    numbers, which the collector does not track, and dropped; rows are built from the
    jobs' live state when the batch is written. Bounded: past QUEUE_SIZE order events
    the rest are counted as dropped and the writer resyncs from job state.
    """

    __slots__ = (
        "balance_jobs",
        "changed",
        "dropped",
        "fill_jobs",
        "h_at",
        "h_filled",
        "h_job",
        "h_order",
        "h_status",
        "order_keys",
        "other",
        "progress",
    )

    def __init__(self) -> None:
        self._reset()

    def take(self) -> _Intake:
        """A copy holding everything so far; this intake starts empty again."""
        taken = _Intake.__new__(_Intake)
        for name in self.__slots__:
            setattr(taken, name, getattr(self, name))
        self._reset()
        return taken

    def _reset(self) -> None:
        self.order_keys: dict[str, None] = {}
        self.h_job: list[str] = []
        self.h_order: list[str] = []
        self.h_status: list[OrderStatus] = []
        self.h_filled: list[float] = []
        self.h_at: list[int] = []
        self.changed: set[str] = set()
        self.fill_jobs: set[str] = set()
        self.balance_jobs: set[str] = set()
        self.progress: dict[str, JobProgress] = {}
        self.other: list[JobEvent] = []
        self.dropped = 0

    def put(self, event: JobEvent) -> None:
        kind = type(event)
        job_id = event.job_id
        if kind is OrderUpdated:
            if len(self.h_job) >= QUEUE_SIZE:
                self.dropped += 1
                return
            order = event.order  # type: ignore[attr-defined]
            self.order_keys[job_id + _SEP + order.id] = None
            self.h_job.append(job_id)
            self.h_order.append(order.id)
            self.h_status.append(order.status)
            self.h_filled.append(order.filled)
            self.h_at.append(order.last_update)
            self.changed.add(job_id)
        elif kind is BalanceChanged:
            self.balance_jobs.add(job_id)
        elif kind is Filled:
            self.fill_jobs.add(job_id)
            self.changed.add(job_id)
        elif kind is JobProgress:
            self.progress[job_id] = event  # type: ignore[assignment]
        elif kind is not FillCommitted and kind is not CandleClosed:
            if len(self.other) >= QUEUE_SIZE:
                self.dropped += 1
                return
            self.other.append(event)


class Journal:
    """Open with ``await Journal(path).open()``; ``attach(manager)`` starts the writer."""

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.075,
        log_rows_per_job: int = 5_000,
        equity_points: int = 2_000,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        self.log_rows_per_job = log_rows_per_job
        self.equity_points = equity_points
        self.readonly = readonly
        self.failures = 0
        """Batches that could not be written (each is also logged to the jobs it held)."""
        self._db: aiosqlite.Connection | None = None
        self._manager: JobManager | None = None
        self._subscription: Listener | None = None
        self._intake = _Intake()
        self._dropped_seen = 0
        self._writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._waiters: list[asyncio.Future[None]] = []
        self._tracked: dict[str, _Tracked] = {}
        self._before_commit: BeforeCommit | None = None
        self._lock = asyncio.Lock()
        self._failing: str | None = None
        """The last write failure, until a batch is written again."""
        self._warned: set[str] = set()
        """Jobs told about ``_failing`` already."""

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> Journal:
        """Connect, enable WAL and bring the schema up to date (or refuse clearly).

        A writable open runs SQLite's ``PRAGMA quick_check`` (0.3 s for a 250 MB journal
        with the file cached, 3 s from a cold disk; in SQLite's thread, so the console's
        loop keeps running): JournalCorrupt if it fails,
        so the caller can move the file aside (:func:`quarantine`). OSError or StateError
        when the file or its directory cannot be written (a full disk, read-only)."""
        if self.readonly:
            if not self.path.is_file():
                raise StateError(f"{self.path}: no journal here")
            uri = f"file:{self.path.resolve()}?mode=ro"
            self._db = await _connect(uri, uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                # Created owner-only first: SQLite gives -wal/-shm the same mode.
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
            os.chmod(self.path, FILE_MODE)
            self._db = await _connect(self.path, isolation_level=None)
        try:
            await self._prepare()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await self._db.close()
            self._db = None
            raise
        return self

    async def _prepare(self) -> None:
        try:
            await self._check_and_migrate()
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise JournalCorrupt(self.path, str(exc)) from None
            if _error_code(exc) in _CANNOT_WRITE:
                raise StateError(
                    f"cannot write the journal {self.path} ({exc}); free some space or make "
                    f"{self.path.parent} writable"
                ) from None
            raise StateError(f"{self.path}: not a readable SQLite journal ({exc})") from None

    async def _check_and_migrate(self) -> None:
        db = self.db
        await db.execute("PRAGMA busy_timeout = 5000")
        if not self.readonly:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = FULL")
            checked = list(await db.execute_fetchall("PRAGMA quick_check(1)"))
            verdict = str(checked[0][0]) if checked else "no answer"
            if verdict != "ok":
                raise JournalCorrupt(self.path, verdict)
        tables = {row[0] for row in await db.execute_fetchall(_TABLES_SQL)}
        version = 0
        if tables:
            if "meta" not in tables:
                raise StateError(f"{self.path}: a SQLite file that is not an ATS journal")
            rows = await db.execute_fetchall("SELECT key, value FROM meta")
            meta: dict[str, str] = {str(row[0]): str(row[1]) for row in rows}
            if meta.get("app") != APP_ID:
                raise StateError(f"{self.path}: a SQLite file that is not an ATS journal")
            try:
                version = int(meta.get("schema_version", ""))
            except ValueError:
                raise StateError(f"{self.path}: unreadable journal schema version") from None
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: journal schema version {version} was written by a newer ATS "
                f"(this one knows up to {SCHEMA_VERSION}); upgrade ATS or set "
                f"ATS_JOURNAL_PATH to another file"
            )
        if version < SCHEMA_VERSION:
            if self.readonly:
                raise StateError(
                    f"{self.path}: journal schema version {version} is older than "
                    f"{SCHEMA_VERSION}; start ats once to migrate it"
                )
            await self._migrate(version)

    async def _migrate(self, version: int) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                script = MIGRATIONS.get(version)
                if script is None:
                    raise StateError(f"{self.path}: no migration from schema version {version}")
                for statement in _statements(script):
                    await db.execute(statement)
                version += 1
            await db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [("app", APP_ID), ("schema_version", str(version))],
            )
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back (full)
                await db.execute("ROLLBACK")
            raise

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StateError("journal is not open")
        return self._db

    def attach(self, manager: JobManager, *, before_commit: BeforeCommit | None = None) -> None:
        """Subscribe to ``manager``'s events and start the batching writer task."""
        if self._writer is not None:
            raise StateError("journal is already attached")
        self._manager = manager
        self._before_commit = before_commit
        # Events go straight to the intake, not through a queue (publishing is on the
        # job's hot path; see _Intake for why).
        self._subscription = manager.bus.listen(self._intake.put)
        for job in manager:
            self._tracked.setdefault(job.id, _Tracked(job.exchange))
        self._writer = asyncio.create_task(self._run(), name="journal-writer")

    def _drain(self) -> _Intake:
        return self._intake.take()

    async def flush(self) -> None:
        """Return once every event published before this call is committed."""
        if self._writer is None or self._writer.done():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- the writer ----------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            closing = self._closing
            waiters, self._waiters = self._waiters, []
            try:
                await self._write_pending()
            except Exception:  # never let the writer die: the jobs must go on
                logger.exception("journal batch failed")
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            if closing:
                return

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
        batch = await self._collect(intake, resync=resync, reports=reports)
        if not batch:
            return
        if self._before_commit is not None and batch.changed_jobs:
            try:
                await self._before_commit(batch.changed_jobs)
            except Exception:
                logger.exception("snapshot before journal commit failed")
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

    def _warn(self, batch: _Batch, message: str) -> None:
        """Say it once per failure (a full disk fails every batch), in the log of each job
        it holds back (the front ends show job logs; stderr stays for one-line verdicts)."""
        if message != self._failing:
            logger.info(message)
            self._failing, self._warned = message, set()
        if self._manager is None:
            return
        for job_id in ({row[0] for row in batch.jobs.values()} | batch.fill_jobs) - self._warned:
            self._warned.add(job_id)
            with contextlib.suppress(JobError):
                self._manager.get(job_id).log("WARNING", message)

    def _job(self, job_id: str) -> TradingJob | None:
        if self._manager is None:
            return None
        try:
            return self._manager.get(job_id)
        except JobError:
            return None

    async def _collect(self, intake: _Intake, *, resync: bool, reports: dict[int, str]) -> _Batch:
        """Turn what arrived into rows. Status, log, report and removal events are handled
        in order first; orders, balances, fills and trades are then read from the jobs'
        live state (one row per order per batch, the latest state wins), while every
        order event still adds its own status-history row.

        A big batch yields to the event loop every ``COLLECT_SLICE`` rows, so busy
        backtests never stall the console behind it; jobs may move on meanwhile, which
        only makes the rows newer (a paper or live job is snapshotted after this, before
        the commit)."""
        batch = _Batch()
        now = time.time()
        removed: set[str] = set()
        stopped: set[str] = set()
        for event in intake.other:
            job_id = event.job_id
            if isinstance(event, JobLog):
                batch.logs.append((job_id, event.time, event.level, redact(event.message)))
            elif isinstance(event, JobStatusChanged):
                self._on_status(batch, job_id, now)
                stopped.add(job_id)
            elif isinstance(event, JobReport):
                self._on_report(batch, job_id, reports[id(event)], now)
            elif isinstance(event, JobRemoved):
                batch.removed.append(job_id)
                removed.add(job_id)
                self._tracked.pop(job_id, None)
        for progress in intake.progress.values():
            self._sample_equity(batch, progress, now)
        masked = secrets_registered()
        for count, row in enumerate(
            zip(
                intake.h_job,
                intake.h_order,
                intake.h_status,
                intake.h_filled,
                intake.h_at,
                strict=True,
            ),
            1,
        ):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            if row[0] not in removed:
                order_id = redact(row[1]) if masked else row[1]
                batch.history.extend((row[0], order_id, str(row[2]), row[3], row[4], now))
        order_keys = list(intake.order_keys)
        fill_jobs = intake.fill_jobs - removed
        # Every order event may have moved balances (a hold placed, settled or released)
        # and a status change (a stop) records them as they are: one row per asset per
        # job per batch, read from the job's live state below.
        balance_jobs = (intake.balance_jobs | intake.changed | stopped) - removed
        batch.changed_jobs = (intake.changed | intake.balance_jobs) - removed
        if resync:
            logger.warning("journal fell behind and dropped events; resyncing from job state")
            for job in self._manager.jobs if self._manager is not None else []:
                self._on_status(batch, job.id, now)
                if job.exchange is not None:
                    order_keys.extend(_key(job.id, order.id) for order in job.exchange.get_orders())
                    fill_jobs.add(job.id)
                    balance_jobs.add(job.id)
        changed_orders: dict[tuple[str, str], Order] = {}
        for count, key in enumerate(order_keys, 1):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            job_id, _, order_id = key.partition(_SEP)
            owner = None if job_id in removed else self._job(job_id)
            if owner is None or owner.exchange is None:
                continue
            try:
                order = owner.exchange.get_order(order_id)
            except KeyError:  # an order of an earlier run of this job
                continue
            changed_orders[job_id, order_id] = order
        for job_id in balance_jobs:
            holder = self._job(job_id)
            if holder is not None and holder.exchange is not None:
                batch.balance_jobs.append(job_id)
                for asset, balance in holder.exchange.get_balances().items():
                    batch.balances[(job_id, asset)] = (
                        job_id,
                        asset,
                        balance.free,
                        balance.used,
                        now,
                    )
        batch.fill_jobs = fill_jobs
        for job_id in fill_jobs:
            await self._collect_fills(batch, job_id, now)
        # Order rows last (as they are then, each row read once): an order is never
        # behind the fills of the same batch.
        for count, ((job_id, _), order) in enumerate(changed_orders.items(), 1):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.orders.extend(_order_row(job_id, order))
        batch.flatten()
        return batch

    def _on_status(self, batch: _Batch, job_id: str, now: float) -> None:
        job = self._job(job_id)
        if job is None:
            return
        tracked = self._tracked.get(job_id)
        if tracked is None:
            self._tracked[job_id] = _Tracked(job.exchange)
        elif tracked.exchange is not job.exchange:
            # A new run (exchange rebuilt): its fills start again at seq 1.
            batch.resets.append(job_id)
            self._tracked[job_id] = _Tracked(job.exchange)
        config, _masked = scrub_config(job.config.model_dump(mode="json"))
        batch.jobs[job_id] = (
            job_id,
            job.config.name,
            job.mode,
            json.dumps(config),
            str(job.status),
            redact(job.error) if job.error else None,
            now,
            now,
        )

    def _on_report(self, batch: _Batch, job_id: str, text: str, now: float) -> None:
        """Store the final report (as :func:`_report_json` encoded it) and replace the job's
        equity samples by its whole curve, downsampled to ``equity_points``."""
        batch.reports.append((text, now, job_id))
        job = self._job(job_id)
        if job is None:
            return
        try:
            timestamps, equity = self._sampled_curve(job)
        except Exception:  # a report without a curve is still worth keeping
            return
        batch.equity_replace[job_id] = [
            (job_id, int(ts), float(value))
            for ts, value in zip(timestamps.tolist(), equity.tolist(), strict=True)
        ]

    def _sampled_curve(self, job: TradingJob) -> tuple[np.ndarray, np.ndarray]:
        """At most ``equity_points`` + 1 points of the equity curve, first and last kept.

        A backtest's curve is rebuilt from its fills at the sampled candles only (the
        full 1M-point curve is not needed for that)."""
        exchange, replay = job.exchange, job.capabilities.replay
        if exchange is not None and replay is not None and replay.data is not None:
            data, cursor = replay.data, replay.cursor
            if cursor <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0)
            indices = _sample_indices(cursor, self.equity_points)
            timestamps = data.timestamps[indices]
            curve = equity_curve(
                timestamps,
                data.close[indices],
                exchange.initial_balances,
                exchange.get_fills(),
                exchange.symbol,
            )
            return timestamps, curve
        timestamps, equity = job.equity_curve()
        indices = _sample_indices(len(timestamps), self.equity_points)
        return timestamps[indices], equity[indices]

    def _sample_equity(self, batch: _Batch, event: JobProgress, now: float) -> None:
        tracked = self._tracked.get(event.job_id)
        if tracked is None or event.timestamp is None or not math.isfinite(event.equity):
            return
        if now - tracked.last_sample < EQUITY_SAMPLE_S:
            return
        tracked.last_sample = now
        batch.equity.append((event.job_id, int(event.timestamp), float(event.equity)))

    async def _collect_fills(self, batch: _Batch, job_id: str, now: float) -> None:
        """New fills and every trade since the first open one; yields like :meth:`_collect`
        (what the lists hold past their length at the start waits for the next batch)."""
        job = self._job(job_id)
        tracked = self._tracked.get(job_id)
        if job is None or job.exchange is None or tracked is None:
            return
        if tracked.exchange is not job.exchange:
            batch.resets.append(job_id)
            tracked = self._tracked[job_id] = _Tracked(job.exchange)
        fills = job.exchange.get_fills()
        fill_count = len(fills)
        start = tracked.fills
        if fill_count < start:  # state went back (restored elsewhere): rewrite from zero
            batch.resets.append(job_id)
            start = 0
        added = fills[start:fill_count]
        for index, fill in enumerate(added, start + 1):
            if not index % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.fills.extend(_fill_row(job_id, index, fill, now))
        if added:
            batch.committed.append((job_id, start + 1, added))
        closed = tracked.trades_closed if start else 0
        trades = job.exchange.get_trades()
        trade_count = len(trades)
        if trade_count < closed:
            closed = 0
            batch.stale_trades.append((job_id, 0))
        for index in range(closed, trade_count):
            if not (index + 1) % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.trades.extend(_trade_row(job_id, index, trades[index]))
        while closed < trade_count and not trades[closed].is_open:
            closed += 1
        batch.counters[job_id] = (fill_count, closed)

    async def _commit(self, batch: _Batch) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            for job_id in batch.removed:
                await self._delete_rows(job_id, ("jobs", *JOB_TABLES))
            for job_id in dict.fromkeys(batch.resets):
                await self._delete_rows(job_id, RUN_TABLES)
            if batch.jobs:
                await db.executemany(_UPSERT_JOB, list(batch.jobs.values()))
            if batch.reports:
                await db.executemany(
                    "UPDATE jobs SET report = ?, updated_at = ? WHERE job_id = ?", batch.reports
                )
            flat = batch.flat
            await self._insert(_UPSERT_ORDER, flat["orders"])
            await self._insert(_INSERT_HISTORY, flat["history"])
            await self._insert(_UPSERT_FILL, flat["fills"])
            for job_id, first in batch.stale_trades:
                await db.execute(
                    "DELETE FROM trades WHERE job_id = ? AND idx >= ?", (job_id, first)
                )
            await self._insert(_UPSERT_TRADE, flat["trades"])
            for job_id in batch.balance_jobs:  # an asset no longer listed goes too
                await db.execute("DELETE FROM balances WHERE job_id = ?", (job_id,))
            await self._insert(_UPSERT_BALANCE, flat["balances"])
            samples = _drop_jobs(flat["equity"], 3, batch.equity_replace)
            if samples:
                await self._insert(_UPSERT_EQUITY, samples)
                await self._thin_equity(samples[0::3])
            for job_id, rows in batch.equity_replace.items():
                await db.execute("DELETE FROM equity WHERE job_id = ?", (job_id,))
                await self._insert(_UPSERT_EQUITY, _flat(rows))
            if flat["logs"]:
                await self._insert(_INSERT_LOG, flat["logs"])
                await self._prune_logs(flat["logs"][0::4])
            await db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            raise

    async def _insert(self, statement: _Insert, values: Sequence[Any]) -> None:
        """Insert rows given end to end (``_flat`` turns row tuples into that)."""
        for sql, params in statement.statements(values):
            await self.db.execute(sql, params)

    async def _delete_rows(self, job_id: str, tables: Iterable[str]) -> None:
        for table in tables:
            await self.db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))

    async def _prune_logs(self, job_ids: list[str]) -> None:
        """Keep the newest ``log_rows_per_job`` lines per job (checked every 10% growth);
        ``job_ids`` has one entry per line just written."""
        slack = max(self.log_rows_per_job // 10, 1)
        for job_id in set(job_ids):
            tracked = self._tracked.setdefault(job_id, _Tracked(None))
            tracked.logs += job_ids.count(job_id)
            if tracked.logs < slack:
                continue
            tracked.logs = 0
            await self.db.execute(_PRUNE_LOGS, (job_id, job_id, self.log_rows_per_job))

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
            count = await self._scalar("SELECT COUNT(*) FROM equity WHERE job_id = ?", job_id)
            tracked.equity = 0
            if (count or 0) > self.equity_points:
                await self.db.execute(_THIN_EQUITY, (job_id, job_id, count // 2))

    async def _scalar(self, sql: str, *params: Any) -> Any:
        rows = list(await self.db.execute_fetchall(sql, params))
        return rows[0][0] if rows else None

    # -- recovery ------------------------------------------------------------------------
    async def reconcile(self, job: TradingJob) -> dict[str, int]:
        """Make the journal agree with a job just restored from its snapshot.

        Fills beyond the snapshot's are deleted (a backtest replays them, identically),
        fills the snapshot has but the journal lacks are inserted (the snapshot of a
        paper/live job is written before the journal commits), orders, trades and
        balances are rewritten, and status history past the snapshot is dropped.
        Returns counts of what changed, for the job's log.
        """
        exchange = job.exchange
        if exchange is None:
            return {}
        now = time.time()
        fills = exchange.get_fills()
        orders = exchange.get_orders()
        trades = exchange.get_trades()
        balances = exchange.get_balances()
        progress_ts = exchange.progress.timestamp
        db = self.db
        async with self._lock:
            before = await self._scalar("SELECT COUNT(*) FROM fills WHERE job_id = ?", job.id)
            await db.execute("BEGIN IMMEDIATE")
            try:
                config, _masked = scrub_config(job.config.model_dump(mode="json"))
                await db.execute(
                    _UPSERT_JOB,
                    (
                        job.id,
                        job.config.name,
                        job.mode,
                        json.dumps(config),
                        str(job.status),
                        redact(job.error) if job.error else None,
                        now,
                        now,
                    ),
                )
                cursor = await db.execute(
                    "DELETE FROM fills WHERE job_id = ? AND seq > ?", (job.id, len(fills))
                )
                dropped = cursor.rowcount
                await self._insert(
                    _UPSERT_FILL,
                    _flat(_fill_row(job.id, i + 1, fill, now) for i, fill in enumerate(fills)),
                )
                await db.execute("DELETE FROM orders WHERE job_id = ?", (job.id,))
                await self._insert(_UPSERT_ORDER, _flat(_order_row(job.id, o) for o in orders))
                await db.execute(
                    "DELETE FROM order_status WHERE job_id = ? AND order_id NOT IN "
                    "(SELECT order_id FROM orders WHERE job_id = ?)",
                    (job.id, job.id),
                )
                for order in orders:
                    if order.is_open:
                        await db.execute(_DROP_LATER_HISTORY, (job.id, order.id, order.filled))
                await self._insert(
                    _INSERT_HISTORY,
                    _flat(
                        (job.id, redact(o.id), str(o.status), o.filled, o.last_update, now)
                        for o in orders
                    ),
                )
                await db.execute("DELETE FROM trades WHERE job_id = ?", (job.id,))
                await self._insert(
                    _UPSERT_TRADE, _flat(_trade_row(job.id, i, t) for i, t in enumerate(trades))
                )
                await db.execute("DELETE FROM balances WHERE job_id = ?", (job.id,))
                await self._insert(
                    _UPSERT_BALANCE,
                    _flat((job.id, a, b.free, b.used, now) for a, b in balances.items()),
                )
                if progress_ts is not None:
                    await db.execute(
                        "DELETE FROM equity WHERE job_id = ? AND timestamp_ms > ?",
                        (job.id, progress_ts),
                    )
                await db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise
        closed = 0
        while closed < len(trades) and not trades[closed].is_open:
            closed += 1
        self._tracked[job.id] = _Tracked(exchange, fills=len(fills), trades_closed=closed)
        return {
            "fills": len(fills),
            "dropped": max(dropped, 0),
            "added": max(len(fills) - (before or 0) + max(dropped, 0), 0),
        }

    async def delete_job(self, job_id: str) -> None:
        """Remove every row of a job (``ats jobs delete`` while ATS is not running)."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                await self._delete_rows(job_id, ("jobs", *JOB_TABLES))
                await self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
        self._tracked.pop(job_id, None)

    async def set_status(self, job_id: str, status: str) -> None:
        """Record the status a job will resume with (a graceful stop keeps ``running``)."""
        async with self._lock:
            await self.db.execute(
                "UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?",
                (status, time.time(), job_id),
            )

    # -- queries (ats jobs, the console) -------------------------------------------------
    async def jobs(self) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT j.job_id, j.name, j.mode, j.status, j.error, j.created_at, j.updated_at, "
            "(SELECT COUNT(*) FROM fills f WHERE f.job_id = j.job_id) AS fills, "
            "(SELECT COUNT(*) FROM orders o WHERE o.job_id = j.job_id "
            " AND o.status IN ('open', 'partially_filled')) AS open_orders "
            "FROM jobs j ORDER BY j.created_at"
        )

    async def job(self, job_id: str) -> dict[str, Any] | None:
        rows = await self._rows("SELECT * FROM jobs WHERE job_id = ?", job_id)
        if not rows:
            return None
        row = rows[0]
        row["config"] = json.loads(row["config"])
        row["report"] = json.loads(row["report"]) if row["report"] else None
        return row

    async def orders(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT * FROM orders WHERE job_id = ? ORDER BY created_ms, "
            "CAST(order_id AS INTEGER), order_id",
            job_id,
        )

    async def order_history(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM order_status WHERE job_id = ? ORDER BY id", job_id)

    async def fills(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM fills WHERE job_id = ? ORDER BY seq", job_id)

    async def trades(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM trades WHERE job_id = ? ORDER BY idx", job_id)

    async def balances(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM balances WHERE job_id = ? ORDER BY asset", job_id)

    async def equity(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT timestamp_ms, equity FROM equity WHERE job_id = ? ORDER BY timestamp_ms",
            job_id,
        )

    async def logs(self, job_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        if limit is None:
            return await self._rows("SELECT * FROM logs WHERE job_id = ? ORDER BY id", job_id)
        rows = await self._rows(
            "SELECT * FROM logs WHERE job_id = ? ORDER BY id DESC LIMIT ?", job_id, limit
        )
        return rows[::-1]

    async def export(self, job_id: str) -> dict[str, Any] | None:
        """Everything journaled about a job, as JSON-ready data."""
        job = await self.job(job_id)
        if job is None:
            return None
        return {
            "job": job,
            "orders": await self.orders(job_id),
            "order_history": await self.order_history(job_id),
            "fills": await self.fills(job_id),
            "trades": await self.trades(job_id),
            "balances": await self.balances(job_id),
            "equity": await self.equity(job_id),
            "logs": await self.logs(job_id),
        }

    async def _rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        cursor = await self.db.execute(sql, params)
        try:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
        finally:
            await cursor.close()


async def _connect(database: str | Path, **kwargs: Any) -> aiosqlite.Connection:
    """aiosqlite's worker thread is not a daemon: a journal left open by a crash would keep
    the process from exiting. Make it one (the normal path always closes the journal, and
    an interrupted commit is rolled back by SQLite like any crash)."""
    connection = aiosqlite.connect(database, **kwargs)
    thread = getattr(connection, "_thread", None)
    if thread is not None and not thread.is_alive():
        thread.daemon = True
    return await connection


# -- rows ----------------------------------------------------------------------------------
def _order_row(job_id: str, order: Order) -> tuple[Any, ...]:
    return (
        job_id,
        redact(order.id),
        redact(order.client_order_id),
        order.symbol,
        str(order.side),
        str(order.type),
        order.amount,
        order.price,
        order.stop_price,
        order.quote_amount,
        str(order.status),
        order.filled,
        order.cost,
        order.fee,
        order.fee_currency,
        order.timestamp,
        order.last_update,
        order.expires_at,
        int(order.triggered),
        redact(order.reason) if order.reason else None,
    )


def _fill_row(job_id: str, seq: int, fill: Fill, now: float) -> tuple[Any, ...]:
    return (
        job_id,
        seq,
        redact(fill.order_id),
        fill.symbol,
        str(fill.side),
        fill.amount,
        fill.price,
        fill.fee,
        fill.fee_currency,
        fill.timestamp,
        int(fill.taker),
        now,
    )


def _trade_row(job_id: str, index: int, trade: Trade) -> tuple[Any, ...]:
    return (
        job_id,
        index,
        trade.symbol,
        trade.entry_time,
        trade.entry_price,
        trade.amount,
        trade.exit_time,
        trade.exit_price,
        trade.fees,
        trade.pnl,
    )


def _flat(rows: Iterable[Sequence[Any]]) -> list[Any]:
    """Row tuples laid end to end, the shape :class:`_Insert` takes."""
    return [value for row in rows for value in row]


def _drop_jobs(values: list[Any], columns: int, jobs: Container[str]) -> list[Any]:
    """Flat rows (job id first) without those of ``jobs``."""
    if not jobs:
        return values
    kept: list[Any] = []
    for start in range(0, len(values), columns):
        if values[start] not in jobs:
            kept.extend(values[start : start + columns])
    return kept


def _sample_indices(count: int, points: int) -> np.ndarray:
    """Evenly spaced indices into ``count`` items: every ``step``-th, plus the last."""
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    step = max(1, math.ceil(count / points))
    indices = np.arange(0, count, step, dtype=np.int64)
    if indices[-1] != count - 1:
        indices = np.append(indices, count - 1)
    return indices


def _report_json(report: dict[str, Any]) -> str:
    return finite_json(redact_data(report))


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


_TABLES_SQL = "SELECT name FROM sqlite_master WHERE type = 'table'"
_UPSERT_JOB = """
INSERT INTO jobs (job_id, name, mode, config, status, error, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id) DO UPDATE SET name = excluded.name, mode = excluded.mode,
    config = excluded.config, status = excluded.status, error = excluded.error,
    updated_at = excluded.updated_at
"""


@dataclass(frozen=True, slots=True)
class _Insert:
    """A multi-row INSERT: one statement binds up to ``_MAX_ROWS`` rows.

    ``executemany`` steps SQLite once per row, releasing and re-taking the GIL each
    time; next to a CPU-bound backtest every re-take waits for the loop's thread, so a
    batch crawled and the switches slowed the job. One statement per few hundred rows
    does the SQLite work in a single GIL-free step.
    """

    prefix: str
    columns: int

    def statements(self, values: Sequence[Any]) -> Iterable[tuple[str, Sequence[Any]]]:
        """SQL and parameters for rows laid end to end in ``values``."""
        if len(values) % self.columns:
            raise ValueError(f"{len(values)} values do not make rows of {self.columns}")
        per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMS // self.columns))
        step = per_statement * self.columns
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            yield self._sql(len(chunk) // self.columns), chunk

    def _sql(self, count: int) -> str:
        group = "(" + ",".join("?" * self.columns) + ")"
        return f"{self.prefix} VALUES " + ",".join([group] * count)


_MAX_ROWS = 500
_MAX_PARAMS = 32_766
"""SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32)."""
_UPSERT_ORDER = _Insert("INSERT OR REPLACE INTO orders", 20)
_INSERT_HISTORY = _Insert(
    "INSERT OR IGNORE INTO order_status (job_id, order_id, status, filled, at_ms, recorded_at)", 6
)
_UPSERT_FILL = _Insert("INSERT OR REPLACE INTO fills", 12)
_UPSERT_TRADE = _Insert("INSERT OR REPLACE INTO trades", 10)
_UPSERT_BALANCE = _Insert("INSERT OR REPLACE INTO balances", 5)
_UPSERT_EQUITY = _Insert("INSERT OR REPLACE INTO equity (job_id, timestamp_ms, equity)", 3)
_INSERT_LOG = _Insert("INSERT INTO logs (job_id, time, level, message)", 4)
_DROP_LATER_HISTORY = (
    "DELETE FROM order_status WHERE job_id = ? AND order_id = ? AND (filled > ? OR status IN ("
    + ", ".join(f"'{status}'" for status in _FINAL_STATUSES)
    + "))"
)
_PRUNE_LOGS = """
DELETE FROM logs WHERE job_id = ? AND id < (
    SELECT MIN(id) FROM (SELECT id FROM logs WHERE job_id = ? ORDER BY id DESC LIMIT ?)
)
"""
_THIN_EQUITY = """
DELETE FROM equity WHERE job_id = ? AND rowid IN (
    SELECT rowid FROM equity WHERE job_id = ? ORDER BY timestamp_ms LIMIT ?
) AND rowid % 2 = 0
"""
