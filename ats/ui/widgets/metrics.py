"""Metrics of the selected job: the engine's report, or a live summary while it runs.

A line-API scroll view: each row is a label and a right-aligned value, drawn as a few
segments. As a Rich table in a ``Static``, the panel was rendered again at every screen
layout (to measure its height) and every repaint, and was the costliest widget of a key
that changes the layout, such as opening the Trades pane (bench/ui_latency.py).
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.markup import escape
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ats.trading_job.views import JobView
from ats.ui import job_view
from ats.ui.job_view import MetricsView
from ats.ui.tcss import load_tcss
from ats.ui.widgets.base_style import KeptBaseStyle
from ats.ui.widgets.virtual_size import set_virtual_size

_BOLD = Style(bold=True)
_DIM = Style(dim=True)


class MetricsPanel(KeptBaseStyle, ScrollView, can_focus=True):
    """Set the job with :meth:`set_job`; :meth:`show` its latest view."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Metrics (m)"
        self._job_id: str | None = None
        self._job_view: JobView | None = None
        self._view: MetricsView | None = None
        self._rows: list[Strip] = []
        """The view drawn at :attr:`_width` (without the panel's colours)."""
        self._width = 0

    def on_mount(self) -> None:
        self._show_view()

    @property
    def job_id(self) -> str | None:
        return self._job_id

    @property
    def lines(self) -> list[str]:
        """The rows' text, as shown."""
        return [row.text for row in self._rows]

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
        self._draw()

    def on_resize(self, event: Resize) -> None:
        width = max(self.container_size.width - self.styles.scrollbar_size_vertical, 0)
        if width != self._width:
            self._width = width
            self._draw()

    def _draw(self) -> None:
        """Lay the rows out at the panel's width; only a new row count moves the scrollbar."""
        view, width = self._view, self._width
        if view is None or not width:
            self._rows = []
        else:
            self._rows = self._error_rows(view, width) + self._metric_rows(view, width)
        set_virtual_size(self, Size(width, len(self._rows)))
        self.refresh()

    def _metric_rows(self, view: MetricsView, width: int) -> list[Strip]:
        if not view.rows:
            return [Strip([Segment(set_cell_size(view.title, width), _DIM)])]
        variables = self.app.theme_variables
        colours = {
            1: Style.parse(variables.get("success") or "none"),
            -1: Style.parse(variables.get("error") or "none"),
            0: None,
        }
        widest = max(cell_len(value) for _label, value, _sign in view.rows)
        label_width = max(width - widest - 1, 1)
        rows = []
        for label, value, sign in view.rows:
            if cell_len(label) > label_width:
                label = set_cell_size(label, label_width - 1) + "…"
            gap = max(width - cell_len(label) - cell_len(value), 1)
            rows.append(
                Strip(
                    [Segment(label, _BOLD), Segment(" " * gap), Segment(value, colours[sign])]
                ).crop(0, width)
            )
        return rows

    def _error_rows(self, view: MetricsView, width: int) -> list[Strip]:
        if not view.error:
            return []
        colour = self.app.theme_variables.get("error") or ""
        text = Text(f"Error: {view.error}", style=f"bold {colour}".strip())
        console = self.app.console
        return [Strip(line.render(console)) for line in text.wrap(console, width)]

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        base = self._base_style()
        if row >= len(self._rows):
            return Strip.blank(width, base)
        return self._rows[row].apply_style(base).extend_cell_length(width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self._draw()  # theme colours are baked into the rows
