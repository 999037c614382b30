"""Headless runner: the same jobs as the console, printed with rich for systemd/tmux.

Shows a progress bar per finite job, a status line per job status change, and log
lines; when it follows orders (``ats --no-ui``, ``ats run``) also every order and fill
(the job's order story) and, every ``status_interval_s``, a status line per job. With
``log_format="json"`` each of those is one JSON line instead, for log shippers.

SIGINT, SIGTERM and SIGHUP stop every job gracefully, within the stop deadline
(:mod:`ats.trading_job.stop_deadline`); job code is guarded by the loop watchdog
(:mod:`ats.trading_job.watchdog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ats.exceptions import JobError
from ats.headless.status_line import status_line, status_record
from ats.trading_job.events import (
    Filled,
    JobEvent,
    JobLog,
    JobProgress,
    JobReport,
    JobStatusChanged,
    Subscription,
)
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.stop_deadline import StopDeadline
from ats.utils.settings import Settings

KEEP_ALIVE_POLL_S = 0.2
_LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "bold red"}


class HeadlessRunner:
    """Runs a JobManager's jobs to completion (or until a stop signal) and prints events."""

    def __init__(
        self,
        manager: JobManager,
        console: Console | None = None,
        *,
        before_stop: Callable[[], None] | None = None,
        stop: StopDeadline | None = None,
        settings: Settings | None = None,
        owns_process: bool = False,
        keep_alive: Callable[[], bool] | None = None,
        follow_orders: bool = False,
    ) -> None:
        self.manager = manager
        self.keep_alive = keep_alive
        """While it says True (a console is attached), run on even with no job running."""
        self.control = LocalJobControl(manager)
        """The read model the status lines come from."""
        self.follow_orders = follow_orders
        """Print every order and fill (the job's log tells them) and periodic status."""
        self.console = console or Console()
        self.before_stop = before_stop
        """Called on a stop signal before jobs are stopped (persistence notes who ran)."""
        self.settings = settings or Settings()
        self.json = self.settings.log_format == "json"
        """JSON lines (``--log-format json``) instead of text and progress bars."""
        self.stop = stop or StopDeadline(
            manager, deadline_s=self.settings.stop_deadline_s, owns_process=owns_process
        )
        """Signals and the stop deadline; a caller that saves state passes its own, so
        that it keeps handling signals while it saves. ``owns_process``: the ``ats``
        command's own runner, which may end the process at the deadline."""
        self.stop_signal: str | None = None
        self._bars: dict[str, TaskID] = {}
        self._stopping: asyncio.Future[None] | None = None

    async def run(self, job_ids: Iterable[str], *, show_reports: bool = False) -> None:
        from ats.headless.report import render_report

        # Only what _show() prints: the jobs then skip building order and fill events.
        kinds: tuple[type[JobEvent], ...] = (JobProgress, JobStatusChanged, JobLog, JobReport)
        if self.follow_orders:  # jobs tell their order story only when someone follows
            kinds += (Filled,)
        subscription = self.manager.bus.subscribe(kinds=kinds)
        own_signals = not self.stop.installed
        if own_signals:
            self.stop.install_signals()
        previous_on_first, self.stop.on_first = self.stop.on_first, self._on_signal
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("equity {task.fields[equity]:>12,.2f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            disable=self.json,
        )
        interval = self.settings.status_interval_s if self.follow_orders else 0.0
        next_status = time.monotonic() + interval
        ids = list(job_ids)
        reports: dict[str, dict[str, object]] = {}
        try:
            with progress:
                if self.stop.began is None:
                    for job_id in ids:
                        self.manager.start(job_id)
                else:  # stopped before anything ran (e.g. during the restore)
                    self.stop_signal = "stop"
                waiter = asyncio.ensure_future(self._wait(ids))
                while not waiter.done():
                    await self._pump(subscription, progress, reports, timeout=0.1)
                    if interval and time.monotonic() >= next_status:
                        next_status = time.monotonic() + interval
                        await self._print_status(ids, progress)
                await self._pump(subscription, progress, reports, timeout=0)
                if interval:  # where each job ended, for whoever reads the log later
                    await self._print_status(ids, progress)
        finally:
            subscription.close()
            self.stop.on_first = previous_on_first
            if own_signals:
                self.stop.remove_signals()
        if show_reports:
            for job_id in ids:
                if job_id in reports:
                    self.console.print(render_report(reports[job_id]))

    async def _wait(self, ids: list[str]) -> None:
        """Until these jobs end, then while any job runs (one started through the
        control API too) or a console is attached (``keep_alive``): stopping the last
        job from ``ats attach`` does not end the process under the user's feet."""
        for job_id in ids:
            with contextlib.suppress(JobError):  # deleted through the control API
                await self.manager.wait(job_id)
        while True:
            tasks = [
                job.task
                for job in self.manager
                if job.status.is_active and job.task is not None and not job.task.done()
            ]
            attached = self.keep_alive is not None and self.keep_alive()
            if not tasks and not attached:
                return
            if self.stop.began is not None and not tasks:
                return  # a stop signal: attached consoles do not hold the process
            if tasks and not attached:
                await asyncio.wait(tasks)
            else:
                await asyncio.sleep(KEEP_ALIVE_POLL_S)

    async def _pump(
        self,
        subscription: Subscription,
        progress: Progress,
        reports: dict[str, dict[str, object]],
        timeout: float,
    ) -> None:
        try:
            event = await asyncio.wait_for(subscription.get(), timeout) if timeout else None
        except TimeoutError:
            return
        events = ([event] if event else []) + subscription.drain()
        for item in events:
            self._show(item, progress, reports)

    async def _print_status(self, ids: list[str], progress: Progress) -> None:
        """One status line (or JSON record) per job still known."""
        now = time.time()
        for job_id in ids:
            try:
                view = await self.control.job(job_id)
            except JobError:
                continue
            if self.json:
                self._emit("status", job_id, status_record(view, now))
            else:
                progress.console.print(status_line(view, now), markup=False, highlight=False)

    def _emit(self, kind: str, job_id: str, fields: dict[str, Any]) -> None:
        """One JSON line: ``{"time": ..., "type": kind, "job": name, "job_id": ..., ...}``."""
        record = {"time": round(time.time(), 3), "type": kind, "job": self._name(job_id)}
        record["job_id"] = job_id
        record.update(fields)
        self.console.file.write(json.dumps(record, allow_nan=False, default=str) + "\n")
        self.console.file.flush()

    def _show(
        self, event: JobEvent, progress: Progress, reports: dict[str, dict[str, object]]
    ) -> None:
        if self.json:
            self._show_json(event, reports)
            return
        name = self._name(event.job_id)
        if isinstance(event, JobProgress) and event.total:
            bar = self._bars.get(event.job_id)
            if bar is None:
                bar = self._bars[event.job_id] = progress.add_task(
                    name, total=event.total, equity=event.equity
                )
            progress.update(bar, completed=event.done, equity=event.equity)
        elif isinstance(event, JobStatusChanged):
            error = f" — {escape(event.error)}" if event.error else ""
            progress.console.print(f"[bold]{escape(name)}[/] {event.status}{error}")
        elif isinstance(event, JobLog):
            level, style = f"{event.level:<7}", _LEVEL_STYLES.get(event.level, "")
            if style:  # "[]INFO[/]" is a markup error: INFO lines (style "") go plain
                level = f"[{style}]{level}[/]"
            progress.console.print(f"[dim]{escape(name)}[/] {level} ", end="")
            progress.console.print(event.message, markup=False, highlight=False)
        elif isinstance(event, JobReport):
            reports[event.job_id] = event.report

    def _show_json(self, event: JobEvent, reports: dict[str, dict[str, object]]) -> None:
        if isinstance(event, JobStatusChanged):
            fields = {"status": str(event.status), "error": event.error}
            self._emit("status_change", event.job_id, fields)
        elif isinstance(event, JobLog):
            self._emit("log", event.job_id, {"level": event.level, "message": event.message})
        elif isinstance(event, JobReport):
            reports[event.job_id] = event.report

    def _name(self, job_id: str) -> str:
        try:
            return self.manager.get(job_id).config.name
        except JobError:  # removed meanwhile
            return job_id

    # -- signals -------------------------------------------------------------------------
    def _on_signal(self, name: str) -> None:
        """A first stop signal (on the loop): stop every job within the deadline."""
        self.stop_signal = name
        self.console.print(
            f"[yellow]{name}: stopping jobs gracefully (at most {self.stop.deadline_s:g}s; "
            "a second signal exits at once)…[/]"
        )
        if self.before_stop is not None:
            self.before_stop()
        self._stopping = asyncio.ensure_future(self.stop.stop_jobs())
