"""The main screen: jobs table on top; chart, log, orders and metrics of the selected job.

Data flow: the app's :class:`~ats.trading_job.control.JobControl` watches the jobs and
calls :meth:`MainScreen.apply_changes` with a coalesced summary at most ~10 times a
second; the screen asks the control for the views of the jobs that changed and pushes
them down into the widgets. The screen keeps job ids and the latest views, never a job.
Widgets send messages up (selection, filter edits); the job commands their keys issue
live in :mod:`ats.ui.screens.job_commands`, which this screen inherits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.markup import escape
from textual.timer import Timer
from textual.widget import Widget

from ats.exceptions import JobError
from ats.trading_job.change_feed import Changes
from ats.trading_job.control import JobControl, Watch
from ats.trading_job.views import JobView
from ats.ui import job_view
from ats.ui.keys import MAIN_KEYS, bindings
from ats.ui.screens.job_commands import JobCommandScreen
from ats.ui.status_history import StatusHistory
from ats.ui.tcss import tcss_path
from ats.ui.widgets.account import AccountPanel
from ats.ui.widgets.chart import ChartView
from ats.ui.widgets.columns import LeftColumn, RightColumn
from ats.ui.widgets.filter_bar import FilterBar
from ats.ui.widgets.jobs_table import JobsTable
from ats.ui.widgets.key_footer import KeyFooter
from ats.ui.widgets.log_view import LogView
from ats.ui.widgets.metrics import MetricsPanel
from ats.ui.widgets.panel_tabs import PanelTabs
from ats.ui.widgets.status_header import StatusHeader
from ats.ui.widgets.sweep_pane import SweepPane
from ats.ui.widgets.trades_pane import TradesPane

if TYPE_CHECKING:
    from ats.ui.app import AtsApp

Panel = Literal["jobs", "chart", "orders", "log", "metrics", "trades"]
NARROW_WIDTH = 120
"""Below this many columns (or :data:`SHORT_HEIGHT` rows) one lower panel shows at a time."""
SHORT_HEIGHT = 32
SELECT_SETTLE = 0.12
"""Seconds between two heavy redraws while the selection is moving (key repeat)."""
PANEL_HZ = 4.0
"""Refresh rate of the account and metrics panels (the jobs table follows the pump)."""


WidgetT = TypeVar("WidgetT", bound=Widget)


class MainScreen(JobCommandScreen):
    CSS_PATH = tcss_path(__file__)
    BLANK = True
    """The screen has no content of its own: every focus change repaints it (Textual's
    ``focused`` reactive), so let Textual fill it with blank lines instead of rendering."""
    BINDINGS = bindings(MAIN_KEYS)

    def __init__(self) -> None:
        super().__init__(id="main")
        self.selected_job_id: str | None = None
        self.active_panel: Panel = "chart"
        self.narrow: bool | None = None
        self._watch: Watch | None = None
        self._select_timer: Timer | None = None
        self._last_select = 0.0
        self._shown_ids: set[str] = set()
        self._views: dict[str, JobView] = {}
        """The latest view of every job shown, in the manager's order."""
        self._statuses = StatusHistory()
        self._stale_panels: set[str] = set()
        self._widgets: dict[type[Widget], Widget] = {}
        self.applied = 0

    # -- plumbing --------------------------------------------------------------------------
    @property
    def ats_app(self) -> AtsApp:
        return self.app  # type: ignore[return-value]

    @property
    def control(self) -> JobControl:
        return self.ats_app.control

    @property
    def selected_view(self) -> JobView | None:
        """The latest view of the selected job."""
        if self.selected_job_id is None:
            return None
        return self._views.get(self.selected_job_id)

    @property
    def job_views(self) -> list[JobView]:
        """The latest view of every job shown, in order (the palette lists them)."""
        return list(self._views.values())

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header")
        yield JobsTable(id="jobs")
        yield PanelTabs(id="panel-tabs")
        with Horizontal(id="body"):
            with LeftColumn(id="left"):
                yield ChartView(id="chart", classes="panel")
                yield SweepPane(id="sweep", classes="panel")
                yield LogView(id="log", classes="panel", clock=self.ats_app.log_clock)
                yield TradesPane(id="trades", classes="panel")
            with RightColumn(id="right"):
                yield AccountPanel(id="orders", classes="panel")
                yield MetricsPanel(id="metrics", classes="panel")
        yield FilterBar(id="filter")
        yield KeyFooter(id="footer")

    # The panels, looked up once (a DOM query per access adds up at 10 refreshes/s).
    @property
    def table(self) -> JobsTable:
        return self._widget(JobsTable)

    @property
    def chart(self) -> ChartView:
        return self._widget(ChartView)

    @property
    def log_view(self) -> LogView:
        return self._widget(LogView)

    @property
    def trades(self) -> TradesPane:
        return self._widget(TradesPane)

    @property
    def account(self) -> AccountPanel:
        return self._widget(AccountPanel)

    @property
    def metrics(self) -> MetricsPanel:
        return self._widget(MetricsPanel)

    def _widget(self, kind: type[WidgetT]) -> WidgetT:
        found = self._widgets.get(kind)
        if found is None:
            found = self._widgets[kind] = self.query_one(kind)
        return found  # type: ignore[return-value]

    async def on_mount(self) -> None:
        self.chart.control = self.log_view.control = self.trades.control = self.control
        self._widget(SweepPane).attach(self.control, self._after_form)
        self._watch = self.control.watch(
            self.apply_changes,
            known=lambda job_id: job_id in self._shown_ids,
            alive=lambda: self.is_attached and self.app.is_running and not self.ats_app.closing,
        )
        self._watch.start()  # subscribe before the demo jobs publish their first events
        self.log_view.extra_lines = self._statuses.lines
        await self.ats_app.ensure_demo_jobs()
        self._apply_layout(self.app.size.width, self.app.size.height)
        await self.refresh_rows()
        self.table.focus()
        self.set_interval(1.0 / PANEL_HZ, self._refresh_stale_panels)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._restyle())

    async def on_unmount(self) -> None:
        if self._watch is not None:
            await self._watch.stop()

    # -- layout ----------------------------------------------------------------------------
    def on_resize(self, event: Resize) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        narrow = width < NARROW_WIDTH or height < SHORT_HEIGHT
        # Cells get the width minus the scrollbar, and minus the border when wide.
        self.table.fit_width(width - (1 if narrow else 3))
        if narrow != self.narrow:
            self.narrow = narrow
            self.set_class(narrow, "-narrow")
        self._show_active_panel()

    def _show_active_panel(self) -> None:
        panels: dict[str, Any] = {
            "chart": self._widget(SweepPane).swap(self.chart),  # a sweep's pane, else the chart
            "log": self.log_view,
            "orders": self.account,
            "metrics": self.metrics,
            "trades": self.trades,
        }
        # Class and display changes cost a full layout: only touch what really changes.
        for name, widget in panels.items():
            active = bool(self.narrow) and name == self.active_panel
            if widget.has_class("-active") != active:
                widget.set_class(active, "-active")
        self._show_trades_or_log()
        left = not self.narrow or self.active_panel in ("chart", "log", "trades")
        right = not self.narrow or not left
        for kind, shown in ((LeftColumn, left), (RightColumn, right)):
            container = self._widget(kind)
            if container.display != shown:
                container.display = shown
        view = self.selected_view
        self._widget(PanelTabs).show(self.active_panel, view.error if view else None)

    def _show_trades_or_log(self) -> None:
        """Wide, the Trades pane takes the log's place under the chart. Set on the two
        widgets, not as a class of the screen: restyling the whole screen made ``h`` the
        slowest key (bench/ui_latency.py). Narrow, their classes decide (no inline value)."""
        trades, log = self.trades, self.log_view
        if self.narrow:
            for widget in (trades, log):
                if widget.styles.has_rule("display"):
                    widget.styles.clear_rule("display")
            return
        shown = self.active_panel == "trades"
        if trades.display != shown or not trades.styles.has_rule("display"):
            trades.display = shown
            log.display = not shown

    # -- data down -------------------------------------------------------------------------
    def _keep(self, views: list[JobView]) -> None:
        for view in views:
            if view.job_id in self._views:
                self._views[view.job_id] = view
        self._widget(StatusHeader).show(self._views.values(), self.selected_job_id)

    async def refresh_rows(self) -> None:
        """Rebuild every row (job added/removed); keeps the selection if it still exists."""
        views = await self.control.jobs()
        self._views = {view.job_id: view for view in views}
        self._shown_ids = set(self._views)
        self.table.show_rows([job_view.job_row(view) for view in views])
        self._widget(StatusHeader).show(views, self.selected_job_id)
        if self.selected_job_id not in self._shown_ids:
            self.selected_job_id = None
        if self.selected_job_id is None and views:
            self.table.select_job(views[0].job_id)
            await self._select(self.table.selected_job or views[0].job_id)
        elif not views:
            await self._select(None)

    async def apply_changes(self, changes: Changes) -> None:
        """One coalesced batch of job changes (delivered by the watch, ≤ 10 Hz)."""
        self.applied += 1
        status_lines = await self._statuses.record(changes, self.selected_job_id, self.control.jobs)
        if changes.resync:
            changes.rows.update(self._shown_ids)
            if self.selected_job_id is not None:
                for kind in (changes.candles, changes.account, changes.logs):
                    kind.add(self.selected_job_id)
            if set(await self.control.job_ids()) != self._shown_ids:
                changes.structure = True
        if changes.structure or changes.removed:
            await self.refresh_rows()
        elif changes.rows:
            views = await self.control.views(changes.rows)
            self._keep(views)
            for view in views:
                self.table.update_row(job_view.job_row(view))
        selected = self.selected_job_id
        if selected is None:
            return
        if selected in changes.candles:
            self.chart.mark_stale()
        if selected in changes.rows:
            self._widget(SweepPane).mark_stale()
        if selected in changes.account:
            self._stale_panels.add("account")
            self.trades.mark_stale()
        if selected in changes.rows or selected in changes.reports:
            self._stale_panels.add("metrics")
        if selected in changes.logs:
            await self.log_view.sync()
        if status_lines:
            self.log_view.append(status_lines, selected)
        if selected in changes.statuses:
            self._show_active_panel()
            self._update_title()  # the timeframe is known once the data has loaded

    async def _refresh_stale_panels(self) -> None:
        """Account and metrics redraw a Rich table each: a few times a second is plenty."""
        stale, self._stale_panels = self._stale_panels, set()
        if not stale or self.selected_job_id is None:
            return
        view = await self._fresh_view(self.selected_job_id)
        if "account" in stale:
            self.account.show(view)
        if "metrics" in stale:
            self.metrics.show(view)

    async def _fresh_view(self, job_id: str) -> JobView | None:
        """The job's view now (kept for the palette and title); None if it is gone."""
        try:
            view = await self.control.job(job_id)
        except JobError:
            return None
        self._keep([view])
        return view

    def on_jobs_table_job_selected(self, message: JobsTable.JobSelected) -> None:
        """Selection moved: redraw at once if idle, else once the key repeat settles."""
        message.stop()
        if self._select_timer is not None:
            self._select_timer.stop()
            self._select_timer = None
        now = time.monotonic()
        if now - self._last_select > SELECT_SETTLE:
            self._last_select = now
            self.call_after_refresh(self._select, message.job_id)
        else:
            self._select_timer = self.set_timer(
                SELECT_SETTLE, lambda: self._select(self.table.selected_job)
            )

    async def _select(self, job_id: str | None) -> None:
        self._last_select = time.monotonic()
        self.selected_job_id = job_id
        view = await self._fresh_view(job_id) if job_id is not None else None
        if job_id != self.selected_job_id:
            return  # another selection came first
        sweep = view is not None and view.sweep is not None
        self.chart.set_job(None if sweep else job_id)
        await self._widget(SweepPane).set_sweep(job_id if sweep else None)
        self.trades.set_job(None if sweep else job_id)
        self.account.set_job(job_id, view)
        self.metrics.set_job(job_id, view)
        self._update_title()
        self._show_active_panel()
        await self.log_view.set_job(job_id)

    async def _after_form(self, job_id: str | None) -> None:
        """A job form or a sweep's promote saved this job (None: cancelled): select it."""
        if job_id is None:
            return
        await self.refresh_rows()
        self.table.select_job(job_id)
        # The job may have been rebuilt (edit): every panel reads it afresh.
        for panel in (self.chart, self.trades, self.account, self.metrics):
            panel.set_job(None)
        await self.log_view.set_job(None)
        await self._select(job_id)

    def _update_title(self) -> None:
        view = self.selected_view
        title = escape(f"Chart (c) · {job_view.job_title(view)}" if view else "Chart (c)")
        if self.chart.border_title != title:
            self.chart.border_title = title

    def _restyle(self) -> None:
        """Colours baked into rows and panels follow the new theme."""
        self.table.restyle()
        rebuild: Callable[[], Coroutine[None, None, None]] = self.log_view.rebuild
        self.run_worker(rebuild, group="log-rebuild", exit_on_error=False)  # type: ignore[arg-type]
        self.account.show(self.selected_view, force=True)
        self.metrics.show(self.selected_view, force=True)
        self._widget(PanelTabs).refresh_tabs()

    # -- panels, filter, theme, help ------------------------------------------------------
    def action_focus_panel(self, panel: Panel) -> None:
        if panel == "jobs":  # set_focus at once: Widget.focus waited a turn (j + Up lost Up)
            self.set_focus(self.table)
            return
        self.active_panel = panel
        self._show_active_panel()
        target = {
            "chart": self._widget(SweepPane).swap(self.chart),
            "log": self.log_view,
            "orders": self.account.orders_table,
            "metrics": self.metrics,
            "trades": self.trades,
        }[panel]
        self.set_focus(target)

    async def action_back(self) -> None:
        """``esc``: clear the filter of the focused log or table, else back to the jobs."""
        if self.log_view.has_focus and self.log_view.filter_text:
            await self.log_view.set_filter("")
        elif self.table.has_focus and self.table.filter_text:
            self.table.set_filter("")
        else:
            self.action_focus_panel("jobs")

    def action_toggle_equity(self) -> None:
        chart = self.chart
        chart.set_mode("equity" if chart.mode == "candles" else "candles")
        if self.narrow and self.active_panel != "chart":
            self.action_focus_panel("chart")

    def action_filter(self) -> None:
        target: Literal["log", "jobs"] = "jobs" if self.table.has_focus else "log"
        current = self.table.filter_text if target == "jobs" else self.log_view.filter_text
        if target == "log" and self.narrow:
            self.active_panel = "log"
            self._show_active_panel()
        self.query_one(FilterBar).open(target, current)

    async def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        if message.target == "jobs":
            self.table.set_filter(message.text)
        else:
            await self.log_view.set_filter(message.text)

    def on_filter_bar_closed(self, message: FilterBar.Closed) -> None:
        self.set_focus(self.table if message.target == "jobs" else self.log_view)

    def action_cycle_theme(self) -> None:
        self.ats_app.cycle_theme()

    def action_help(self) -> None:
        self.app.push_screen("help")
