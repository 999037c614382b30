"""The journal as the saved jobs keep it: opened, attached, and never fatal when damaged.

A damaged journal (SQLite's check fails at open, or reading it says "malformed" while
jobs are restored) is moved aside (:func:`ats.database.recovery.quarantine`) and a fresh
one is rebuilt from the restored jobs, whose snapshots are the source of truth: nothing
in them is lost. The one-line note saying so goes to the front end (``notices``) and
into the log of every job restored.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Container

from ats.database.journal import BeforeCommit, Journal, JournalCorrupt
from ats.database.migrations import is_corruption
from ats.database.recovery import quarantine
from ats.persistence.directory_lock import unwritable_error
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.utils.settings import Settings

logger = logging.getLogger(__name__)


class JournalKeeper:
    """Owns the open :class:`Journal` of one
    :class:`~ats.persistence.persistent_jobs.PersistentJobs`."""

    def __init__(
        self,
        manager: JobManager,
        settings: Settings,
        *,
        before_commit: BeforeCommit,
        notices: list[str],
    ) -> None:
        self.manager = manager
        self.settings = settings
        self.journal: Journal | None = None
        self.note: str | None = None
        """Why the journal was set aside this run, if it was."""
        self._before_commit = before_commit
        self._notices = notices

    async def open(self) -> Journal:
        """Open (and attach) the journal; a damaged one is moved aside for a fresh one."""
        try:
            journal = await self._new_journal().open()
        except JournalCorrupt as exc:
            self._set_aside(exc.detail)
            journal = await self._new_journal().open()
        except OSError as exc:
            raise unwritable_error(self.settings.journal_file.parent, exc) from None
        journal.attach(self.manager, before_commit=self._before_commit)
        self.journal = journal
        self.manager.trade_history = journal  # trade and fill pages read it
        return journal

    def _new_journal(self) -> Journal:
        return Journal(
            self.settings.journal_file,
            flush_interval=self.settings.journal_flush_ms / 1000,
            log_rows_per_job=self.settings.journal_log_rows,
            equity_points=self.settings.journal_equity_points,
        )

    def _set_aside(self, detail: str) -> None:
        path = self.settings.journal_file
        moved = quarantine(path)
        self.note = (
            f"journal {path} is damaged ({detail}); moved to {moved.name} and started "
            "afresh from the snapshots (nothing in them is lost)"
        )
        self._notices.append(self.note)
        logger.info(self.note)  # the front end shows the notice: not echoed again

    async def reconcile(self, job: TradingJob, unloadable: Container[str]) -> dict[str, int]:
        """:meth:`Journal.reconcile`; a journal found damaged only now (reading it says
        "malformed") is moved aside, and the jobs restored so far (but the ``unloadable``
        ones, whose files are kept as they are) are written anew."""
        assert self.journal is not None
        try:
            return await self.journal.reconcile(job)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):  # e.g. a full disk: the snapshot is what counts
                job.log("WARNING", f"journal not brought up to date: {exc}")
                return {}
            await self.close()
            self._set_aside(str(exc))
            journal = await self.open()
            for restored in self.manager:  # the job itself is not added yet
                restored.log("WARNING", str(self.note))
                if restored.id not in unloadable:
                    await journal.reconcile(restored)
            return await journal.reconcile(job)

    async def close(self) -> None:
        if self.manager.trade_history is self.journal:
            self.manager.trade_history = None
        if self.journal is not None:
            await self.journal.close()
            self.journal = None
