"""The jobs table: one row per job, updated ~10 times a second while jobs run.

A small Line-API widget rather than Textual's DataTable: each row is rendered once into
a cached strip and only re-rendered when that row's values (or the cursor, focus, width
or theme) change. DataTable re-renders every cell on each focus change and cell update,
which cost ~15 ms a keypress with 8 jobs; this costs well under 1 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ats.ui.job_view import JobRow
from ats.ui.tcss import load_tcss

STATUS_COLOURS = {
    "running": ("success", True),
    "paused": ("warning", True),
    "error": ("error", True),
    "finished": ("primary", False),
    "stopped": ("text-muted", False),
    "created": ("text-muted", False),
}


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int
    priority: int
    """Lower shows first: narrow terminals drop the highest numbers."""
    right: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("name", "Job", 18, 0),
    Column("strategy", "Strategy", 14, 7),
    Column("market", "Symbol/TF", 13, 6),
    Column("mode", "Mode", 10, 5),
    Column("status", "Status", 8, 1),
    Column("progress", "Prog", 4, 2, right=True),
    Column("equity", "Equity", 10, 3, right=True),
    Column("pnl_abs", "P&L", 9, 3, right=True),
    Column("pnl", "P&L %", 7, 3, right=True),
    Column("position", "Position", 12, 4),
    Column("info", "Info", 28, 8),
)
NARROW_NAME_WIDTH = 12
WIDEST_NAME = 32
"""Room left over after the columns that fit goes to the job name, up to this."""
CELL_PADDING = 2


def columns_for(budget: int) -> list[Column]:
    """The columns that fit in ``budget`` cells, most important first, in display order."""
    name = COLUMNS[0]
    if budget < sum(column.width + CELL_PADDING for column in COLUMNS if column.priority <= 5):
        name = Column(name.key, name.label, NARROW_NAME_WIDTH, name.priority)
    chosen = {name.key: name}
    used = name.width + CELL_PADDING
    for column in sorted(COLUMNS[1:], key=lambda column: column.priority):
        if used + column.width + CELL_PADDING > budget:
            break
        chosen[column.key] = column
        used += column.width + CELL_PADDING
    info = chosen.get("info")
    if info is not None:  # the error text gets whatever room is left
        width = info.width + budget - used
        chosen["info"] = Column(info.key, info.label, width, info.priority)
    else:  # a narrow table: the name gets what is left, so names stay readable
        width = min(name.width + budget - used, max(name.width, WIDEST_NAME))
        chosen["name"] = Column(name.key, name.label, width, name.priority)
    return [chosen[column.key] for column in COLUMNS if column.key in chosen]


def cell_texts(row: JobRow) -> dict[str, str]:
    return {
        "name": row.name,
        "strategy": row.strategy,
        "market": row.market,
        "mode": row.mode,
        "status": row.status,
        "progress": row.progress,
        "equity": row.equity,
        "pnl": "—" if row.pnl_pct is None else f"{row.pnl_pct:+.2f}",
        "pnl_abs": "—" if row.pnl is None else f"{row.pnl:+,.2f}",
        "position": row.position,
        "info": row.error or row.connection or row.note or "",
    }


class JobsTable(ScrollView, can_focus=True):
    """Rows keyed by job id. Set rows with :meth:`show_rows`; selection goes up as a message."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
        Binding("home", "cursor(-100000)", "First", show=False),
        Binding("end", "cursor(100000)", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "jobs-table--header",
        "jobs-table--cursor",
        "jobs-table--cursor-blurred",
    }

    class JobSelected(Message):
        """The highlighted job changed (None when the table is empty)."""

        def __init__(self, job_id: str | None) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Jobs (j)"
        self.cursor_row = 0
        self._all: list[JobRow] = []
        self._visible: list[JobRow] = []
        self._filter = ""
        self._columns: list[Column] | None = None
        self._selected: str | None = None
        self._picked = False
        """A row was chosen (keys, a click, the palette): the cursor follows that job."""
        self._strips: dict[tuple[Any, ...], Strip] = {}
        self._generation = 0

    # -- layout ----------------------------------------------------------------------------
    def fit_width(self, width: int) -> None:
        """Show the columns that fit in ``width`` cells; re-renders only on change."""
        columns = columns_for(width)
        if columns != self._columns:
            self._columns = columns
            self._invalidate()

    @property
    def visible_columns(self) -> list[str]:
        return [column.key for column in self._columns or ()]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._visible) + 1

    def on_resize(self, event: Resize) -> None:
        self._invalidate()

    def restyle(self) -> None:
        """Theme changed: colours are baked into the cached rows."""
        self._invalidate()

    def _invalidate(self) -> None:
        self._strips.clear()
        self._generation += 1
        self.refresh()

    def watch_has_focus(self, _focused: bool) -> None:
        self.refresh()

    # -- data ------------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._visible)

    @property
    def selected_job(self) -> str | None:
        """The job last announced with :class:`JobSelected`."""
        return self._selected

    @property
    def cursor_job(self) -> str | None:
        """The job under the cursor right now (ahead of the announcement, which is a
        message: a key pressed right after a cursor move must act on the new row)."""
        if 0 <= self.cursor_row < len(self._visible):
            return self._visible[self.cursor_row].job_id
        return None

    @property
    def filter_text(self) -> str:
        return self._filter

    def set_filter(self, text: str) -> None:
        self._filter = text.strip()
        self.border_subtitle = f"filter: {self._filter}" if self._filter else ""
        self._apply_rows()

    def show_rows(self, rows: list[JobRow]) -> None:
        """Show ``rows`` (all jobs, in order); unchanged rows keep their cached strip."""
        self._all = list(rows)
        self._apply_rows()

    def update_row(self, row: JobRow) -> None:
        """Refresh one job's row in place (no-op when unknown or unchanged)."""
        for rows in (self._all, self._visible):
            for index, existing in enumerate(rows):
                if existing.job_id == row.job_id:
                    if existing != row:
                        rows[index] = row
                        if rows is self._visible:
                            self.refresh_line(index + 1)
                    break

    def get_row(self, job_id: str) -> list[str]:
        """The visible cell texts of ``job_id``'s row (for tests and tools)."""
        for row in self._visible:
            if row.job_id == job_id:
                texts = cell_texts(row)
                return [texts[key] for key in self.visible_columns]
        raise KeyError(job_id)

    def select_job(self, job_id: str) -> None:
        for index, row in enumerate(self._visible):
            if row.job_id == job_id:
                self.move_cursor(row=index)
                return

    def move_cursor(self, *, row: int) -> None:
        count = len(self._visible)
        new = min(max(row, 0), max(count - 1, 0))
        if new != self.cursor_row:
            self._picked = True
            old, self.cursor_row = self.cursor_row, new
            self.refresh_line(old + 1)
            self.refresh_line(new + 1)
            self._scroll_to_cursor()
        self._announce()

    def action_cursor(self, step: int) -> None:
        self.move_cursor(row=self.cursor_row + step)

    def on_click(self, event: Click) -> None:
        row = event.y - 1 + int(self.scroll_offset.y)
        if 0 <= row < len(self._visible):
            self.move_cursor(row=row)

    def _apply_rows(self) -> None:
        # Until someone picks a row the first one stays selected, though saved jobs are
        # restored one by one and an earlier one may arrive after a later one.
        keep = (self.cursor_job or self._selected) if self._picked else None
        visible = [row for row in self._all if not self._filter or row.matches(self._filter)]
        structure = [row.job_id for row in visible] != [row.job_id for row in self._visible]
        self._visible = visible
        self.virtual_size = Size(self.size.width, len(visible) + 1)
        if structure:
            ids = [row.job_id for row in visible]
            self.cursor_row = ids.index(keep) if keep in ids else 0
            self.refresh(layout=True)
            self._scroll_to_cursor()
        else:
            self.refresh()
        self._announce()

    def _scroll_to_cursor(self) -> None:
        visible_rows = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible_rows:
            self.scroll_to(y=self.cursor_row - visible_rows + 1, animate=False)

    def _announce(self) -> None:
        job_id = self.cursor_job
        if job_id != self._selected:
            self._selected = job_id
            self.post_message(self.JobSelected(job_id))

    # -- rendering -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._strip(("header", width, self._generation), self._header)
        index = y - 1 + int(self.scroll_offset.y)
        if index >= len(self._visible):
            return Strip.blank(width, self.rich_style)
        row = self._visible[index]
        cursor = index == self.cursor_row
        key = ("row", row, cursor, cursor and self.has_focus, width, self._generation)
        return self._strip(key, lambda: self._row_text(row, cursor))

    def _strip(self, key: tuple[Any, ...], build: Any) -> Strip:
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) > 4 * (len(self._visible) + 4):
                self._strips.clear()  # bounded: stale rows go, live ones re-render once
            width = self.scrollable_content_region.width
            text: Text = build()
            text.truncate(width, pad=True)
            if text.style:  # Text.render ignores the base style of span-less text
                text.stylize(text.style)
            console = self.app.console
            segments = list(text.render(console))
            strip = Strip(segments, width).apply_style(self.rich_style)
            self._strips[key] = strip
        return strip

    def _header(self) -> Text:
        style = self.get_component_rich_style("jobs-table--header")
        line = Text(style=style, no_wrap=True)
        for column in self._columns or ():
            line.append(" " + self._fit(column.label, column) + " ")
        return line

    def _row_text(self, row: JobRow, cursor: bool) -> Text:
        texts = cell_texts(row)
        if cursor:
            name = "jobs-table--cursor" if self.has_focus else "jobs-table--cursor-blurred"
            line = Text(style=self.get_component_rich_style(name), no_wrap=True)
            for column in self._columns or ():
                line.append(" " + self._fit(texts[column.key], column) + " ")
            return line
        line = Text(no_wrap=True)
        for column in self._columns or ():
            line.append(" ")
            line.append(self._fit(texts[column.key], column), style=self._cell_style(column, row))
            line.append(" ")
        return line

    @staticmethod
    def _fit(text: str, column: Column) -> str:
        if len(text) > column.width:
            text = text[: max(column.width - 1, 0)] + "…"
        return text.rjust(column.width) if column.right else text.ljust(column.width)

    def _cell_style(self, column: Column, row: JobRow) -> Style | str:
        variables = self.app.theme_variables
        if column.key == "status":
            name, bold = STATUS_COLOURS.get(row.status, ("foreground", False))
            colour = variables.get(name, "")
            if colour.startswith("auto"):
                return "dim"
            return f"{'bold ' if bold else ''}{colour}".strip()
        if column.key in ("pnl", "pnl_abs") and row.pnl_pct:
            return variables.get("success" if row.pnl_pct > 0 else "error", "")
        if column.key == "info" and row.error:
            return variables.get("error", "")
        if column.key == "info" and (row.connection or row.note):
            return variables.get("warning", "")
        return ""
