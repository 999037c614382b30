"""Headless runner: the same jobs as the console, printed with rich for systemd/tmux.

Shows a progress bar per finite job, a status line per job status change, and log
lines. SIGINT, SIGTERM and SIGHUP stop every job gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterable

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

from ats.trading_job.events import (
    JobEvent,
    JobLog,
    JobProgress,
    JobReport,
    JobStatusChanged,
    Subscription,
)
from ats.trading_job.job_manager import JobManager

_LEVEL_STYLES = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "bold red"}
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class HeadlessRunner:
    """Runs a JobManager's jobs to completion (or until a stop signal) and prints events."""

    def __init__(
        self,
        manager: JobManager,
        console: Console | None = None,
        *,
        before_stop: Callable[[], None] | None = None,
    ) -> None:
        self.manager = manager
        self.console = console or Console()
        self.before_stop = before_stop
        """Called on a stop signal before jobs are stopped (persistence notes who ran)."""
        self.stop_signal: str | None = None
        self._bars: dict[str, TaskID] = {}

    async def run(self, job_ids: Iterable[str], *, show_reports: bool = False) -> None:
        from ats.headless.report import render_report

        subscription = self.manager.bus.subscribe()
        self._install_signal_handlers()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("equity {task.fields[equity]:>12,.2f}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        ids = list(job_ids)
        reports: dict[str, dict[str, object]] = {}
        with progress:
            for job_id in ids:
                self.manager.start(job_id)
            waiter = asyncio.ensure_future(self._wait(ids))
            while not waiter.done():
                await self._pump(subscription, progress, reports, timeout=0.1)
            await self._pump(subscription, progress, reports, timeout=0)
        subscription.close()
        self._remove_signal_handlers()
        if show_reports:
            for job_id in ids:
                if job_id in reports:
                    self.console.print(render_report(reports[job_id]))

    async def _wait(self, ids: list[str]) -> None:
        for job_id in ids:
            await self.manager.wait(job_id)

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

    def _show(
        self, event: JobEvent, progress: Progress, reports: dict[str, dict[str, object]]
    ) -> None:
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

    def _name(self, job_id: str) -> str:
        try:
            return self.manager.get(job_id).config.name
        except Exception:
            return job_id

    # -- signals -------------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            # Not available off the main thread (tests) or on some platforms.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._on_signal, sig)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in _STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.stop_signal = sig.name
        self.console.print(f"[yellow]{sig.name}: stopping jobs gracefully…[/]")
        if self.before_stop is not None:
            self.before_stop()
        for job in self.manager:
            if job.status.is_active:
                job.stop()
