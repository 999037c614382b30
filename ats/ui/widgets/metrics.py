"""Metrics of the selected job: the engine's report, or a live summary while it runs."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.widgets import Static

from ats.trading_job.views import JobView
from ats.ui import job_view
from ats.ui.job_view import MetricsView
from ats.ui.tcss import load_tcss


def _height(view: MetricsView) -> tuple[int, bool]:
    return len(view.rows), view.error is not None


class MetricsPanel(VerticalScroll, can_focus=True):
    """Set the job with :meth:`set_job`; :meth:`show` its latest view."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Metrics (m)"
        self._job_id: str | None = None
        self._job_view: JobView | None = None
        self._view: MetricsView | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="metrics-body")

    def on_mount(self) -> None:
        self._show_view()

    @property
    def job_id(self) -> str | None:
        return self._job_id

    def set_job(self, job_id: str | None, view: JobView | None = None) -> None:
        if job_id != self._job_id:
            self._job_id = job_id
            self._job_view = view if view is not None and view.job_id == job_id else None
            self._view = None
            self._show_view()

    def show(self, view: JobView | None, *, force: bool = False) -> None:
        if view is not None and view.job_id != self._job_id:
            return  # another job was selected meanwhile
        self._job_view = view
        self._show_view(force=force)

    def _show_view(self, *, force: bool = False) -> None:
        if not self.is_mounted:
            return
        view = (
            job_view.metrics_view(self._job_view)
            if self._job_view is not None or self._job_id is None
            else job_view.MetricsView("Loading…")
        )
        if view == self._view and not force:
            return
        previous, self._view = self._view, view
        if previous is None or previous.title != view.title:
            self.border_subtitle = escape(view.title)
        # A new height needs a screen layout (costly); same-sized updates only repaint.
        same_height = previous is not None and _height(previous) == _height(view)
        self.query_one("#metrics-body", Static).update(
            self._render_view(view), layout=not same_height or force
        )

    def _render_view(self, view: MetricsView) -> RenderableType:
        variables = self.app.theme_variables
        colours = {1: variables.get("success", ""), -1: variables.get("error", ""), 0: ""}
        table = Table.grid(padding=(0, 1), expand=True)
        widest = max((len(value) for _label, value, _sign in view.rows), default=1)
        table.add_column("metric", style="bold", no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column("value", justify="right", no_wrap=True, min_width=widest)
        for label, value, sign in view.rows:
            table.add_row(Text(label), Text(value, style=colours[sign]))
        if not view.rows:
            table.add_row(Text(view.title, style="dim"), "")
        if view.error:
            error = Text(f"Error: {view.error}", style=f"bold {variables.get('error', '')}")
            return Group(error, table)
        return table
