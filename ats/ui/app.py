"""The ATS console application and ``run_console()``, the ``ats`` command's default.

The app owns the JobManager it is given (or a fresh one), the theme registry and the UI
settings file. Its screens never touch the manager: they drive jobs through
:attr:`AtsApp.control`, a :class:`~ats.trading_job.control.JobControl` (in process here,
over the manager), by job id and read-model views. The manager itself is only used for
the process's own life cycle: the stop deadline on quit. Three optional hooks connect it
to the persistence layer:

- ``on_start`` (async) runs once the console is up, before the demo check: restore and
  resume saved jobs there (it must run on the console's own event loop); the one-line
  notices it returns are shown as warnings;
- ``before_stop`` (sync) runs first on quit, e.g. ``PersistentJobs.begin_shutdown`` so
  jobs stopped *by the quit* are saved as running and resume next time;
- ``on_quit`` (async) runs after the jobs stopped: final snapshots;
- ``unsaved`` and ``save_now`` (sync) name the jobs not saved yet and make a last
  snapshot attempt, for the stop deadline.

Quitting (``q``, ``ctrl+q``, SIGINT/SIGTERM) is graceful and bounded: ``before_stop``,
then running jobs are asked to stop and awaited, then ``on_quit``, then the app exits and
Textual restores the terminal, all within the stop deadline
(:mod:`ats.trading_job.stop_deadline`). Past it, or at a second signal, the process ends
with one line naming what was not saved, after giving the terminal back. A hang-up
(SIGHUP, the terminal gone) leaves the jobs running headless, or quits with
``on_hangup="stop"`` (:mod:`ats.ui.hangup`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import termios
import traceback
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import RenderableType
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.driver import Driver
from textual.message import Message

from ats.exceptions import ATSError
from ats.trading_job.control import JobControl
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.sweep_host import SweepHost
from ats.ui import textual_cycles
from ats.ui.commands import JobCommands
from ats.ui.hangup import Hangup, HangupPolicy
from ats.ui.screens.main import MainScreen
from ats.ui.settings import DEFAULT_SETTINGS_PATH, UISettings
from ats.ui.tcss import tcss_path
from ats.ui.terminal_loss import hangup_aware
from ats.ui.themes import DEFAULT_THEME, FALLBACK_THEME, default_theme_dirs, load_themes
from ats.utils import native_memory, runtime_tuning

if TYPE_CHECKING:
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.stop_deadline import NamesFunction, StopDeadline

log = logging.getLogger(__name__)

QuitHook = Callable[[], Awaitable[object]]
StartHook = Callable[[], Awaitable[Iterable[str] | None]]
"""Restores saved jobs; returns one-line notices to show (e.g. a journal set aside)."""
StopHook = Callable[[], object]
DEMO_REPLAY_SPEED = 20.0
MALLOC_TRIM_EVERY = 60.0
"""Seconds between handing the C heap's free pages back to the OS (ats.utils.native_memory;
bench/ui_memory.py)."""
SCREENSHOT_DIR = "screenshots"
"""Folder of the state directory that screenshots are saved in."""
FOREGROUND_HOLD = 0.08
"""Seconds running backtests step aside after each key press."""
DEFAULT_DEADLINE_S = 10.0
"""As ats.trading_job.stop_deadline's (not imported: an attached console loads no engine)."""


def demo_replay_config() -> JobConfig:
    """The bundled candles replayed through the paper exchange at 20x real time."""
    from ats.demo import DEMO_DATA

    return parse_job_config(
        {
            "name": "demo-replay",
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": DEMO_REPLAY_SPEED},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        },
        source="demo",
    )


class AtsApp(App[int]):
    """The console. Tests inject a manager, ``demo=False`` and a temporary settings path."""

    TITLE = "ATS"
    CSS_PATH = tcss_path(__file__)
    COMMANDS = App.COMMANDS | {JobCommands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+d", "detach", "Detach", show=False, priority=True),
    ]
    MODES = {"main": MainScreen}
    DEFAULT_MODE = "main"

    def __init__(
        self,
        manager: JobManager | None = None,
        *,
        demo: bool = True,
        settings_path: Path | str | None = DEFAULT_SETTINGS_PATH,
        theme_dirs: Iterable[Path] | None = None,
        on_quit: QuitHook | None = None,
        on_start: StartHook | None = None,
        before_stop: StopHook | None = None,
        unsaved: NamesFunction | None = None,
        save_now: NamesFunction | None = None,
        stop_deadline_s: float = DEFAULT_DEADLINE_S,
        owns_process: bool = False,
        handle_signals: bool | None = None,
        start_demo: bool = True,
        log_clock: Callable[[float], str] | None = None,
        tune_runtime: bool | None = None,
        log_file: Path | None = None,
        control: JobControl | None = None,
        on_hangup: HangupPolicy | str = HangupPolicy.KEEP,
        stop_process: QuitHook | None = None,
        sweeps: SweepHost | None = None,
    ) -> None:
        """``settings_path=None`` keeps the theme choice in memory only; ``owns_process``
        (the ``ats`` command) lets a stop past its deadline end the process.

        ``control`` attaches the console to jobs run elsewhere (``ats attach``, through
        the control API): no manager, no engine loaded, and quitting only detaches.

        ``handle_signals`` and ``tune_runtime`` default to "when not headless", so tests
        never touch process-wide state; ``log_clock`` formats log times (snapshots pin it).
        ``tune_runtime`` finishes what :func:`ats.utils.runtime_tuning.tune_runtime` began
        before any thread existed (ats.ui.launch): once mounted, and before ``on_start``
        restores any job, what start-up built is frozen out of the collector's sight; the C
        heap is trimmed every ``MALLOC_TRIM_EVERY`` seconds.
        ``on_hangup``: what SIGHUP (the terminal gone) does, see :mod:`ats.ui.hangup`.
        ``stop_process`` (attached): what ``q`` does, as in the console that runs the
        jobs: that process stops them, saves and exits (ctrl+d only detaches).
        """
        super().__init__()
        textual_cycles.install()
        self.attached = control is not None
        """The jobs run in another process: quitting detaches and leaves them running."""
        self.lost: str | None = None
        """Attached: why the console had to close (the process went away), one line."""
        self.manager: JobManager | None = None
        if control is None:
            from ats.trading_job.job_manager import JobManager
            from ats.trading_job.local_control import LocalJobControl

            self.manager = manager if manager is not None else JobManager()
            control = LocalJobControl(self.manager, sweeps)
        self.control: JobControl = control
        """What the screens drive jobs through (by id, reading views)."""
        self.closing = False
        """:meth:`exit` was called: the screens stop delivering updates."""
        self.demo = demo
        self.start_demo = start_demo
        self.settings_path = Path(settings_path) if settings_path is not None else None
        self.settings = UISettings.load(self.settings_path) if self.settings_path else UISettings()
        self.on_quit = on_quit
        self.on_start = on_start
        self.before_stop = before_stop
        self.log_clock = log_clock
        self._handle_signals = handle_signals
        self._tune_runtime = tune_runtime
        self.log_file = log_file
        """The application log (ats.utils.app_log), shown on the help screen."""
        self._stop_process = stop_process
        self.process_stopping = False
        """Attached: ``q`` asked the jobs' process to stop, save and exit."""
        self.hangup = Hangup(self, HangupPolicy(on_hangup))
        """What SIGHUP (the terminal gone) does to the jobs run in this process."""
        self.stop: StopDeadline | None = None
        """Quitting's deadline; with ``handle_signals`` also SIGINT, SIGTERM and SIGHUP
        (None when attached: the jobs are not this process's to stop)."""
        if self.manager is not None:
            from ats.trading_job.stop_deadline import StopDeadline

            self.stop = StopDeadline(
                self.manager,
                deadline_s=stop_deadline_s,
                unsaved=unsaved,
                save_now=save_now,
                before_exit=self._give_terminal_back,
                on_first=self.quit_on_signal,
                owns_process=owns_process,
                on_hangup=self.hangup.on_signal,
            )
        self._theme_dirs = list(theme_dirs) if theme_dirs is not None else default_theme_dirs()
        self.ats_themes: list[str] = []
        self.theme_errors: list[str] = []
        self.quitting = False
        self.started = False
        """``on_start`` has finished (the demo check waits for it)."""
        self._demo_done = False
        self._register_themes()

    # -- themes ----------------------------------------------------------------------------
    def _register_themes(self) -> None:
        loaded = load_themes(self._theme_dirs)
        for theme in loaded.themes:
            self.register_theme(theme)
        self.ats_themes = loaded.names
        self.theme_errors = loaded.errors
        wanted = self.settings.theme
        if wanted and wanted in self.available_themes:
            self.theme = wanted
        elif DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME
        else:
            self.theme = FALLBACK_THEME

    def cycle_theme(self) -> str:
        """Next ATS theme (the toml ones), wrapping; returns its name."""
        names = self.ats_themes or [FALLBACK_THEME]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)
        return self.theme

    def watch_theme(self, theme: str) -> None:
        """Persist a choice made while running (not the startup default)."""
        if self.is_running and self.settings.theme != theme:
            self.settings.theme = theme
            self._save_settings()

    def _save_settings(self) -> None:
        if self.settings_path is None:
            return
        try:
            self.settings.save(self.settings_path)
        except OSError as exc:
            log.warning("cannot save UI settings to %s: %s", self.settings_path, exc)

    async def on_mount(self) -> None:
        from ats.ui.screens.help import HelpScreen

        # Installed once and kept: building a screen is the slowest thing a key can do.
        self.install_screen(HelpScreen(), name="help")
        for error in self.theme_errors:
            self.notify(error, title="Theme file skipped", severity="warning")
        if self._handle_signals if self._handle_signals is not None else not self.is_headless:
            self._install_signal_handlers()
        tune = self._tune_runtime if self._tune_runtime is not None else not self.is_headless
        if tune:
            runtime_tuning.freeze_startup()  # the widgets, before any job is restored
        if self.on_start is not None:
            try:
                for notice in await self.on_start() or ():
                    self.notify(notice, title="Saved state", severity="warning", timeout=30)
            except Exception as exc:  # the console stays usable without saved jobs
                log.exception("start-up hook failed")
                self.notify(f"{type(exc).__name__}: {exc}", title="Start-up", severity="error")
        self.started = True
        await self.ensure_demo_jobs()
        if tune:
            self.set_interval(MALLOC_TRIM_EVERY, self._trim_heap)

    # -- screenshots -----------------------------------------------------------------------
    @property
    def screenshot_dir(self) -> Path:
        """Screenshots go under the state directory (next to the UI settings), which
        exists wherever ATS runs; ``~/Downloads`` often does not on a server."""
        settings = self.settings_path or DEFAULT_SETTINGS_PATH
        return settings.parent.resolve() / SCREENSHOT_DIR

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Textual's screenshot (palette "Screenshot"), saved under :attr:`screenshot_dir`;
        Textual's toast names the file."""
        if path is None:
            try:
                self.screenshot_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                self.notify(f"cannot create {self.screenshot_dir}: {exc}", severity="error")
                return None
            path = str(self.screenshot_dir)
        return super().deliver_screenshot(filename, path, time_format)

    def _trim_heap(self) -> None:
        self.run_worker(native_memory.trim, thread=True, group="malloc-trim", exit_on_error=False)

    async def ensure_demo_jobs(self) -> None:
        """First start with no jobs: a finished-in-a-blink backtest and a paced replay.

        Called by the main screen when it mounts and by ``on_mount`` after ``on_start``
        (which may restore saved jobs): whichever comes last decides, once.
        """
        if not self.demo or self._demo_done or not self.started:
            return
        if await self.control.job_ids():
            return
        self._demo_done = True
        from ats.demo import demo_backtest_config

        try:
            backtest: str | None = await self.control.create(demo_backtest_config())
        except ATSError as exc:
            self.notify(f"demo backtest unavailable: {exc}", severity="warning")
            backtest = None
        try:
            await self.control.create(demo_replay_config())
        except ATSError as exc:  # the paper exchange may not be installed yet
            log.info("demo replay job unavailable: %s", exc)
        if backtest is not None and self.start_demo:
            with contextlib.suppress(ATSError):
                await self.control.start(backtest)

    # -- responsiveness --------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """A key is about to be handled: ask CPU-bound jobs to step aside briefly.

        Jobs share this event loop; a backtest yields only between work slices, and a
        key needs several loop turns (app, widget, screen refresh) to reach the screen.
        ``JobManager.hold_foreground`` parks running backtests at their next checkpoint
        for a moment, so those turns are not each queued behind every backtest's slice.
        """
        if isinstance(event, events.Key):
            self.control.hold_foreground(FOREGROUND_HOLD)
        await super().on_event(event)

    # -- quitting --------------------------------------------------------------------------
    def lose_connection(self, reason: str) -> None:
        """Attached, the jobs' process went away: close with ``reason`` (exit status 1)."""
        if self.lost is None:
            self.lost = reason
            self.exit(1, return_code=1)

    def _handle_exception(self, error: Exception) -> None:
        """Attached, an ATSError nobody handled means the control API stopped answering
        (a refused command is handled where it is sent): one line, not a traceback."""
        if self.attached and isinstance(error, ATSError):
            log.warning("attached console closing: %s", error)
            self.lose_connection(str(error))
            return
        super()._handle_exception(error)

    async def action_detach(self) -> None:
        """Close an attached console; the jobs keep running in their process."""
        if not self.attached:
            self.notify(
                "This console runs the jobs itself: q stops and saves them "
                "(detach is for 'ats attach')",
                severity="warning",
            )
            return
        self.quitting = True
        self.exit(0)

    async def _stop_attached_process(self) -> None:
        """``q`` when attached: the process stops its jobs, saves and exits; this console
        closes once it has said yes (``ats attach`` then says so), before the process
        closes its API under it."""
        if self._stop_process is None:
            await self.action_detach()
            return
        if self.process_stopping or self.quitting:
            return
        self.process_stopping = True
        self.notify("Stopping the ATS process: its jobs stop and are saved… (ctrl+d detaches)")
        try:
            await self._stop_process()
        except ATSError as exc:
            self.process_stopping = False
            self.notify(str(exc), title="Not stopped", severity="error")
            return
        self.quitting = True
        self.exit(0)

    async def action_quit(self) -> None:
        """Graceful quit within the stop deadline: stop jobs (cancelling those that do
        not stop in time), run the save hook, then exit (also ctrl+q and signals).
        Attached, the jobs' process does that (``stop_process``; without one, detach)."""
        if self.stop is None:
            await self._stop_attached_process()
            return
        if self.quitting:
            return
        self.quitting = True
        self.stop.request()
        code = 0
        if self.before_stop is not None:
            try:
                self.before_stop()
            except Exception:
                log.exception("before-stop hook failed")
        running = [view for view in await self.control.jobs() if view.status.is_active]
        if running:
            self.notify(
                f"Stopping {len(running)} job(s) (at most {self.stop.deadline_s:g}s)…",
                timeout=self.stop.deadline_s,
            )
        try:
            await self.stop.stop_jobs()
        except Exception:
            log.exception("stopping jobs failed")
        if self.on_quit is not None:
            try:
                await self.on_quit()
            except Exception:
                log.exception("saving state on quit failed")
                code = 1
        self._save_settings()
        self._remove_signal_handlers()
        self.exit(code, return_code=code)

    def exit(
        self,
        result: int | None = None,
        return_code: int = 0,
        message: RenderableType | None = None,
    ) -> None:
        self.closing = True
        super().exit(result, return_code, message)

    def get_driver_class(self) -> type[Driver]:
        return _stop_aware(hangup_aware(super().get_driver_class()))

    def on_unmount(self) -> None:
        self._remove_signal_handlers()  # however the app ended (tests end it without q)

    def _install_signal_handlers(self) -> None:
        if self.stop is not None:
            self.hangup.install()
            self.stop.install_signals()

    def _remove_signal_handlers(self) -> None:
        if self.stop is not None:
            self.stop.remove_signals()

    def quit_on_signal(self, name: str) -> None:
        log.warning("%s: quitting gracefully", name)
        self.call_later(self.action_quit)

    def terminal_lost(self, reason: str) -> None:
        """The driver lost the terminal (EIO): as a hang-up (ats.ui.terminal_loss), run
        from the app's message queue (in its context, like any event)."""
        self.call_later(self.hangup.terminal_lost, reason)

    def _give_terminal_back(self) -> None:
        """Before the process ends without Textual's own clean-up (a second signal, or
        the stop deadline, perhaps from the watchdog thread while the loop is stuck):
        leave the alternate screen and restore the terminal's modes."""
        driver = self._driver
        attrs = getattr(driver, "attrs_before", None)
        output = getattr(driver, "_file", None)
        if driver is None or output is None or self.is_headless:
            return
        with contextlib.suppress(OSError, ValueError):
            os.write(output.fileno(), _TERMINAL_RESET.encode())
        if attrs is not None:
            with contextlib.suppress(termios.error, OSError, ValueError):
                termios.tcsetattr(getattr(driver, "fileno", 0), termios.TCSANOW, attrs)


@functools.cache
def _stop_aware(base: type[Driver]) -> type[Driver]:
    """``base`` seeing ``ctrl+q`` in its input thread: the stop deadline starts at once,
    even while job code holds the loop the quit itself has to wait for (``q`` is only
    seen once the loop is free: it may be a letter typed in a form)."""

    class StopAware(base):  # type: ignore[valid-type, misc]
        def process_message(self, message: Message) -> None:
            if isinstance(message, events.Key) and message.key == "ctrl+q":
                stop = getattr(self._app, "stop", None)
                if stop is not None:
                    stop.request()
            super().process_message(message)

    StopAware.__name__ = StopAware.__qualname__ = f"StopAware{base.__name__}"
    return StopAware


_TERMINAL_RESET = (
    "\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"  # mouse reporting off
    "\x1b[?2004l\x1b[?7h\x1b[?2048l\x1b[<u"  # bracketed paste off, wrap on, resize, keys
    "\x1b[?1049l\x1b[?25h\x1b[?1004l"  # main screen, cursor shown, focus events off
)
"""What Textual's driver writes when it leaves application mode."""


def run_console(
    manager: JobManager | None = None,
    *,
    on_quit: QuitHook | None = None,
    on_start: StartHook | None = None,
    before_stop: StopHook | None = None,
    unsaved: NamesFunction | None = None,
    save_now: NamesFunction | None = None,
    stop_deadline_s: float = DEFAULT_DEADLINE_S,
    settings_path: Path | str | None = DEFAULT_SETTINGS_PATH,
    log_file: Path | None = None,
    on_hangup: HangupPolicy | str = HangupPolicy.KEEP,
    sweeps: SweepHost | None = None,
) -> int:
    """Run the console until quit. 0 on a clean quit, non-zero if anything crashed.

    With persistence (what ``ats`` runs, see :func:`ats.ui.launch.launch_console`):
    ``run_console(manager, **console_hooks(persistence))``.
    Textual restores the terminal itself on any exception; this also makes sure the
    exit status tells scripts (and systemd/tmux wrappers) that it was not a clean exit.
    """
    app = AtsApp(
        manager,
        on_quit=on_quit,
        on_start=on_start,
        before_stop=before_stop,
        unsaved=unsaved,
        save_now=save_now,
        stop_deadline_s=stop_deadline_s,
        owns_process=True,
        settings_path=settings_path,
        log_file=log_file,
        on_hangup=on_hangup,
        sweeps=sweeps,
    )
    try:
        result = app.run()
    except Exception:
        log.exception("the console crashed")
        traceback.print_exc(file=sys.stderr)
        return 1
    if app.return_code:
        return app.return_code
    return int(result or 0)
