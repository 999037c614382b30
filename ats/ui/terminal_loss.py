"""The console outliving its terminal: what a hang-up does to Textual's Linux driver.

When the ssh connection drops or the tmux session is killed, the kernel hangs up the
console's tty and sends SIGHUP (and SIGCONT). Textual 8's ``LinuxDriver`` then misbehaves
in three ways, each of which would take the jobs (they share the console's event loop)
down with the terminal:

- its input thread selects on the tty, which is now always readable: ``read()`` returns
  0 bytes at once, forever (a busy loop), or raises EIO, which Textual turns into
  ``app.panic`` (the app exits);
- its writer thread writes to stderr, where ``write()`` now raises EIO: the thread dies,
  and once its queue of 30 writes is full the next screen update blocks the event loop
  for good;
- SIGCONT restarts application mode, and leaving application mode restores tty modes:
  both on a dead tty.

:func:`hangup_aware` subclasses the driver so that losing the terminal is an event rather
than a crash: :meth:`lose_terminal` (safe in a signal handler) stops the input thread and
every write, and the driver reports itself headless, so Textual stops painting while the
app, its timers and the jobs carry on. EIO on input is a hang-up too. :meth:`release_terminal`
(on the loop) then joins the input thread and points stdin, stdout and stderr at
``/dev/null``, so later prints (a traceback, the quit's last line) cannot fail: from there
on the process speaks through the application log. What the app does next (keep the
jobs running headless, or stop and save them) is its :class:`TerminalLossListener`'s choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
from collections.abc import Callable
from typing import IO, Any, Protocol, runtime_checkable

from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver

log = logging.getLogger(__name__)

INPUT_JOIN_S = 1.0
"""How long releasing the terminal waits for the input thread to notice."""


@runtime_checkable
class TerminalLossListener(Protocol):
    """The app told, on its event loop, that the terminal is gone (``reason``: a line)."""

    def terminal_lost(self, reason: str) -> None: ...


class _TolerantOutput:
    """The driver's output file, where a failed write (EIO: the tty hung up) is a lost
    terminal rather than a dead writer thread blocking the event loop."""

    def __init__(self, file: IO[str], on_error: Callable[[BaseException], None]) -> None:
        self._file = file
        self._on_error = on_error

    def write(self, text: str) -> None:
        try:
            self._file.write(text)
        except (OSError, ValueError) as exc:  # ValueError: the file was closed
            self._on_error(exc)

    def flush(self) -> None:
        try:
            self._file.flush()
        except (OSError, ValueError) as exc:
            self._on_error(exc)

    def fileno(self) -> int:
        return self._file.fileno()


@runtime_checkable
class TerminalLossAware(Protocol):
    """What :func:`hangup_aware` adds to a driver."""

    terminal_lost: bool

    def lose_terminal(self) -> None: ...

    def release_terminal(self) -> None: ...


@functools.cache
def hangup_aware(base: type[Driver]) -> type[Driver]:
    """``base`` (a Linux driver) surviving the loss of its terminal; other drivers (the
    headless one of tests, the web driver of ``ats web``) are returned as they are."""
    if not issubclass(base, LinuxDriver):
        return base

    class HangupAware(base):  # type: ignore[valid-type, misc]
        terminal_lost = False
        _file: Any  # sys.__stderr__ in LinuxDriver, wrapped here

        def __init__(self, app: Any, **options: Any) -> None:
            super().__init__(app, **options)
            self._loop: asyncio.AbstractEventLoop | None = None
            self._file = _TolerantOutput(self._file, self._output_failed)

        @property
        def is_headless(self) -> bool:
            """Once the terminal is lost Textual paints nothing (``App._display``)."""
            return self.terminal_lost or bool(super().is_headless)

        def lose_terminal(self) -> None:
            """Stop reading and writing at once. Runs in a signal handler: flags only."""
            self.terminal_lost = True
            self.exit_event.set()  # the input thread's loop ends at its next turn

        def release_terminal(self) -> None:
            """On the loop, after :meth:`lose_terminal`: wait for the input thread, then
            point fds 0, 1 and 2 at /dev/null (the tty is gone for good)."""
            self.lose_terminal()
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            thread = self._key_thread
            if thread is not None and thread.is_alive():
                thread.join(INPUT_JOIN_S)
            _detach_standard_streams()

        def _output_failed(self, exc: BaseException) -> None:
            if not self.terminal_lost:
                self._report_loss(f"terminal output failed ({exc})")

        def _report_loss(self, reason: str) -> None:
            """From a driver thread: mark the terminal lost and tell the app on its loop."""
            self.lose_terminal()
            app = self._app
            if self._loop is not None and isinstance(app, TerminalLossListener):
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    self._loop.call_soon_threadsafe(app.terminal_lost, reason)

        # -- Textual's driver methods ----------------------------------------------------
        def start_application_mode(self) -> None:
            self._loop = asyncio.get_running_loop()
            super().start_application_mode()

        def write(self, data: str) -> None:
            if not self.terminal_lost:
                super().write(data)

        def flush(self) -> None:
            if not self.terminal_lost:
                super().flush()

        def _run_input_thread(self) -> None:
            """Textual's wrapper panics (ends the app) on any error; EIO here is a
            hang-up, not a bug."""
            try:
                self.run_input_thread()
            except OSError as exc:
                if not self.terminal_lost:
                    self._report_loss(f"terminal input failed ({exc})")
            except BaseException:
                if not self.terminal_lost:
                    raise

        def _sigcont_application(self, *args: Any) -> None:
            if not self.terminal_lost:  # the kernel sends SIGCONT with the hang-up
                super()._sigcont_application(*args)

        def resume_application_mode(self) -> None:
            if not self.terminal_lost:
                super().resume_application_mode()

        def suspend_application_mode(self) -> None:
            if not self.terminal_lost:
                super().suspend_application_mode()

        def stop_application_mode(self) -> None:
            if not self.terminal_lost:  # nothing to restore on a hung-up tty
                super().stop_application_mode()

    HangupAware.__name__ = HangupAware.__qualname__ = f"HangupAware{base.__name__}"
    return HangupAware


def _detach_standard_streams() -> None:
    """Point fds 0, 1 and 2 at /dev/null: reads see EOF, writes succeed, nothing blocks.

    Not at the application log: what the dead writer left in stderr's buffer (escape
    sequences) would be flushed there at exit.
    """
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError as exc:
        log.warning("cannot open %s for the hung-up terminal's streams: %s", os.devnull, exc)
        return
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)
