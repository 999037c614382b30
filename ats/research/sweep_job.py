"""One sweep run as a console job: ``ats optimize``'s search beside the console's jobs.

The trials run in worker processes (:mod:`ats.research.process_pool`, or Ray when the
spec names a cluster); the console's event loop only receives each finished trial,
commits it to the trial journal (``saved_states/research.sqlite3``) and publishes it on
the job manager's bus, so the console redraws the sweep's row, heatmap and trials at its
usual bounded rate. Loading the candles and starting the workers happen in a thread, so
a key pressed meanwhile is answered at once. A stopped or interrupted sweep started
again reads its finished trials back from the journal instead of computing them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ats.exceptions import ATSError
from ats.research.events import SweepFinished, SweepStarted, TrialFinished
from ats.research.journal import TrialJournal, file_identity, search_key
from ats.research.search import Search
from ats.research.trial import TrialResult
from ats.trading_job.events import EventBus, JobEvent, JobLog, JobStatusChanged
from ats.trading_job.status import JobStatus
from ats.utils.plugins import PluginLoader

if TYPE_CHECKING:
    from ats.data.candles import CandleData
    from ats.research.executor import TrialExecutor
    from ats.research.methods import SearchMethod

logger = logging.getLogger(__name__)

LOG_LINES = 500
"""Log lines a sweep keeps (it logs a line per start, stop and result, not per trial)."""


@dataclass(frozen=True, slots=True)
class SweepLogEntry:
    time: float
    level: str
    message: str


class SweepJob:
    """A sweep's state for the read model, and the task that runs it."""

    def __init__(
        self,
        sweep_id: str,
        spec: Path,
        search: Search | None,
        *,
        bus: EventBus,
        loader: PluginLoader,
        journal: TrialJournal,
        error: str | None = None,
        on_status: Callable[[SweepJob], None] | None = None,
    ) -> None:
        self.id = sweep_id
        self.spec = spec
        self.search = search
        """None when the spec could not be read (then ``error`` says why)."""
        self.name = spec.name.removesuffix(".yaml").removesuffix(".yml")
        self._bus = bus
        self._loader = loader
        self._journal = journal
        self._on_status = on_status
        self.status = JobStatus.ERROR if error is not None else JobStatus.CREATED
        self.error = error
        self.trials: dict[int, TrialResult] = {}
        self.best: TrialResult | None = None
        self.total: int | None = None
        self.computed = 0
        self.resumed = 0
        self.executor = ""
        self.began: float | None = None
        """When this run's first trial was handed to the workers (monotonic)."""
        self.ended: float | None = None
        self.logs: deque[SweepLogEntry] = deque(maxlen=LOG_LINES)
        self.log_count = 0
        self.task: asyncio.Task[None] | None = None
        if error is not None:
            self.log("ERROR", error)

    # -- what the read model shows ---------------------------------------------------------
    @property
    def done(self) -> int:
        return len(self.trials)

    @property
    def eta_seconds(self) -> float | None:
        """Trials left at the pace of the ones this run computed (the journal's came free)."""
        if self.status is not JobStatus.RUNNING or self.began is None or not self.computed:
            return None
        if self.total is None:
            return None
        left = max(self.total - self.done, 0)
        return left * (time.monotonic() - self.began) / self.computed

    @property
    def elapsed_seconds(self) -> float | None:
        if self.began is None:
            return None
        return (self.ended or time.monotonic()) - self.began

    def log(self, level: str, message: str) -> None:
        entry = SweepLogEntry(time.time(), level, message)
        self.logs.append(entry)
        self.log_count += 1
        self._bus.publish(JobLog(self.id, level, message, entry.time))

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self.search is None:
            raise ATSError(f"sweep {self.name}: {self.error}")
        if self.status.is_active:
            return
        self.error = None
        self.trials, self.best, self.computed, self.began, self.ended = {}, None, 0, None, None
        self._set_status(JobStatus.RUNNING)
        self.task = asyncio.create_task(self._run(self.search), name=f"sweep-{self.id}")

    def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def wait(self) -> None:
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    def load_journaled(self) -> None:
        """Show what the journal holds of this search (a restored, not running sweep)."""
        search = self.search
        if search is None or not search.data_path.exists():
            return
        try:
            key = search_key(search.description(file_identity(search.data_path), self._loader))
            finished = self._journal.finished(key)
        except (ATSError, OSError) as exc:
            self.log("WARNING", f"cannot read its journaled trials: {exc}")
            return
        self.trials = dict(finished)
        self.best = search.objective.best(finished.values())
        self.total = search.trials if search.method == "optuna" else search.make_method().total

    def _set_status(self, status: JobStatus, error: str | None = None) -> None:
        self.status = status
        if self._on_status is not None:
            self._on_status(self)
        self._bus.publish(JobStatusChanged(self.id, status, error))

    async def _run(self, search: Search) -> None:
        from ats.research.sweep import Window, run_search

        if search.walk_forward:
            self._fail("walk_forward: run a walk-forward with ats optimize (not in the console)")
            return
        opening = asyncio.ensure_future(asyncio.to_thread(self._open, search))
        try:
            data, executor, method = await asyncio.shield(opening)
        except asyncio.CancelledError:  # stopped while the workers were starting
            self.log("INFO", "stopped before its first trial")
            self._set_status(JobStatus.STOPPED)
            opening.add_done_callback(_close_when_open)
            raise
        except (ATSError, OSError, ValueError) as exc:
            self._fail(str(exc))
            return
        try:
            await run_search(
                sweep_id=self.id,
                name=self.name,
                description=search.description(file_identity(search.data_path), self._loader),
                method=method,
                objective=search.objective,
                executor=executor,
                journal=self._journal,
                window=Window(0, len(data)),
                publish=self._publish,
            )
        except asyncio.CancelledError:
            self.ended = time.monotonic()
            self.log("INFO", f"stopped after {self.done} trials; start it again to resume")
            self._set_status(JobStatus.STOPPED)
            raise
        except ATSError as exc:
            self._fail(str(exc))
        except Exception as exc:  # a bug or a dead worker: this sweep fails, the console not
            logger.exception("sweep %s failed", self.id)
            self._fail(f"{type(exc).__name__}: {exc}")
        else:
            self._set_status(JobStatus.FINISHED)
        finally:
            # Running trials finish (or are dropped) in a thread: the loop stays free.
            await asyncio.shield(asyncio.to_thread(executor.close))

    def _open(self, search: Search) -> tuple[CandleData, TrialExecutor, SearchMethod]:
        """Load the candles, list the trials and start the workers (in a thread: the
        first parse of a file, a large grid and the fork server's imports take a while)."""
        from ats.data.candle_cache import load_candles_cached
        from ats.data.candles import CandleDataError
        from ats.exceptions import DataError
        from ats.research.executor import open_executor
        from ats.research.process_pool import ProcessPool
        from ats.research.worker_start import start_fork_server

        try:
            data = load_candles_cached(search.data_path)
        except CandleDataError as exc:
            raise DataError(str(exc)) from None
        method = search.make_method()
        if not search.ray:
            start_fork_server()
        executor = open_executor(
            search.base,
            data,
            workers=search.workers,
            ray_address=search.ray,
            custom_root=self._loader.custom_root,
        )
        if isinstance(executor, ProcessPool):
            executor.warm_up()
        return data, executor, method

    def _fail(self, message: str) -> None:
        self.ended = time.monotonic()
        self.error = message
        self.log("ERROR", message)
        self._set_status(JobStatus.ERROR, message)

    def _publish(self, event: JobEvent) -> None:
        """Keep what the views show, then tell the console (the same events as the CLI's)."""
        if isinstance(event, SweepStarted):
            self.total, self.resumed, self.executor = event.total, event.resumed, event.executor
            self.began = time.monotonic()
            journaled = f", {event.resumed} from the journal" if event.resumed else ""
            self.log(
                "INFO",
                f"{event.total} trials on {event.executor}{journaled}; "
                f"{event.direction} {event.objective}",
            )
        elif isinstance(event, TrialFinished):
            self.trials[event.trial.number] = event.trial
            self.best = event.best
            if not event.from_journal:
                self.computed += 1
        elif isinstance(event, SweepFinished):
            self.ended = time.monotonic()
            best = self.best
            summary = f"best trial {best.number}: {best.params}" if best else "no trial ranked"
            self.log(
                "INFO",
                f"finished {event.done} trials ({event.computed} computed) in "
                f"{event.seconds:.1f}s; {summary}",
            )
        self._bus.publish(event)


def _close_when_open(
    opening: asyncio.Future[tuple[CandleData, TrialExecutor, SearchMethod]],
) -> None:
    """The sweep stopped while its workers were starting: close them once they are up."""
    if not opening.cancelled() and opening.exception() is None:
        _data, executor, _method = opening.result()
        asyncio.get_running_loop().run_in_executor(None, executor.close)
