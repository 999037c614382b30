"""The console's job commands: the keys that act on jobs through the JobControl.

Start/stop (a live start asks first), pause, reload, replay speed, new job or sweep, edit,
delete (asks first) and the kill switch (asks first). They act on the job under the
table's cursor and show their errors as notifications, never raised into Textual.
:class:`~ats.ui.screens.main.MainScreen` inherits them: Textual dispatches ``action_*``
by name on the screen, so the keys, footer and palette reach them unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Final, Literal, TypeVar

from textual import work
from textual.screen import Screen

from ats.exceptions import ATSError, JobError
from ats.ui import job_view
from ats.ui.live_safety import kill_switch_question, kill_switch_result, live_start_question
from ats.ui.widgets.sweep_pane import SweepPane

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl
    from ats.trading_job.views import JobView
    from ats.ui.widgets.account import AccountPanel
    from ats.ui.widgets.jobs_table import JobsTable

logger = logging.getLogger(__name__)

SPEED_LIMITS = (0.25, 100_000.0)
ResultT = TypeVar("ResultT")


class _Failed(Enum):
    FAILED = "failed"


FAILED: Final = _Failed.FAILED
"""What :meth:`JobCommandScreen._command` returns when the command failed (and was shown):
a command's own result may be None."""


class JobCommandScreen(Screen[None]):
    """A screen whose keys issue job commands; the subclass shows the jobs they act on.

    A Screen rather than a plain mix-in: ``notify``, ``app`` and ``@work`` come typed from
    Textual, and only what the subclass adds is declared below."""

    # What the commands use of the screen that shows the jobs (MainScreen provides it).
    selected_job_id: str | None
    _stale_panels: set[str]
    if TYPE_CHECKING:

        @property
        def control(self) -> JobControl: ...
        @property
        def table(self) -> JobsTable: ...
        @property
        def account(self) -> AccountPanel: ...
        @property
        def job_views(self) -> list[JobView]: ...
        async def refresh_rows(self) -> None: ...
        async def _fresh_view(self, job_id: str) -> JobView | None: ...
        async def _after_form(self, job_id: str | None) -> None: ...

    async def _command(
        self, what: str, command: Callable[[], Awaitable[ResultT]], job_id: str | None = None
    ) -> ResultT | Literal[_Failed.FAILED]:
        """Run a job command; failures become a notification (and :data:`FAILED`), never
        an exception. An unexpected one (an engine bug) is logged with the job id too."""
        try:
            result = await command()
        except ATSError as exc:
            self.notify(str(exc), title=what, severity="error")
        except Exception as exc:
            logger.exception("%s failed (job %s)", what, job_id)
            self.notify(f"{type(exc).__name__}: {exc}", title=what, severity="error")
        else:
            if job_id is not None:  # its row shows the effect now, not at the next summary
                view = await self._fresh_view(job_id)
                if view is not None:
                    self.table.update_row(job_view.job_row(view))
            return result
        return FAILED

    async def _require_job(self) -> JobView | None:
        """The job under the table's cursor: commands act on what the user sees."""
        job_id = self.table.cursor_job
        view = await self._fresh_view(job_id) if job_id is not None else None
        if view is None:
            self.notify("No job selected — press n to create one", severity="warning")
        return view

    async def action_toggle_job(self) -> None:
        job = await self._require_job()
        if job is None:
            return
        if not job.status.is_active and job.live:
            self._confirm_live_start(job)
            return
        await self._command("Start/stop", lambda: self.control.toggle(job.job_id), job.job_id)

    def _confirm_live_start(self, job: JobView) -> None:
        """Real orders never go out without an explicit yes naming job, venue and symbol."""
        from ats.ui.screens.confirm import ConfirmScreen

        job_id, name = job.job_id, job.name

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._command("Start live job", lambda: self.control.start(job_id), job_id)
            else:
                self.notify(f"{name} not started", title="Live trading")

        dialog = ConfirmScreen(live_start_question(job), confirm="Trade live")
        self.app.push_screen(dialog, answered)

    async def action_kill_switch(self) -> None:
        """Cancel every live order after a yes; jobs keep running (``K``)."""
        from ats.ui.screens.confirm import ConfirmScreen

        live = await self._live_job_count()
        if not live:
            self.notify("No live job: no order to cancel", title="Kill switch")
            return

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            cancelled = await self._command("Kill switch", self.control.kill_switch)
            if cancelled is not FAILED:
                self.notify(
                    kill_switch_result(cancelled, await self._live_job_count()),
                    title="Kill switch",
                    severity="warning",
                )
                self._stale_panels.add("account")

        self.app.push_screen(ConfirmScreen(kill_switch_question(live), confirm="Kill"), answered)

    async def _live_job_count(self) -> int:
        """Jobs the kill switch acts on: built and trading in live mode."""
        return sum(1 for view in await self.control.jobs() if view.built and view.live)

    async def action_pause_job(self) -> None:
        job = await self._require_job()
        if job is not None:
            await self._command(
                "Pause/resume", lambda: self.control.toggle_pause(job.job_id), job.job_id
            )

    async def action_reload_job(self) -> None:
        job = await self._require_job()
        if job is None:
            return
        done = await self._command("Reload", lambda: self.control.reload(job.job_id), job.job_id)
        if done is not FAILED:
            self.notify(f"{job.name}: strategy reloaded, state kept", title="Reload")
            if job.job_id == self.selected_job_id:
                self.account.show(await self._fresh_view(job.job_id))

    async def action_speed(self, factor: float) -> None:
        job = await self._require_job()
        if job is None:
            return
        current = job.speed
        if current is None:
            self.notify(f"{job.name} is not a replay job", severity="warning")
            return
        low, high = SPEED_LIMITS
        if current <= 0:  # "as fast as possible": only slowing down means anything
            if factor >= 1:
                self.notify(f"{job.name} already replays at full speed", title="Speed")
                return
            current = high / factor
        speed = min(max(current * factor, low), high)
        result = await self._command(
            "Speed", lambda: self.control.set_speed(job.job_id, speed), job.job_id
        )
        if result is not FAILED:  # _command has redrawn the job's row already
            shown = job_view.format_speed(result)
            self.notify(f"{job.name}: replay speed {shown}", title="Speed")

    async def action_new_job(self) -> None:
        from ats.ui.screens.job_form import JobFormScreen

        form = await JobFormScreen.prepare(self.control, job_count=len(self.job_views))
        self.app.push_screen(form, self._after_form)

    async def action_new_sweep(self) -> None:
        await self.query_one(SweepPane).new_sweep()

    async def action_edit_job(self) -> None:
        from ats.ui.screens.job_form import JobFormScreen

        job = await self._require_job()
        if job is None:
            return
        if job.status.is_active:
            self.notify(f"Stop {job.name} (s) before editing it", severity="warning")
            return
        try:
            form = await JobFormScreen.prepare(
                self.control, job_count=len(self.job_views), job_id=job.job_id
            )
        except JobError as exc:
            self.notify(str(exc), title="Edit", severity="error")
            return
        self.app.push_screen(form, self._after_form)

    async def action_delete_job(self) -> None:
        from ats.ui.screens.confirm import ConfirmScreen

        job = await self._require_job()
        if job is None:
            return
        running = " It is running and will be stopped first." if job.status.is_active else ""
        question = f"Delete job {job.name}?{running}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._delete(job.job_id)

        self.app.push_screen(ConfirmScreen(question, confirm="Delete"), answered)

    @work(exclusive=False, group="delete")
    async def _delete(self, job_id: str) -> None:
        done = await self._command("Delete", lambda: self.control.delete(job_id), job_id)
        if done is not FAILED:
            await self.refresh_rows()
