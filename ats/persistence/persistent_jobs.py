"""Jobs that survive restarts: restore on start, snapshot while running, save on quit.

:class:`PersistentJobs` sits beside a :class:`JobManager` (the console and the headless
runner both use it)::

    persistence = PersistentJobs(manager, Settings())
    await persistence.open()     # lock saved_states/, open the journal, restore every job
    persistence.resume()         # start the jobs that were running (and re-pause paused ones)
    ...
    await persistence.on_quit()  # 'q' / SIGTERM: stop jobs, snapshot them as running, close

A front end that stops the jobs itself must call :meth:`PersistentJobs.begin_shutdown`
first: a job stopped by a quit is saved as running (so it resumes), one stopped by the
user as stopped. The console's hooks are ``ats.ui.launch.console_hooks``.

What went wrong without stopping anything is for the front end to say: :attr:`notices`
after :meth:`open` (a damaged journal moved aside, a job resumed from its previous good
snapshot) and :meth:`unsaved_message` after :meth:`close` (a full or read-only disk).

Why snapshots are consistent without locks: jobs, the journal writer and this class share
one asyncio loop, and an exchange loop only yields at ``await control.checkpoint()`` (or
``cpu_checkpoint()``, or while waiting for data). Whenever a snapshot runs, every job is
therefore parked at such a point, with cursor, wallet, orders, fills and strategy state in
agreement. (What a job hands to a worker thread, indicator arrays before its replay and
its report after, only reads that state.)

Ordering with the journal: a backtest may be journaled ahead of its snapshot (a restore
deletes the extra rows and the replay writes them again, identically). A paper or live job
is snapshotted *before* the journal commits any batch holding its orders or fills, so its
snapshot is never behind what the journal (and so the UI) has shown as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable
from typing import Any

from ats.database.journal import Journal
from ats.exceptions import ATSError, JobError, PluginError, StateError
from ats.persistence.directory_lock import DirectoryLock, unwritable_error
from ats.persistence.journal_keeper import JournalKeeper
from ats.persistence.restore import one_line_error, restore_job, saved_config, unknown_config
from ats.persistence.snapshot_payload import (
    RESUME_STATUSES,
    build_payload,
    encode_payload,
    fingerprint,
)
from ats.persistence.snapshot_store import Candidate, SnapshotStore, check_job_id
from ats.trading_job.events import JobRemoved, JobStatusChanged, Subscription
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.app_log import SHOWN
from ats.utils.finite_json import finite
from ats.utils.redaction import redact, redact_data
from ats.utils.settings import Settings

logger = logging.getLogger(__name__)

_WATCH_INTERVAL = 0.05


class PersistentJobs:
    """Saves and restores a JobManager's jobs (snapshots + journal)."""

    def __init__(self, manager: JobManager, settings: Settings | None = None) -> None:
        self.manager = manager
        self.settings = settings or Settings()
        self.store = SnapshotStore(self.settings.saved_states_dir)
        self.restored: list[TradingJob] = []
        self._lock = DirectoryLock(self.settings.saved_states_dir)
        self.notices: list[str] = []
        """One-line notes for the front end to show at start: a damaged journal moved
        aside, jobs resumed from their previous good snapshot."""
        self.unsaved: dict[str, str] = {}
        """Jobs whose latest snapshot could not be written (a full or read-only disk),
        with the reason; a job leaves it when a snapshot of it is written again."""
        self._journal = JournalKeeper(
            manager, self.settings, before_commit=self._snapshot_before_commit, notices=self.notices
        )
        self._resume: dict[str, str] = {}
        self._shutdown: dict[str, str] | None = None
        self._unloadable: dict[str, TradingJob] = {}
        self._job_locks: dict[str, asyncio.Lock] = {}
        self._written: dict[str, tuple[Any, ...]] = {}
        """Fingerprint of each job's state when its snapshot was last written."""
        self._redacted_reports: dict[str, tuple[Any, Any]] = {}
        """Per job: its report and that report redacted (see :meth:`_redact_report`)."""
        self._warned_config: set[str] = set()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._opened = False
        self._closed = False

    # -- start ---------------------------------------------------------------------------
    async def open(self, only: Iterable[str] | None = None) -> list[TradingJob]:
        """Lock the directory, open the journal and restore every saved job (or those of
        ``only`` that are saved: ``ats run`` takes up its own jobs and leaves the rest).

        Raises StateError (e.g. a journal from a newer ATS, the directory in use by
        another process, or nothing can be written there); a single bad job never raises,
        it is kept in the error state. A damaged journal is moved aside and rebuilt from
        the snapshots (see :attr:`notices`).
        """
        directory = self.store.directory
        try:
            self.store.ensure_directory()
            self._lock.acquire()
        except OSError as exc:
            raise unwritable_error(directory, exc) from None
        try:
            self.store.remove_stale_temp_files()
            try:
                self.store.check_writable()
            except OSError as exc:
                raise unwritable_error(directory, exc) from None
            if self.settings.journal_enabled:
                await self._journal.open()
            self._subscription = self.manager.bus.subscribe(
                100_000, kinds=(JobStatusChanged, JobRemoved)
            )
            wanted = None if only is None else set(only)
            self.restored = [
                await self._load_safely(job_id)
                for job_id in self.store.job_ids()
                if wanted is None or job_id in wanted
            ]
            if self.journal is not None:
                # The restore notes and reconciliations are committed before any job runs:
                # a kill -9 soon after a start (candles now load from the cache in ms)
                # must not lose the record of that start.
                await self.journal.flush()
        except BaseException:
            await self._journal.close()
            self._lock.release()
            raise
        self._opened = True
        self._tasks = [
            asyncio.create_task(self._watch(), name="persistence-watch"),
            asyncio.create_task(self._periodic(), name="persistence-periodic"),
        ]
        return self.restored

    @property
    def journal(self) -> Journal | None:
        """The open journal (None when disabled, or before :meth:`open`)."""
        return self._journal.journal

    async def start(self) -> list[str]:
        """:meth:`open` then :meth:`resume`: the console's start-up hook. Returns the ids of
        the jobs started again."""
        await self.open()
        return self.resume()

    @property
    def resumable(self) -> dict[str, str]:
        """Restored jobs saved as running or paused that have not been started yet."""
        return dict(self._resume)

    @property
    def unloadable(self) -> list[str]:
        """Saved jobs that could not be restored (kept in the error state, not lost)."""
        return list(self._unloadable)

    def resume(self, job_ids: list[str] | None = None) -> list[str]:
        """Start restored jobs that were running (pausing again those saved as paused)."""
        started = []
        for job_id in list(self._resume) if job_ids is None else job_ids:
            status = self._resume.pop(job_id, None)
            if status is None:
                continue
            try:
                job = self.manager.start(job_id)
                if status == "paused":
                    self.manager.pause(job_id)
            except ATSError as exc:
                with contextlib.suppress(JobError):
                    self.manager.get(job_id).log("ERROR", f"cannot resume: {exc}")
                continue
            started.append(job.id)
        return started

    async def _load_safely(self, job_id: str) -> TradingJob:
        """One job's restore can never stop the others from loading."""
        try:
            return await self._load(job_id)
        except Exception as exc:
            logger.exception("restoring job %s failed", job_id, extra=SHOWN)  # job in error
            try:
                return self.manager.get(job_id)
            except JobError:
                return await self._keep_failed(
                    job_id, None, f"restore failed: {type(exc).__name__}: {one_line_error(exc)}"
                )

    async def _load(self, job_id: str) -> TradingJob:
        """Restore one job from its current snapshot, else the previous good copy, else keep
        it visible in the error state. Never raises for a bad file."""
        candidates = self.store.candidates(job_id)
        problems: list[str] = []
        config_data: dict[str, Any] | None = None
        for candidate in candidates:
            if candidate.payload is None:
                problems.append(f"{candidate.path.name} unusable: {candidate.error}")
                continue
            config_data = config_data or candidate.payload["config"]
            try:
                job = restore_job(self.manager, job_id, candidate.payload)
            except PluginError as exc:
                return await self._keep_failed(job_id, config_data, f"cannot restore: {exc}")
            except Exception as exc:  # whatever the file makes the code trip over
                problems.append(f"{candidate.path.name} unusable: {one_line_error(exc)}")
                logger.warning(
                    "job %s: snapshot %s unusable",
                    job_id,
                    candidate.path.name,
                    exc_info=exc,
                    extra=SHOWN,  # the restore notice and the job's log say it
                )
                continue
            await self._adopt(job, candidate, problems)
            return job
        reasons = "; ".join(problems) or "no snapshot file"
        return await self._keep_failed(job_id, config_data, f"no usable snapshot: {reasons}")

    async def _adopt(self, job: TradingJob, candidate: Candidate, problems: list[str]) -> None:
        payload = candidate.payload
        assert payload is not None
        primary = candidate.path == self.store.path(job.id)
        if not primary and not problems:
            problems = [f"{self.store.path(job.id).name} missing"]
        if primary:
            self.store.mark_good(job.id)
            job.restore_note = payload.get("restore_note")
        if problems:
            # The current file failed: its state is lost for this run, and every front
            # end says so until the job is run afresh (the note is saved with the job).
            job.restore_note = (
                f"resumed from the previous good copy saved at {candidate.saved_at}: "
                f"{'; '.join(problems)}"
            )
            self.notices.append(f"job {job.config.name} ({job.id}) {job.restore_note}")
            with contextlib.suppress(OSError):
                aside = self.store.set_aside(job.id)
                if aside is not None:
                    job.log("INFO", f"the unusable snapshot is kept as {aside.name}")
        for problem in problems:
            job.log(
                "WARNING",
                f"snapshot {problem}; resumed from the previous good copy saved at "
                f"{candidate.saved_at}",
            )
        if candidate.migrated_from is not None:
            job.log("INFO", f"snapshot migrated from format version {candidate.migrated_from}")
        saved = payload["status"]
        if saved in RESUME_STATUSES:
            self._resume[job.id] = saved
        elif saved != "created":
            job.status = JobStatus(saved)
        if self.journal is not None:
            counts = await self._journal.reconcile(job, self._unloadable)
            if counts.get("dropped") or counts.get("added"):
                job.log(
                    "INFO",
                    f"journal reconciled with the snapshot: {counts['dropped']} fill(s) past it "
                    f"removed (they are replayed), {counts['added']} missing fill(s) added",
                )
        self.manager.add_restored(job)
        progress = job.exchange.progress if job.exchange is not None else None
        where = f" at candle {progress.done:,}" if progress is not None and progress.done else ""
        job.log("INFO", f"restored from snapshot saved at {candidate.saved_at}{where} ({saved})")
        if self._journal.note is not None:
            job.log("WARNING", self._journal.note)
        if primary:
            self._written[job.id] = self._fingerprint(job)

    async def _keep_failed(
        self, job_id: str, config_data: dict[str, Any] | None, error: str
    ) -> TradingJob:
        config = saved_config(job_id, config_data)
        if config is None and self.journal is not None:
            try:
                row = await self.journal.job(job_id)
            except sqlite3.DatabaseError:  # damaged: the config stays unknown
                row = None
            config = saved_config(job_id, row["config"] if row else None)
        job = self.manager.add_failed(config or unknown_config(job_id), job_id, redact(error))
        self._unloadable[job_id] = job
        if self._journal.note is not None:
            job.log("WARNING", self._journal.note)
        return job

    # -- saving --------------------------------------------------------------------------
    def unsaved_message(self) -> str | None:
        """One line about jobs whose latest state could not be written, else None."""
        if not self.unsaved:
            return None
        reason = next(iter(self.unsaved.values()))
        return (
            f"{len(self.unsaved)} job(s) not saved in {self.store.directory} ({reason}): "
            "the next start resumes them from their last saved state"
        )

    def payload(self, job: TradingJob) -> dict[str, Any]:
        """What goes into ``<job_id>.json``: the job's snapshot, its last report and the
        status it should resume with. Credentials are masked, never stored."""
        payload = self._payload(job, for_file=False)
        payload["report"] = finite(payload["report"])
        return payload

    def _payload(self, job: TradingJob, *, for_file: bool = True) -> dict[str, Any]:
        """:meth:`payload` with the report as the job has it (NaN metrics and all) and,
        ``for_file``, the history as text only the file's encoder can write."""
        kept = self._redacted_reports.get(job.id)
        redacted = kept[1] if kept is not None and kept[0] is job.report else None
        return build_payload(
            job, self._status_to_save(job), self._warn_masked, redacted, for_file=for_file
        )

    async def _redact_report(self, job: TradingJob) -> None:
        """Redact a new report in a worker thread, once: it holds every trade (a second
        on the loop for 50,000 trades, bench/ui_latency.py) and never changes once made."""
        report = job.report
        if not report or self._status_to_save(job) in RESUME_STATUSES:
            return  # no report saved
        kept = self._redacted_reports.get(job.id)
        if kept is None or kept[0] is not report:
            self._redacted_reports[job.id] = (report, await asyncio.to_thread(redact_data, report))

    def _warn_masked(self, job: TradingJob, masked: list[str]) -> None:
        if job.id not in self._warned_config:
            self._warned_config.add(job.id)
            job.log(
                "WARNING",
                f"{', '.join(masked)}: looks like a credential; it is not saved. Put it in .env "
                f"and reference it by name (e.g. api_key_env: BINANCE_API_KEY)",
            )

    def _encode(self, job_id: str, payload: dict[str, Any]) -> bytes:
        return encode_payload(self.store, job_id, payload)

    def _status_to_save(self, job: TradingJob) -> str:
        if job.frozen or job.status is JobStatus.ERROR:
            return str(JobStatus.ERROR)  # never resumed into the same hang or failure
        if self._shutdown is not None and job.id in self._shutdown:
            return self._shutdown[job.id]
        if job.status is JobStatus.CREATED and job.id in self._resume:
            return self._resume[job.id]
        return str(job.status)

    async def snapshot(self, job_id: str, *, force: bool = False) -> bool:
        """Write one job's snapshot now, unless nothing changed since the last one (or
        ``force``). False if nothing was written (unchanged, unloadable, gone, failed)."""
        lock = self._job_locks.setdefault(job_id, asyncio.Lock())
        async with lock:
            try:
                job = self.manager.get(job_id)
            except JobError:
                return False
            if self._unloadable.get(job_id) is job:
                return False  # keep the files of a job that failed to load as they are
            if self._shutdown is not None and job.status.is_active and not (force or self._closed):
                return False  # stopping: it is saved once stopped, don't delay the stop
            fingerprint = self._fingerprint(job)
            if not force and self._written.get(job_id) == fingerprint:
                return False
            warming = job.capabilities.history_warming
            if warming is not None:
                await warming.warm_history()  # the unchanging bulk, encoded off the loop
            await self._redact_report(job)
            fingerprint = self._fingerprint(job)
            if not force and self._written.get(job_id) == fingerprint:
                return False
            try:
                check_job_id(job_id)
                payload = self._payload(job)
                if job.status.is_active:
                    data = self._encode(job_id, payload)
                else:
                    # Nothing changes the payload of a job that is not running: encoding
                    # a finished backtest's report and history (~40 ms) leaves the loop.
                    data = await asyncio.to_thread(self._encode, job_id, payload)
            except (ValueError, TypeError, StateError) as exc:  # e.g. a list in the state
                reason = one_line_error(exc)  # changed in place to hold what cannot be saved
                self._not_saved(job, reason, f"snapshot failed: {reason}")
                return False
            try:
                await asyncio.to_thread(self.store.write, job_id, data)
            except OSError as exc:
                reason = exc.strerror or str(exc)
                self._not_saved(
                    job, reason, f"snapshot not written in {self.store.directory}: {reason}"
                )
                return False
            self._written[job_id] = fingerprint
            if self.unsaved.pop(job_id, None) is not None:
                job.log("INFO", "snapshot written again")
        return True

    def _not_saved(self, job: TradingJob, reason: str, message: str) -> None:
        """Log it once per reason, not at every periodic snapshot; the front end says it
        again on the way out (:meth:`unsaved_message`)."""
        if self.unsaved.get(job.id) != reason:
            job.log("ERROR", message)
        self.unsaved[job.id] = reason

    def _fingerprint(self, job: TradingJob) -> tuple[Any, ...]:
        return fingerprint(job, self._status_to_save(job))

    async def snapshot_all(self, *, force: bool = False) -> None:
        """Snapshot every job whose state changed since its last snapshot (or all)."""
        for job in self.manager:  # one at a time: a stop signal is handled in between
            await self.snapshot(job.id, force=force)

    def unsaved_jobs(self) -> list[str]:
        """The jobs whose state on disk is behind the job's (a stop deadline names them).

        Called from the watchdog thread while the main thread may be anywhere: it only
        reads, and a job it cannot read counts as unsaved."""
        names = []
        for job in self.manager:
            if self._unloadable.get(job.id) is job:
                continue
            try:
                behind = job.status.is_active or self._written.get(job.id) != self._fingerprint(job)
            except Exception:
                behind = True
            if behind:
                names.append(f"{job.config.name} ({job.id})")
        return names

    def save_now(self) -> list[str]:
        """Last snapshot attempt before an immediate exit (a second stop signal): write,
        synchronously, every job whose state on disk is behind. It runs on the loop, so
        every job is parked at an await and its state is consistent. Returns the jobs
        that could not be written."""
        failed = []
        for job in self.manager:
            if self._unloadable.get(job.id) is job:
                continue
            try:
                fingerprint = self._fingerprint(job)
                if self._written.get(job.id) == fingerprint:
                    continue
                self.store.write(job.id, self._encode(job.id, self._payload(job)))
                self._written[job.id] = fingerprint
            except Exception as exc:
                failed.append(f"{job.config.name} ({job.id}): {one_line_error(exc)}")
                logger.error(
                    "job %s: last snapshot before exit failed",
                    job.id,
                    exc_info=exc,
                    extra=SHOWN,  # the exit line names the job
                )
        return failed

    async def _snapshot_before_commit(self, job_ids: set[str]) -> None:
        """Journal hook: a paper/live job's snapshot must include what is about to be
        committed (fills are rare, so this is cheap)."""
        for job_id in job_ids:
            try:
                job = self.manager.get(job_id)
            except JobError:
                continue
            if job.mode != "backtest":
                await self.snapshot(job_id)

    async def forget(self, job_id: str) -> None:
        """Delete a job's snapshot files (its journal rows go with the JobRemoved event)."""
        lock = self._job_locks.setdefault(job_id, asyncio.Lock())
        async with lock:
            await asyncio.to_thread(self.store.delete, job_id)
        self._unloadable.pop(job_id, None)
        self._resume.pop(job_id, None)
        self._written.pop(job_id, None)
        self._redacted_reports.pop(job_id, None)
        self.unsaved.pop(job_id, None)

    async def _watch(self) -> None:
        """Snapshot jobs whose status changed (created, finished, stopped...) and delete
        the files of deleted jobs."""
        subscription = self._subscription
        assert subscription is not None
        while not self._stop.is_set():
            try:
                first = await asyncio.wait_for(subscription.get(), _WATCH_INTERVAL)
            except TimeoutError:
                continue
            try:
                changed: dict[str, None] = {}
                for event in [first, *subscription.drain()]:
                    if isinstance(event, JobRemoved):
                        changed.pop(event.job_id, None)
                        await self.forget(event.job_id)
                    elif isinstance(event, JobStatusChanged):
                        changed[event.job_id] = None
                for job_id in changed:
                    await self.snapshot(job_id)
            except Exception:  # keep watching: the next change must still be saved
                logger.exception("saving changed job(s) %s failed", ", ".join(changed))

    async def _periodic(self) -> None:
        while not self._stop.is_set():
            await self._pause(self.settings.snapshot_interval_s)
            for job in self.manager if not self._stop.is_set() else []:
                try:
                    await self.snapshot(job.id)
                except Exception:  # the other jobs are still saved
                    logger.exception("job %s: periodic snapshot failed", job.id)

    async def _pause(self, seconds: float) -> None:
        """Sleep that ends early on close (loops are never cancelled mid-write)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    # -- stop ----------------------------------------------------------------------------
    def begin_shutdown(self) -> None:
        """Remember which jobs are running/paused, before they are stopped for a quit or a
        signal, so their snapshots say so and the next start resumes them."""
        if self._shutdown is None:
            self._shutdown = {}
        for job in self.manager:
            if job.status.is_active:
                self._shutdown.setdefault(job.id, str(job.status))
                job.stopping_to_resume()

    async def on_quit(self, timeout: float = 1.5) -> None:
        """The console's ``q`` (and any graceful stop): stop every job, wait at most
        ``timeout`` seconds, snapshot them with the status to resume and close."""
        self.begin_shutdown()
        tasks = []
        for job in self.manager:
            if job.status.is_active:
                with contextlib.suppress(JobError):
                    job.stop()
            if job.task is not None and not job.task.done():
                tasks.append(job.task)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.close()

    async def close(self) -> None:
        """Final snapshots, journal flushed and closed, directory unlocked. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._subscription is not None:
            for event in self._subscription.drain():
                if isinstance(event, JobRemoved):
                    await self.forget(event.job_id)
            self._subscription.close()
        try:
            if self._opened:
                await self.snapshot_all()
            if self.journal is not None:
                await self.journal.flush()
                try:
                    for job_id, status in (self._shutdown or {}).items():
                        await self.journal.set_status(job_id, status)
                except sqlite3.Error as exc:  # the snapshots say it too: not fatal
                    logger.info("journal: statuses not recorded: %s", exc)
        finally:
            await self._journal.close()
            self._lock.release()

    async def __aenter__(self) -> PersistentJobs:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
