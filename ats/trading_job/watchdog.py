"""The loop watchdog: job code that holds the event loop too long is interrupted.

Jobs, the console and the journal share one asyncio loop in the main thread, so a
strategy stuck in ``on_candle`` (``while True: pass``, ``time.sleep(5)``, a slow
library call) would freeze every other job and make the process deaf to signals. The
watchdog gives each job a limit per mode (:class:`WatchdogLimits`) and interrupts the job
that holds the loop longer than that:

- the main thread marks when job code holds the loop: each step of a job's task (from
  one real suspension to the next: a backtest chunk, a streamed candle) and the
  strategy's ``setup()``. Marking is one tuple store per step, never per backtest candle;
- a daemon thread looks at the mark a few times a second. When one step has been held
  longer than its job's limit it sends a signal to the main thread
  (``signal.pthread_kill``);
- that signal's handler runs in the main thread, inside the stuck code (between two
  bytecodes of a busy loop, or in ``time.sleep``, which a raising handler interrupts),
  and raises :class:`JobFrozen` there, but only if the very step it was sent for is
  still running. The job then ends in *error* with the stack where it was stuck.

The same thread enforces a process's stop deadline (:meth:`LoopWatchdog.begin_stop`):
during a stop every job step is held to a shorter limit, and if the process is still
alive when the deadline passes the thread writes one line and ends it, whatever the
main thread is doing.

One watchdog per process (signals are per process): entry points :func:`install` it
and jobs started afterwards are guarded. Without it jobs run unguarded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
import types
from collections.abc import Callable, Coroutine, Generator, Iterator
from dataclasses import dataclass
from time import monotonic
from typing import Any, TypeVar

T = TypeVar("T")

WATCHDOG_SIGNAL = signal.SIGUSR2
"""Sent by the watchdog thread to the main thread (SIGALRM is left to test tools)."""
STOP_HOLD_SHARE = 0.25
"""During a stop, job code may hold the loop for at most this share of the deadline."""
MAX_POLL = 0.1
"""Seconds between the watchdog thread's looks (less for limits below a second)."""

Held = tuple["JobGuard", float]
"""(whose code holds the loop, since when (monotonic))."""


@dataclass(frozen=True)
class WatchdogLimits:
    """Seconds job code may hold the event loop at a stretch, per mode (0 = no limit).

    Backtests get longer: their steps are CPU slices (milliseconds) and a whole
    vectorised pass is one step; paper and live candles are rare and must not wait.
    """

    backtest: float = 10.0
    paper: float = 2.0
    live: float = 2.0

    def for_mode(self, mode: str) -> float:
        return {"backtest": self.backtest, "live": self.live}.get(mode, self.paper)

    @classmethod
    def from_settings(cls, settings: Any) -> WatchdogLimits:
        """From :class:`~ats.utils.settings.Settings` (``ATS_WATCHDOG_<MODE>_S``)."""
        return cls(
            backtest=settings.watchdog_backtest_s,
            paper=settings.watchdog_paper_s,
            live=settings.watchdog_live_s,
        )


class JobGuard:
    """Whose code holds the loop, and how long it may: one per job run (or setup)."""

    __slots__ = ("job_id", "limit", "mode", "name")

    def __init__(self, job_id: str, name: str, mode: str, limit: float) -> None:
        self.job_id = job_id
        self.name = name
        self.mode = mode
        self.limit = limit


class JobFrozen(BaseException):
    """Raised inside job code that held the event loop past its limit.

    A BaseException, like KeyboardInterrupt, so that a strategy's ``except Exception``
    cannot swallow it.
    """

    def __init__(
        self, guard: JobGuard, held: float, limit: float, why: str, setting: str = ""
    ) -> None:
        super().__init__(f"{guard.name}: held the event loop for {held:.1f}s ({why})")
        self.guard = guard
        self.held = held
        self.limit = limit
        self.why = why
        self.setting = setting
        """What sets that limit (for the log), if a setting does."""

    def where(self) -> str:
        """``file:line in function`` of the innermost job frame (where it was stuck)."""
        frames = _job_frames(self.__traceback__)
        if not frames:
            return "unknown place"
        frame = frames[-1]
        return f"{frame.filename}:{frame.lineno} in {frame.name}"

    def stack(self) -> str:
        """The traceback down to where it was stuck, without the watchdog's own frames."""
        frames = traceback.StackSummary.from_list(_job_frames(self.__traceback__))
        return f"Traceback (most recent call last):\n{''.join(frames.format())}JobFrozen: {self}"


def _job_frames(tb: types.TracebackType | None) -> list[traceback.FrameSummary]:
    return [frame for frame in traceback.extract_tb(tb) if frame.filename != __file__]


class LoopWatchdog:
    """See the module docstring. Use :func:`install`; tests may build their own."""

    def __init__(self, limits: WatchdogLimits | None = None) -> None:
        self.limits = limits or WatchdogLimits()
        self.held: Held | None = None
        """Written only by the main thread; read by the watchdog thread."""
        self._target: Held | None = None
        self._why = ""
        self._setting = ""
        self._fired_at = 0.0
        self._fired_limit = 0.0
        self.main_ident = threading.main_thread().ident
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._previous_handler: Any = None
        # Stop deadline (set from signal handlers or the loop, read by the thread).
        self._stop_began: float | None = None
        self._stop_hold = 0.0
        self._exit_at: float | None = None
        self._on_deadline: Callable[[], tuple[str, int]] | None = None

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> LoopWatchdog:
        """Install the signal handler (main thread only) and start the thread."""
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("the loop watchdog must be installed from the main thread")
        self._previous_handler = signal.signal(WATCHDOG_SIGNAL, self._interrupt)
        self._thread = threading.Thread(target=self._watch, name="ats-loop-watchdog", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._previous_handler is not None:
            signal.signal(WATCHDOG_SIGNAL, self._previous_handler)
            self._previous_handler = None

    # -- marking (main thread) -------------------------------------------------------------
    def guard(self, job_id: str, name: str, mode: str, limit: float | None = None) -> JobGuard:
        """A job's guard: its own ``limit`` if given (0 = none), else its mode's."""
        return JobGuard(job_id, name, mode, self.limits.for_mode(mode) if limit is None else limit)

    def steps(self, coro: Coroutine[Any, Any, T], guard: JobGuard) -> Coroutine[Any, Any, T]:
        """``coro`` with every step it holds the loop for marked as ``guard``'s."""

        async def guarded() -> T:
            result: T = await _stepped(self, coro, guard)
            return result

        return guarded()

    def section(self, guard: JobGuard) -> _Section:
        """``with watchdog.section(guard):`` marks synchronous job code (``setup()``)."""
        return _Section(self, guard)

    # -- the watchdog thread ---------------------------------------------------------------
    def _poll_seconds(self) -> float:
        limits = [value for value in vars(self.limits).values() if value > 0]
        if self._stop_began is not None:
            limits.append(self._stop_hold)
        shortest = min(limits, default=1.0)
        return min(max(shortest / 8, 0.005), MAX_POLL)

    def _watch(self) -> None:
        while not self._closed:
            self._wake.wait(self._poll_seconds())
            self._wake.clear()
            if self._closed:
                return
            now = monotonic()
            self._check_held(now)
            if self._exit_at is not None and now >= self._exit_at:
                self._deadline_passed()

    def _check_held(self, now: float) -> None:
        held = self.held
        if held is None:
            return
        guard, since = held
        limit, why = guard.limit, f"limit {guard.limit:g}s for {guard.mode} jobs"
        setting = f"ATS_WATCHDOG_{guard.mode.upper()}_S or the job's watchdog_s"
        if self._stop_began is not None and (limit <= 0 or limit > self._stop_hold):
            limit, why = self._stop_hold, f"limit {self._stop_hold:g}s while stopping"
            setting = f"{STOP_HOLD_SHARE:g} x ATS_STOP_DEADLINE_S"
            since = max(since, self._stop_began)
        if limit <= 0 or now - since < limit:
            return
        if held is self._target and now - self._fired_at < max(limit, 0.25):
            return  # already sent for this step; send again only if it is still held later
        self._why, self._fired_limit, self._setting = why, limit, setting
        self._target, self._fired_at = held, now
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pthread_kill(self.main_ident, WATCHDOG_SIGNAL)  # type: ignore[arg-type]

    def _interrupt(self, signum: int, frame: types.FrameType | None) -> None:
        """The signal handler (main thread, inside whatever code holds the loop)."""
        target = self._target
        if target is None or self.held is not target:
            return  # that step ended meanwhile: interrupt nothing else
        if not _may_interrupt(frame):
            return  # in the marks or a handler; the thread sends again if still held
        guard, since = target
        now = monotonic()
        # The job handles this in the same step (its log, on_stop): that gets a limit
        # of its own, and is interrupted again only if it gets stuck too.
        self.held = (guard, now)
        raise JobFrozen(guard, now - since, self._fired_limit, self._why, self._setting)

    def interrupt_now(self, frame: types.FrameType | None, why: str) -> None:
        """From a signal handler: raise :class:`JobFrozen` in the job code holding the
        loop right now, if any (a second SIGTERM does not wait for a limit)."""
        held = self.held
        if held is None or not _may_interrupt(frame):
            return
        guard, since = held
        now = monotonic()
        self.held = (guard, now)
        raise JobFrozen(guard, now - since, 0.0, why)

    # -- stop deadline ---------------------------------------------------------------------
    def begin_stop(
        self, deadline_s: float, on_deadline: Callable[[], tuple[str, int]] | None = None
    ) -> None:
        """A stop began: from now on job code may hold the loop for at most
        ``STOP_HOLD_SHARE`` of ``deadline_s``, and at the deadline ``on_deadline()``
        gives the line to print and the exit status, and the process ends. Safe from a
        signal handler; only the first call counts."""
        if self._stop_began is not None:
            return
        now = monotonic()
        self._on_deadline = on_deadline
        self._stop_hold = max(deadline_s * STOP_HOLD_SHARE, 0.01)
        self._exit_at = now + deadline_s
        self._stop_began = now
        self._wake.set()

    def hurry(self, seconds: float) -> None:
        """End the process at the latest ``seconds`` from now (a second signal)."""
        at = monotonic() + seconds
        if self._exit_at is None or at < self._exit_at:
            self._exit_at = at
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop_began is not None

    def _deadline_passed(self) -> None:
        """Still alive at the deadline: one line, then exit (from the watchdog thread)."""
        line, status = "ats: stop deadline passed; exiting", 1
        if self._on_deadline is not None:
            try:
                line, status = self._on_deadline()
            except Exception as exc:  # the exit must happen whatever the message costs
                line = f"{line} ({type(exc).__name__} while listing unsaved jobs)"
        with contextlib.suppress(OSError):
            os.write(sys.__stderr__.fileno() if sys.__stderr__ else 2, f"{line}\n".encode())
        os._exit(status)


@types.coroutine
def _stepped(
    watchdog: LoopWatchdog, coro: Coroutine[Any, Any, T], guard: JobGuard
) -> Generator[Any, Any, T]:
    """Drive ``coro`` step by step, marking each step as held by ``guard``.

    Every resumption of the job's coroutine runs between the two stores to
    ``watchdog.held``; a suspension (a real ``await``) ends the step. Exceptions thrown
    into the task (cancellation) go on into ``coro``.
    """
    send, throw = coro.send, coro.throw
    value: Any = None
    error: BaseException | None = None
    while True:
        outer = watchdog.held
        watchdog.held = (guard, monotonic())
        try:
            yielded = send(value) if error is None else throw(error)
        except StopIteration as done:
            return done.value
        finally:
            watchdog.held = outer
        error = None
        try:
            value = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            value, error = None, exc


class _Section:
    """Marks synchronous job code (see :meth:`LoopWatchdog.section`)."""

    __slots__ = ("guard", "outer", "watchdog")

    def __init__(self, watchdog: LoopWatchdog, guard: JobGuard) -> None:
        self.watchdog = watchdog
        self.guard = guard
        self.outer: Held | None = None

    def __enter__(self) -> None:
        self.outer = self.watchdog.held
        self.watchdog.held = (self.guard, monotonic())

    def __exit__(self, *exc: object) -> None:
        self.watchdog.held = self.outer


_MARKS = {_stepped.__code__, _Section.__enter__.__code__, _Section.__exit__.__code__}
"""Code that sets the marks: an interrupt there would hit the watchdog, not job code."""
_HANDLERS = {LoopWatchdog._interrupt.__code__, LoopWatchdog.interrupt_now.__code__}
"""Signal handlers: an interrupt anywhere below one would cut the handler short."""


def _may_interrupt(frame: types.FrameType | None) -> bool:
    if frame is None:
        return True
    if frame.f_code in _MARKS:
        return False
    while frame is not None:
        if frame.f_code in _HANDLERS:
            return False
        frame = frame.f_back
    return True


def mark_bookkeeping(function: Callable[..., Any]) -> None:
    """Never raise :class:`JobFrozen` inside ``function`` or what it calls (a signal
    handler that must run to its end)."""
    _HANDLERS.add(function.__code__)


_installed: LoopWatchdog | None = None


def install(limits: WatchdogLimits | None = None) -> LoopWatchdog | None:
    """The process's watchdog, started on first use with ``limits`` (later calls update
    them). None off the main thread, where no signal handler can be set."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return _installed
    if _installed is None:
        _installed = LoopWatchdog(limits).start()
    elif limits is not None:
        _installed.limits = limits
    return _installed


def installed() -> LoopWatchdog | None:
    """The process's watchdog, if one was installed."""
    return _installed


def guarding_here() -> LoopWatchdog | None:
    """The process's watchdog if job code running in this thread can be guarded: its
    signal interrupts the main thread only, so job code elsewhere (an event loop in a
    worker thread) must not be marked."""
    if _installed is None or threading.get_ident() != _installed.main_ident:
        return None
    return _installed


def uninstall() -> None:
    """Stop the process's watchdog (tests)."""
    global _installed
    if _installed is not None:
        _installed.close()
        _installed = None


@contextlib.contextmanager
def installed_for(limits: WatchdogLimits) -> Iterator[LoopWatchdog]:
    """A fresh process watchdog for the duration (tests)."""
    uninstall()
    watchdog = install(limits)
    assert watchdog is not None
    try:
        yield watchdog
    finally:
        uninstall()
