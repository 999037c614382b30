"""The journal: one SQLite file (WAL) holding jobs, orders and their status history,
fills, round-trip trades, balances, downsampled equity and job logs.

:class:`Journal` is the one entry point; each part lives in its own module:

- :mod:`ats.database.migrations` opens the file (owner-only, WAL, checked) and brings its
  schema (:mod:`ats.database.schema`) up to date;
- :mod:`ats.database.intake` and :mod:`ats.database.writer` follow the job manager's bus
  off the hot path and commit a batch of rows every ``flush_interval`` seconds, reading
  the engine only through :mod:`ats.database.sources`;
- :mod:`ats.database.recovery` makes the journal agree with a restored job and moves a
  damaged file aside;
- :mod:`ats.database.queries` reads it back (``ats jobs``, the console).

"A fill is committed before it is shown as done": after each commit the journal publishes
a :class:`FillCommitted` event per new fill on the same bus; front ends show a fill as
done on that event (or ``await journal.flush()`` before reporting).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from pathlib import Path

from ats.database import rows
from ats.database.batch import Tracked
from ats.database.events import FillCommitted
from ats.database.migrations import JournalCorrupt, is_corruption, open_journal_file
from ats.database.queries import JournalQueries
from ats.database.recovery import quarantine, reconcile
from ats.database.schema import JOB_TABLES
from ats.database.sources import JobSource, JournaledJob
from ats.database.writer import BeforeCommit, JournalWriter

__all__ = [
    "BeforeCommit",
    "FillCommitted",
    "Journal",
    "JournalCorrupt",
    "is_corruption",
    "quarantine",
]


class Journal(JournalQueries):
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
        self.readonly = readonly
        self._lock = asyncio.Lock()
        """Held around each transaction: the writer's batches and recovery's rewrites."""
        self._writer = JournalWriter(
            lambda: self.db,
            self._lock,
            flush_interval=flush_interval,
            log_rows_per_job=log_rows_per_job,
            equity_points=equity_points,
        )

    @property
    def failures(self) -> int:
        """Batches that could not be written (each is also logged to the jobs it held)."""
        return self._writer.failures

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> Journal:
        """Connect, enable WAL and bring the schema up to date (or refuse clearly).

        JournalCorrupt if SQLite's check fails, so the caller can move the file aside
        (:func:`quarantine`); OSError or StateError when the file or its directory cannot
        be written (a full disk, read-only). See :func:`open_journal_file`."""
        self._db = await open_journal_file(self.path, readonly=self.readonly)
        if not self.readonly:
            try:
                self._reader = await open_journal_file(self.path, readonly=True)
            except BaseException:
                await self._db.close()
                self._db = None
                raise
        return self

    def attach(self, manager: JobSource, *, before_commit: BeforeCommit | None = None) -> None:
        """Subscribe to ``manager``'s events and start the batching writer task.
        ``before_commit`` gets the ids of the jobs whose orders or fills a batch holds."""
        self._writer.start(manager, before_commit)

    async def flush(self) -> None:
        """Return once every event published before this call is committed."""
        await self._writer.flush()

    async def close(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        await self._writer.stop()
        for connection in (self._reader, self._db):
            if connection is not None:
                await connection.close()
        self._db = self._reader = None

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- what is written of a run (trade pages: ats.trading_job.trade_pages) -------------
    def written_trades(self, job_id: str, account: object) -> int | None:
        """How many of the round trips of the run whose exchange is ``account`` are
        committed and final (the leading closed ones); None if this is not the run the
        journal holds (a new run not written yet)."""
        tracked = self._writer.tracked_run(job_id, account)
        return None if tracked is None else tracked.trades_closed

    def written_fills(self, job_id: str, account: object) -> int | None:
        """How many fills of that run are committed (see :meth:`written_trades`)."""
        tracked = self._writer.tracked_run(job_id, account)
        return None if tracked is None else tracked.fills

    # -- recovery and maintenance --------------------------------------------------------
    async def reconcile(self, job: JournaledJob) -> dict[str, int]:
        """Make the journal agree with a job just restored from its snapshot
        (:func:`ats.database.recovery.reconcile`). Returns counts of what changed, for the
        job's log."""
        async with self._lock:
            done = await reconcile(self.db, job)
        if done is None:
            return {}
        self._writer.track(
            job.id, Tracked(job.exchange, fills=done.fills, trades_closed=done.trades_closed)
        )
        return done.counts()

    async def delete_job(self, job_id: str) -> None:
        """Remove every row of a job (``ats jobs delete`` while ATS is not running)."""
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                await rows.delete_rows(self.db, job_id, ("jobs", *JOB_TABLES))
                await self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.db.execute("ROLLBACK")
                raise
        self._writer.forget(job_id)

    async def set_status(self, job_id: str, status: str) -> None:
        """Record the status a job will resume with (a graceful stop keeps ``running``)."""
        async with self._lock:
            await self.db.execute(
                "UPDATE jobs SET status = ?, updated_at = ? WHERE job_id = ?",
                (status, time.time(), job_id),
            )
