"""One headless session over saved jobs: what ``ats --no-ui`` and ``ats run --no-ui`` share.

Both build a JobManager with alerts and persistence, handle stop signals from before the
restore until the last save (a first signal starts the stop deadline, a second one saves
what it can and exits at once), run their jobs with a :class:`HeadlessRunner`, close
persistence before printing, and fail when a job's latest state could not be saved. What
differs, which jobs to take up and what to print at the end, is the caller's ``body``.
Both serve their jobs on the control API from the restore to the save (``ats attach``,
``ats jobs``; the socket always, TCP as the ``--api-*`` flags ask), and run on while a
console is attached.

Only the standard library at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ats.apis.listen import ApiOptions, Listening
    from ats.apis.server import ControlServer
    from ats.headless.runner import HeadlessRunner
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.stop_deadline import StopDeadline
    from ats.utils.plugins import PluginLoader
    from ats.utils.settings import Settings


@dataclass
class HeadlessSession:
    """The saved jobs' manager, their persistence and the stop deadline of one run."""

    persistence: PersistentJobs
    stop: StopDeadline
    listening: Listening | None = None
    """Sockets bound for the control API, served while the jobs are restored."""
    server: ControlServer | None = None

    @property
    def manager(self) -> JobManager:
        return self.persistence.manager

    @asynccontextmanager
    async def restored(self, only: Iterable[str] | None = None) -> AsyncIterator[None]:
        """Persistence open (the saved jobs, or those of ``only``, restored) inside the
        block; closed at its end whatever happens: state first, printing after."""
        await self.persistence.open(only=only)
        try:
            if self.listening is not None:
                from ats.apis.server import serve, terminate_self
                from ats.trading_job.local_control import LocalJobControl

                # q in an attached console: SIGTERM, which this session handles (stop, save).
                self.server = await serve(
                    LocalJobControl(self.manager), self.listening, stop_process=terminate_self
                )
            yield
        finally:
            if self.server is not None:
                await self.server.close()
            await self.persistence.close()

    def print_notices(self) -> None:
        """A damaged journal set aside, a job rolled back: one warning line each."""
        for notice in self.persistence.notices:
            print(f"ats: warning: {notice}", file=sys.stderr)

    async def run(self, console: Console, job_ids: list[str]) -> HeadlessRunner:
        """Run ``job_ids`` until they end or a stop signal arrives (saved to resume)."""
        from ats.headless.runner import HeadlessRunner

        runner = HeadlessRunner(
            self.manager,
            console,
            before_stop=self.persistence.begin_shutdown,
            stop=self.stop,
            settings=self.persistence.settings,
            keep_alive=self._attached,
            follow_orders=True,  # every fill and periodic status lines, for nohup/systemd
        )
        await runner.run(job_ids, show_reports=False)
        return runner

    def _attached(self) -> bool:
        return self.server is not None and self.server.attached > 0

    def unsaved(self) -> bool:
        """Whether a job's latest state could not be saved (said on stderr)."""
        message = self.persistence.unsaved_message()
        if message is not None:
            print(f"ats: error: {message}", file=sys.stderr)
        return message is not None


def bind_api(settings: Settings, api: ApiOptions | None) -> Listening | None:
    """The control API's sockets, bound before anything runs (a bad ``--api-*`` flag or a
    busy port: ConfigError, one line). A state directory that is busy or cannot be
    written gets none: the restore says why in its own one line. A unix socket that
    cannot be bound is a warning line; the jobs run without it."""
    from ats.apis.listen import bind_for
    from ats.persistence.directory_lock import holder_pid, state_dir_unwritable

    directory = settings.saved_states_dir
    if holder_pid(directory) is not None or state_dir_unwritable(directory) is not None:
        return None
    listening = bind_for(settings, api)
    if listening.socket_error is not None:
        print(f"ats: warning: {listening.socket_error}", file=sys.stderr)
    return listening


async def run_session(
    settings: Settings,
    loader: PluginLoader,
    body: Callable[[HeadlessSession], Awaitable[int]],
    api: ApiOptions | None = None,
) -> int:
    """Bind the control API (as ``api`` asks; the socket at least), build the manager,
    alerts (a bad alert setting fails here, before any lock) and persistence, and run
    ``body`` with stop signals handled and alerts subscribed before anything is
    restored; the control API is served while the jobs are restored."""
    from ats.alerts.service import alert_service, alerts_running, warn_on_stderr
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.stop_deadline import StopDeadline

    listening = bind_api(settings, api)
    try:
        manager = JobManager(loader=loader)
        alerts = alert_service(manager, settings, report=warn_on_stderr)
        persistence = PersistentJobs(manager, settings)
        stop = StopDeadline(
            manager,
            deadline_s=settings.stop_deadline_s,
            unsaved=persistence.unsaved_jobs,
            save_now=persistence.save_now,
            owns_process=True,
        )
        stop.install_signals()
        try:
            async with alerts_running(alerts):  # subscribed before the restore
                return await body(HeadlessSession(persistence, stop, listening))
        finally:
            stop.remove_signals()
    finally:
        if listening is not None:
            listening.close()
