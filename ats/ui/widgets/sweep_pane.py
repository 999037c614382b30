"""A selected sweep's main pane: its heatmap beside its trials, and the keys to use them.

Shown instead of the chart while a sweep is selected. It reads the sweep's views from
the JobControl a few times a second while the sweep changes (the screen marks it
stale), never faster, however quickly trials finish. Its keys (when focused, ``c``):
``x``/``y`` choose the heatmap's params, ``z``/``Z`` the trials' sort column and order,
``b``/``P`` turn the trial under the cursor into a new backtest or paper job through
``JobControl.create``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widget import Widget

from ats.exceptions import ATSError
from ats.trading_job.sweep_views import SORT_OBJECTIVE, SweepView
from ats.ui.keys import SWEEP_KEYS, bindings
from ats.ui.sweep_format import sweep_title
from ats.ui.tcss import load_tcss
from ats.ui.widgets.sweep_heatmap import SweepHeatmapView
from ats.ui.widgets.sweep_trials import SweepTrialsTable

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

logger = logging.getLogger(__name__)

REFRESH_HZ = 4.0
TRIALS_SHOWN = 200
"""Trials listed (the best by the sort column); the rest are a sort key away."""


def next_choice(choices: list[str], current: str | None, skip: str | None = None) -> str | None:
    """The choice after ``current`` (wrapping), never ``skip``."""
    options = [choice for choice in choices if choice != skip]
    if not options:
        return current
    if current not in options:
        return options[0]
    return options[(options.index(current) + 1) % len(options)]


class SweepPane(Vertical, can_focus=True):
    """Set the sweep with :meth:`set_sweep`; :meth:`mark_stale` when it changed."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS: ClassVar[list[BindingType]] = bindings(SWEEP_KEYS)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Sweep (c)"
        self.control: JobControl | None = None
        self.after_create: Callable[[str | None], Awaitable[None]] | None = None
        """The screen's: select a job just created (a promoted trial, a new sweep)."""
        self.sweep_id: str | None = None
        self.view: SweepView | None = None
        self.x: str | None = None
        self.y: str | None = None
        self.sort = SORT_OBJECTIVE
        self.descending: bool | None = None
        self._stale = False
        self.redraws = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="sweep-body"):
            yield SweepHeatmapView(id="sweep-heatmap")
            yield SweepTrialsTable(id="sweep-trials")

    @property
    def heatmap(self) -> SweepHeatmapView:
        return self.query_one(SweepHeatmapView)

    @property
    def trials(self) -> SweepTrialsTable:
        return self.query_one(SweepTrialsTable)

    def on_mount(self) -> None:
        self.set_interval(1.0 / REFRESH_HZ, self._refresh_if_stale)

    def attach(
        self, control: JobControl, after_create: Callable[[str | None], Awaitable[None]]
    ) -> None:
        self.control, self.after_create = control, after_create

    def swap(self, chart: Widget) -> Widget:
        """Take the chart's place while a sweep is shown, give it back otherwise; the
        widget now in the chart's place (the screen's panel logic treats it as the chart)."""
        shown, hidden = (self, chart) if self.sweep_id is not None else (chart, self)
        if hidden.display:
            hidden.display = False
        if not shown.display:
            shown.styles.clear_rule("display")  # the screen's (narrow) layout decides again
        return shown

    async def new_sweep(self) -> None:
        """The form asking for a spec; the new sweep starts and is selected."""
        from ats.ui.screens.sweep_form import SweepFormScreen

        if self.control is not None:
            specs = await self.control.sweep_specs()
            self.app.push_screen(SweepFormScreen(self.control, specs), self.after_create)

    def on_focus(self) -> None:
        """Focused (``c``): the trials table takes it, for its cursor."""
        self.screen.set_focus(self.trials)

    # -- data ------------------------------------------------------------------------------
    async def set_sweep(self, sweep_id: str | None) -> None:
        if sweep_id == self.sweep_id:
            return
        self.sweep_id, self.view = sweep_id, None
        self.x = self.y = None
        self.sort, self.descending = SORT_OBJECTIVE, None
        self.heatmap.show(None)
        if sweep_id is not None:
            await self.redraw()

    def mark_stale(self) -> None:
        self._stale = True

    async def _refresh_if_stale(self) -> None:
        if self._stale and self.display and self.sweep_id is not None:
            self._stale = False
            await self.redraw()

    async def redraw(self) -> None:
        """Read the sweep's views and show them (a failure is logged and shown)."""
        sweep_id, control = self.sweep_id, self.control
        if sweep_id is None or control is None:
            return
        try:
            view = await control.sweep(sweep_id)
            heatmap = await control.sweep_heatmap(sweep_id, self.x, self.y)
            page = await control.sweep_trials(sweep_id, self.sort, self.descending, 0, TRIALS_SHOWN)
        except ATSError:
            return  # removed since it was selected: the screen moves on
        except Exception:
            logger.exception("sweep %s: reading its views failed", sweep_id)
            self.border_subtitle = "⚠ sweep view failed, see log"
            return
        if sweep_id != self.sweep_id:
            return
        self.redraws += 1
        self.view = view
        self.x, self.y = heatmap.x or self.x, heatmap.y or self.y
        self.border_title = escape(sweep_title(view))
        self.border_subtitle = escape(view.error or f"{view.status} · {view.executor}".strip(" ·"))
        self.heatmap.show(heatmap)
        self.trials.show(page, tuple(param.name for param in view.params), view.objective)

    # -- keys ------------------------------------------------------------------------------
    async def action_axis(self, axis: str) -> None:
        if self.view is None:
            return
        names = [param.name for param in self.view.params]
        if axis == "x":
            self.x = next_choice(names, self.x, skip=self.y)
        else:
            self.y = next_choice(names, self.y, skip=self.x)
        await self.redraw()

    async def action_sort(self, step: int) -> None:
        if self.view is None:
            return
        if step == 0:  # reverse the order
            page = self.trials.page
            self.descending = not (page.descending if page is not None else True)
        else:
            sorts = list(dict.fromkeys(self.view.sorts))
            self.sort = next_choice(sorts, self.sort) or SORT_OBJECTIVE
            self.descending = None
        await self.redraw()

    async def action_promote(self, mode: str) -> None:
        """The trial under the cursor (else the best) as a new backtest or paper job."""
        control, sweep_id = self.control, self.sweep_id
        if control is None or sweep_id is None:
            return
        trial = self.trials.selected_trial
        if trial is None and self.view is not None and self.view.best is not None:
            trial = self.view.best.number
        if trial is None:
            self.notify("No finished trial yet", title="Promote", severity="warning")
            return
        kind: Any = "paper" if mode == "paper" else "backtest"
        try:
            config = await control.trial_job_config(sweep_id, trial, kind)
            job_id = await control.create(config)
        except ATSError as exc:
            self.notify(str(exc), title="Promote", severity="error")
            return
        self.notify(f"Trial {trial} is now {kind} job {config.name}", title="Promote")
        if self.after_create is not None:
            await self.after_create(job_id)
