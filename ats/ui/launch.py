"""``ats`` with no arguments: the console, with every job saved and resumed.

Tunes the process for the console first (:func:`~ats.utils.runtime_tuning.tune_runtime`),
then wires :class:`~ats.persistence.persistent_jobs.PersistentJobs` into the console's hooks:
saved jobs are restored on the console's own event loop (``on_start``), jobs stopped by a
quit are remembered as running (``before_stop``) and snapshotted once stopped
(``on_quit``). Two things are decided here rather than in the app:

- another ATS process holding ``saved_states/``, or a directory where nothing can be
  written (a full disk, read-only), is reported on one line before Textual takes over
  the terminal (exit status 2), not as a notification in a console that could then save
  nothing; jobs that could not be saved on the way out get one line after it;
- a saved live job is never restarted on its own: it waits, with a log line, for the
  user to confirm live trading with ``s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ats.alerts.service import AlertService, alert_service
from ats.exceptions import ATSError, ConfigError
from ats.persistence.directory_lock import holder_pid, state_dir_unwritable
from ats.persistence.persistent_jobs import PersistentJobs
from ats.trading_job.job_manager import JobManager
from ats.trading_job.live_mode import is_live
from ats.trading_job.watchdog import WatchdogLimits, install
from ats.ui.live_safety import HELD_MESSAGE
from ats.ui.settings import UI_SETTINGS_NAME
from ats.utils.config_files import load_json_file
from ats.utils.plugins import PluginLoader
from ats.utils.runtime_tuning import tune_runtime
from ats.utils.settings import Settings

if TYPE_CHECKING:
    from ats.apis.listen import ApiOptions, Listening
    from ats.research.sweep_jobs import SweepJobs

log = logging.getLogger(__name__)

EXIT_LOCKED = 2
EXIT_UNSAVED = 1
OLD_UI_SETTINGS_NAME = "ui.json"


def launch_console(
    settings: Settings | None = None,
    api: ApiOptions | None = None,
    on_hangup: str | None = None,
) -> int:
    """Run the persistent console; its exit status (2 if the state directory is busy or
    the control API cannot listen as ``api`` asks).

    ``on_hangup`` (``keep`` or ``stop``, default ``ATS_ON_HANGUP``): see ats.ui.hangup.
    After a clean quit it says on one line what was saved where.
    """
    from ats.apis.listen import bind_for
    from ats.ui.app import run_console

    settings = settings or Settings()
    directory = settings.saved_states_dir
    busy = state_dir_in_use(directory) or state_dir_unwritable(directory)
    if busy is not None:
        print(f"ats: error: {busy}", file=sys.stderr)
        return EXIT_LOCKED
    listening = bind_for(settings, api)  # ConfigError: one line, before the console
    tune_runtime()  # before any thread (the watchdog's, the journal's) or job exists
    install(WatchdogLimits.from_settings(settings))  # jobs share the console's loop
    manager = JobManager(loader=PluginLoader(settings.custom_modules_dir))
    alerts = alert_service(manager, settings)  # a bad ATS_ALERT_* setting: one line, now
    persistence = PersistentJobs(manager, settings)
    sweeps = console_sweeps(manager, directory)
    code = run_console(
        manager,
        settings_path=ui_settings_path(directory),
        stop_deadline_s=settings.stop_deadline_s,
        log_file=settings.log_file,
        on_hangup=on_hangup or settings.on_hangup,
        sweeps=sweeps,
        **console_hooks(persistence, alerts, listening, sweeps=sweeps),
    )
    unsaved = persistence.unsaved_message()  # the disk filled up while it ran
    if unsaved is not None:
        print(f"ats: error: {unsaved}", file=sys.stderr)
        return code or EXIT_UNSAVED
    if code == 0:
        saved = len(list(manager))
        line = f"ats: stopped; {saved} job(s) saved in {directory} (running ones resume next start)"
        log.info("%s", line)  # the terminal may be gone (a hang-up): the log has it too
        print(line, file=sys.stderr)
    return code


class ConsoleHooks(TypedDict):
    """The console's persistence hooks (keyword arguments of AtsApp and run_console)."""

    on_start: Callable[[], Awaitable[Iterable[str] | None]]
    before_stop: Callable[[], object]
    on_quit: Callable[[], Awaitable[object]]
    unsaved: Callable[[], list[str]]
    save_now: Callable[[], list[str]]


def console_sweeps(manager: JobManager, directory: Path) -> SweepJobs:
    """The console's sweeps, journaled with ``ats optimize``'s trials in ``directory``."""
    from ats.research.journal import JOURNAL_NAME
    from ats.research.sweep_jobs import SweepJobs

    return SweepJobs(manager.bus, manager.loader, directory / JOURNAL_NAME)


def console_hooks(
    persistence: PersistentJobs,
    alerts: AlertService | None = None,
    listening: Listening | None = None,
    *,
    sweeps: SweepJobs | None = None,
) -> ConsoleHooks:
    """Restore on the console's loop; remember running jobs, stop them, snapshot, close.

    The console's quit stops the jobs itself (``manager.stop_all()``) between
    ``before_stop`` and ``on_quit``, so ``on_quit`` finds them stopped and only saves.
    ``alerts`` (if any) listen from before the restore and send their last batch after
    the save. The control API (on ``listening``'s sockets) serves from after the restore
    until the quit begins saving. ``sweeps`` (if any) are listed again, the running ones
    resumed from their journal, and on quit stopped with the running ones saved as running.
    """
    servers: list[Any] = []

    async def on_start() -> list[str]:
        if alerts is not None:
            alerts.start()
        await open_and_resume(persistence)
        notices = list(persistence.notices)  # a damaged journal set aside, jobs rolled back
        if sweeps is not None:
            try:
                sweeps.open()
            except ATSError as exc:  # a damaged trial journal: jobs still run, sweeps not
                notices.append(f"sweeps not restored: {exc}")
        if listening is not None:
            from ats.apis.server import serve, terminate_self
            from ats.trading_job.local_control import LocalJobControl

            control = LocalJobControl(persistence.manager, sweeps)
            servers.append(await serve(control, listening, stop_process=terminate_self))
            if listening.socket_error is not None:
                notices.append(listening.socket_error)
        return notices

    async def on_quit() -> None:
        try:
            for server in servers:
                await server.close()
            if listening is not None:
                listening.close()  # also when the restore failed before serving
            if sweeps is not None:
                await sweeps.shutdown()
            await persistence.on_quit()
        finally:
            if alerts is not None:
                await alerts.close()

    return ConsoleHooks(
        on_start=on_start,
        before_stop=persistence.begin_shutdown,
        on_quit=on_quit,
        unsaved=persistence.unsaved_jobs,
        save_now=persistence.save_now,
    )


def state_dir_in_use(directory: Path) -> str | None:
    """Why this process cannot use ``directory`` (another ATS holds it), else None."""
    pid = holder_pid(directory)
    if pid is None:
        return None
    who = f" (pid {pid})" if pid > 0 else ""
    return (
        f"{directory} is in use by another ATS process{who}; stop it first or set "
        "ATS_SAVED_STATES_DIR to another directory"
    )


async def open_and_resume(persistence: PersistentJobs) -> list[str]:
    """Restore every saved job and restart those saved running or paused, except live
    ones: real orders wait for an explicit yes. Returns the ids restarted."""
    await persistence.open()
    manager = persistence.manager
    held = [job_id for job_id in persistence.resumable if is_live(manager.get(job_id))]
    others = [job_id for job_id in persistence.resumable if job_id not in held]
    started = persistence.resume(others)
    saved = persistence.resumable
    for job_id in held:
        # Still listed as resumable: quitting now saves it with the same status again.
        manager.get(job_id).log("WARNING", HELD_MESSAGE.format(status=saved[job_id]))
    return started


def ui_settings_path(saved_states_dir: Path) -> Path:
    """The console's settings file, moved out of the way of the job snapshots."""
    path = saved_states_dir / UI_SETTINGS_NAME
    _move_old_ui_settings(saved_states_dir / OLD_UI_SETTINGS_NAME, path)
    return path


def _move_old_ui_settings(old: Path, new: Path) -> None:
    """An older console kept ``ui.json`` beside the snapshots, where the restore would
    list it as a broken job: move it (only if it really is the settings file)."""
    if not old.exists():
        return
    try:
        data = load_json_file(old)
    except ConfigError:
        return
    if not isinstance(data, dict) or not set(data) <= {"theme"}:
        return
    with contextlib.suppress(OSError):
        if new.exists():
            old.unlink()
        else:
            os.replace(old, new)
