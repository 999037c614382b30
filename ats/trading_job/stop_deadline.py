"""Bounded stops: SIGINT, SIGTERM, SIGHUP and the console's ``q`` end the process in time.

A graceful stop waits for jobs, and jobs can take any time: a strategy stuck in
``on_candle``, a live exchange that does not answer while ccxt retries with backoff. A
service manager then kills the process with no final snapshot. So a stop has a deadline
*D* (``ATS_STOP_DEADLINE_S``, 10 s by default), counted from the stop request:

- at once: every running job is asked to stop, and job code may hold the event loop
  for at most D/4 (the loop watchdog interrupts it; that job ends in *error*);
- at D/2: jobs still not stopped are cancelled where they wait (their ``on_stop`` and a
  short disconnect still run); they end *stopped* and resume next time;
- then the front end saves its snapshots and exits;
- at D, if the process is still alive, the watchdog thread prints one line naming the
  jobs whose state could not be saved and ends the process.

A front end may keep running without its terminal on SIGHUP instead (``on_hangup``: the
console's ``--on-hangup keep``, see ats.ui.hangup); then SIGHUP is not a stop at all.

A second SIGINT/SIGTERM/SIGHUP does not wait: it interrupts job code holding the loop,
makes a last snapshot attempt and exits (within a second or two at most).

Ending the process (the deadline, a second signal) and tightening the watchdog are for
the process's owner only (``owns_process``: the ``ats`` command's front ends); a front
end embedded in another program (a test) only gets the bounded wait for its jobs.

Signal handlers are Python-level (``signal.signal``), not the event loop's: they run in
the main thread even while job code holds the loop, so the deadline starts on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import types
from collections.abc import Callable
from typing import Any, NoReturn

from ats.exceptions import JobError
from ats.trading_job.job_manager import JobManager
from ats.trading_job.watchdog import LoopWatchdog, installed, mark_bookkeeping
from ats.utils.app_log import SHOWN

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_DEADLINE_S = 10.0
ABORT_AT = 0.5
"""Share of the deadline after which jobs that have not stopped are cancelled."""
JOBS_BY = 0.75
"""Share of the deadline by which the wait for jobs gives up (the rest is for saving)."""
SECOND_SIGNAL_EXIT_S = 2.0
"""After a second signal the process ends within this many seconds, saved or not."""

NamesFunction = Callable[[], list[str]]


class StopDeadline:
    """One process's stop (see the module docstring).

    ``unsaved()`` names the jobs whose state is not on disk yet (read from the watchdog
    thread at the deadline), ``save_now()`` is the last snapshot attempt of a second
    signal (it returns what it could not save), ``before_exit()`` restores the terminal.
    ``on_first(signal_name)`` is the front end's graceful stop, called on the loop.
    ``on_hangup()`` is asked first on SIGHUP (in the signal handler): True means the
    front end carries on without its terminal, and the hang-up is not a stop.
    """

    def __init__(
        self,
        manager: JobManager,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        watchdog: LoopWatchdog | None = None,
        unsaved: NamesFunction | None = None,
        save_now: NamesFunction | None = None,
        before_exit: Callable[[], None] | None = None,
        on_first: Callable[[str], None] | None = None,
        owns_process: bool = False,
        on_hangup: Callable[[], bool] | None = None,
    ) -> None:
        self.manager = manager
        self.deadline_s = deadline_s
        self.owns_process = owns_process
        self._watchdog = watchdog
        self.unsaved = unsaved
        self.save_now = save_now
        self.before_exit = before_exit
        self.on_first = on_first
        self.on_hangup = on_hangup
        self.signals = 0
        self.began: float | None = None
        """monotonic() of the stop request."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._stopper: asyncio.Future[None] | None = None

    @property
    def watchdog(self) -> LoopWatchdog | None:
        """The process's watchdog, if this stop may use it (see ``owns_process``)."""
        if not self.owns_process:
            return None
        return self._watchdog if self._watchdog is not None else installed()

    # -- signals -------------------------------------------------------------------------
    @property
    def installed(self) -> bool:
        return bool(self._previous)

    def install_signals(self) -> None:
        """Handle SIGINT, SIGTERM and SIGHUP (main thread, with a running loop)."""
        self._loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            # Only the main thread may set handlers (tests may run elsewhere).
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self._previous[sig] = signal.signal(sig, self._on_signal)

    def remove_signals(self) -> None:
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, RuntimeError, TypeError):
                signal.signal(sig, previous)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        """Runs in the main thread between two bytecodes, wherever it is: even inside job
        code that holds the loop. Arms the deadline, then hands over to the loop."""
        if signum == signal.SIGHUP and self.on_hangup is not None and self.on_hangup():
            return
        name = signal.Signals(signum).name
        self.signals += 1
        watchdog = self.watchdog
        if self.signals == 1 or not self.owns_process:
            self._begin()
            self._call_soon(self._first_signal, name)
            return
        if watchdog is not None:
            watchdog.hurry(SECOND_SIGNAL_EXIT_S)
        self._call_soon(self.exit_now, f"second {name}")
        if watchdog is not None:  # job code holding the loop is interrupted right here
            watchdog.interrupt_now(frame, f"interrupted by a second {name}")

    def _call_soon(self, callback: Callable[[str], object], argument: str) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to run
                self._loop.call_soon_threadsafe(callback, argument)

    def _first_signal(self, name: str) -> None:
        if self.on_first is not None:
            self.on_first(name)
        else:
            self._stopper = asyncio.ensure_future(self.stop_jobs())

    # -- the stop ----------------------------------------------------------------------------
    def request(self) -> None:
        """Start the clock (a first signal, or ``q``); later calls change nothing."""
        self._begin()

    def _begin(self) -> None:
        if self.began is not None:
            return
        self.began = time.monotonic()
        watchdog = self.watchdog
        if watchdog is not None:
            watchdog.begin_stop(self.deadline_s, self._deadline_line)

    def remaining(self, share: float = 1.0) -> float:
        """Seconds left until ``share`` of the deadline (the whole of it if not begun)."""
        began = self.began if self.began is not None else time.monotonic()
        return max(began + self.deadline_s * share - time.monotonic(), 0.0)

    async def stop_jobs(self) -> None:
        """Stop every running job, cancel those still waiting at D/2, and return once all
        have ended or by 3/4 of the deadline."""
        self.request()
        for job in self.manager:
            if job.status.is_active:
                with contextlib.suppress(JobError):
                    job.stop()
        pending = self._pending()
        if pending:
            await asyncio.wait(pending, timeout=self.remaining(ABORT_AT))
        late = f"stop deadline: not stopped {self.deadline_s * ABORT_AT:g}s after the stop"
        for job in self.manager:
            if job.task is not None and not job.task.done():
                job.abort(late)
        pending = self._pending()
        if pending:
            await asyncio.wait(pending, timeout=self.remaining(JOBS_BY))

    def _pending(self) -> set[asyncio.Task[None]]:
        return {job.task for job in self.manager if job.task is not None and not job.task.done()}

    # -- ending the process ------------------------------------------------------------------
    def exit_now(self, reason: str) -> NoReturn:
        """A second signal: a last snapshot attempt, one line, exit."""
        failed: list[str] = []
        if self.save_now is not None:
            try:
                failed = self.save_now()
            except Exception as exc:  # on the loop (call_soon): logging cannot hang here
                failed = [f"every job ({type(exc).__name__}: {exc})"]
                logger.error("last snapshots before exit failed", exc_info=exc, extra=SHOWN)
        if failed:
            self._exit(f"ats: {reason}: exiting now; not saved: {', '.join(failed)}", 1)
        self._exit(f"ats: {reason}: exiting now; state saved", 0)

    def _deadline_line(self) -> tuple[str, int]:
        """The watchdog thread's line at the deadline (and the exit status)."""
        if self.before_exit is not None:
            with contextlib.suppress(Exception):
                self.before_exit()
        if self.unsaved is not None:
            names = self.unsaved()
            what = "not saved"
        else:
            names = [
                f"{job.config.name} ({job.id})" for job in self.manager if job.status.is_active
            ]
            what = "still running"
        head = f"ats: stop deadline of {self.deadline_s:g}s passed"
        if names:
            return f"{head}; {what}: {', '.join(names)}; exiting", 1
        return f"{head} after every job was saved; exiting", 0

    def _exit(self, line: str, status: int) -> NoReturn:
        if self.before_exit is not None:
            with contextlib.suppress(Exception):
                self.before_exit()
        with contextlib.suppress(OSError, ValueError):
            stream = sys.__stderr__
            os.write(stream.fileno() if stream is not None else 2, f"{line}\n".encode())
        os._exit(status)


mark_bookkeeping(StopDeadline._on_signal)
