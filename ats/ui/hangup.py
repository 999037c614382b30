"""What the console does when its terminal hangs up (``--on-hangup``, ``ATS_ON_HANGUP``).

A dropped ssh connection or a killed tmux session hangs up the console's terminal. With
``keep`` (the default) the jobs carry on in the same process, headless: the driver stops
reading and writing the dead tty (:mod:`ats.ui.terminal_loss`), the console paints
nothing more, the control API keeps listening, so ``ats attach`` from a new session
brings the console back, and the process reports its jobs to the application log. A
quit from an attached console, SIGTERM or SIGINT then stops, saves and exits as ``q``
does. With ``stop`` a hang-up is a quit, as it always was.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING

from textual.screen import Screen

from ats.trading_job.views import JobView
from ats.ui.terminal_loss import TerminalLossAware

if TYPE_CHECKING:
    from ats.ui.app import AtsApp

log = logging.getLogger(__name__)

STATUS_CHECK_S = 10.0
"""Seconds between looks at the jobs while headless (a line only when a status changed)."""
STATUS_EVERY_S = 900.0
"""A line even when nothing changed, so the log shows the process is alive."""


class HangupPolicy(StrEnum):
    """What a hang-up of the console's terminal does."""

    KEEP = "keep"
    """The jobs keep running headless in the same process (``ats attach`` shows them)."""
    STOP = "stop"
    """Stop every job, save and exit, as ``q`` does."""


class Hangup:
    """The console's side of losing its terminal (one per app)."""

    def __init__(self, app: AtsApp, policy: HangupPolicy) -> None:
        self.app = app
        self.policy = policy
        self.since: float | None = None
        """time.time() of the hang-up, once the console runs headless."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_statuses: tuple[tuple[str, str], ...] | None = None
        self._last_logged = 0.0

    @property
    def headless(self) -> bool:
        return self.since is not None

    def install(self) -> None:
        """Remember the console's loop (the signal handler hands the hang-up to it)."""
        self._loop = asyncio.get_running_loop()

    def on_signal(self) -> bool:
        """SIGHUP, in the signal handler (wherever the main thread is): stop using the
        terminal at once and continue on the loop. True: not a stop (keep the jobs)."""
        driver = self.app._driver
        if isinstance(driver, TerminalLossAware):
            driver.lose_terminal()
        keep = self.policy is HangupPolicy.KEEP and not self.app.quitting
        if self._loop is not None:
            # Through the app's message queue, not straight from the loop: the timers and
            # workers terminal_lost starts need the app's context (Textual's active_app).
            lost = functools.partial(self.terminal_lost, "SIGHUP", stopping=not keep)
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to keep
                self._loop.call_soon_threadsafe(self.app.call_later, lost)
        return keep

    def terminal_lost(self, reason: str, *, stopping: bool = False) -> None:
        """On the loop: let go of the tty, then carry on headless or stop and save
        (``stopping``: the signal's own stop does that)."""
        if self.since is not None:
            return
        self.since = time.time()
        driver = self.app._driver
        if isinstance(driver, TerminalLossAware):
            driver.release_terminal()
        if self.app.quitting or stopping:
            log.warning("%s: the terminal hung up; stopping and saving", reason)
            return
        if self.app.stop is None:  # an attached console: the jobs run elsewhere anyway
            log.warning("%s: the terminal hung up; detaching", reason)
            self.app.exit(0)
            return
        if self.policy is HangupPolicy.STOP:
            log.warning("%s: the terminal hung up; stopping and saving (--on-hangup stop)", reason)
            self.app.quit_on_signal(reason)
            return
        self.app.push_screen(Screen())  # nothing shown: the main screen stops rendering
        log.warning(
            "%s: the terminal hung up; the jobs keep running headless in pid %d. "
            "'ats attach' brings the console back; SIGTERM (or q there) stops and saves",
            reason,
            os.getpid(),
        )
        self.app.run_worker(self._log_status(), group="hangup-status", exit_on_error=False)
        self.app.set_interval(STATUS_CHECK_S, self._status_tick)

    def _status_tick(self) -> None:
        self.app.run_worker(self._log_status(), group="hangup-status", exit_on_error=False)

    async def _log_status(self) -> None:
        """One line about every job when a status changed (or every STATUS_EVERY_S)."""
        views = await self.app.control.jobs()
        statuses = tuple((view.job_id, view.status.value) for view in views)
        now = time.monotonic()
        if statuses == self._last_statuses and now - self._last_logged < STATUS_EVERY_S:
            return
        self._last_statuses, self._last_logged = statuses, now
        log.info("headless: %s", status_line(views))


def status_line(views: Iterable[JobView]) -> str:
    """``1 finished, 1 running | demo-replay (id) running 41%, demo-sma-cross (id) finished``."""
    views = list(views)
    counts: dict[str, int] = {}
    for view in views:
        counts[view.status.value] = counts.get(view.status.value, 0) + 1
    head = ", ".join(f"{count} {status}" for status, count in sorted(counts.items())) or "no jobs"
    jobs = ", ".join(_job_part(view) for view in views)
    return f"{head} | {jobs}" if jobs else head


def _job_part(view: JobView) -> str:
    fraction = view.progress.fraction
    done = f" {fraction:.0%}" if fraction is not None and view.status.is_active else ""
    pnl = f" P&L {view.pnl_pct:+.2f}%" if view.pnl_pct is not None else ""
    return f"{view.name} ({view.job_id}) {view.status.value}{done}{pnl}"
