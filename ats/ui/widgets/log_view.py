"""The job log: bounded, level-coloured, filterable by text and minimum level; long lines
wrap (nothing is cut off at 80 columns).

A line-API scroll view: it keeps the lines as plain rows of styled segments and draws
only the rows on screen. Selecting a job shows its whole kept log; as a ``RichLog``, whose
every line goes through Rich's renderer when written, that took 20-60 ms per selection
and was the console's costliest key (bench/ui_latency.py, 8 jobs logging every order).
Here a line that fits costs a few segments, and only lines wider than the view are
wrapped by Rich.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.errors import StyleSyntaxError
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ats.exceptions import JobError
from ats.trading_job.views import LogLine, LogPage
from ats.ui.job_view import LEVELS, level_rank
from ats.ui.keys import LOG_KEYS, bindings
from ats.ui.tcss import load_tcss
from ats.ui.widgets.base_style import KeptBaseStyle
from ats.ui.widgets.virtual_size import set_virtual_size

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

MAX_LINES = 1_000
"""Log lines kept on screen (filtered); the job itself keeps its own bounded log."""
_PRUNE_SLACK = 100
"""Lines past :data:`MAX_LINES` before the oldest are dropped (in one go, not per line)."""
LEVEL_STYLES = {
    "DEBUG": "$text-muted",
    "INFO": "$primary",
    "WARNING": "$warning",
    "ERROR": "$error",
}
_DIM = Style(dim=True)
_PLAIN = Style()

Row = tuple[Segment, ...]
"""One screen row of a log line: its segments, styled but without the view's colours."""


def _local_clock(moment: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(moment))


class LogView(KeptBaseStyle, ScrollView, can_focus=True):
    """Shows one job's log, read through ``control``; :meth:`append` adds the console's
    own lines, filtered."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = bindings(LOG_KEYS)

    def __init__(
        self,
        *,
        id: str | None = None,
        classes: str | None = None,
        clock: Callable[[float], str] | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Log (l)"
        self.control: JobControl | None = None
        """Where the job's log lines come from (set by the screen)."""
        self._job_id: str | None = None
        self._filter = ""
        self._min_level = 0
        self._clock = clock or _local_clock  # tests pin it
        self._styles: dict[str, Style] = {}
        self._last_seq: int | None = None
        """The job's last log line shown (its seq), None before any."""
        self._reading = asyncio.Lock()
        self.extra_lines: Callable[[str], Iterable[LogLine]] = lambda job_id: ()
        """Console-side lines (status changes) merged by time into the job's own log."""
        self._entries: deque[LogLine] = deque()
        """The lines shown (they passed the filters), oldest first."""
        self._row_counts: deque[int] = deque()
        """Rows each entry wraps to, at :attr:`_wrap_width`."""
        self._rows: list[Row] = []
        self._wrap_width = 0
        self._follow = True
        """Keep the newest line in view (until the user scrolls up, and again at the end)."""
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(256)
        """Drawn rows by (row, width); cleared whenever the rows or the styles change."""

    @property
    def job_id(self) -> str | None:
        return self._job_id

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def min_level(self) -> str:
        return LEVELS[self._min_level]

    @property
    def lines(self) -> list[Strip]:
        """Every row as drawn (without the view's colours): what the log holds, for tests
        and screen readers."""
        return [Strip(row) for row in self._rows]

    # -- what is shown ---------------------------------------------------------------------
    async def set_job(self, job_id: str | None) -> None:
        if job_id != self._job_id:
            self._job_id = job_id
            await self.rebuild()

    async def set_filter(self, text: str) -> None:
        text = text.strip()
        if text != self._filter:
            self._filter = text
            await self.rebuild()

    async def action_cycle_level(self) -> None:
        self._min_level = (self._min_level + 1) % len(LEVELS)
        await self.rebuild()

    async def action_warnings_only(self) -> None:
        """Only warnings and errors; pressed again, every line."""
        warning = LEVELS.index("WARNING")
        self._min_level = 0 if self._min_level >= warning else warning
        await self.rebuild()

    def _accepts(self, entry: LogLine) -> bool:
        if level_rank(entry.level) < self._min_level:
            return False
        return not self._filter or self._filter.lower() in entry.message.lower()

    def append(self, entries: Iterable[LogLine], job_id: str) -> None:
        """Add console-side lines (status changes) of ``job_id`` if it is shown."""
        if job_id == self._job_id:
            self._add(entry for entry in entries if self._accepts(entry))

    async def sync(self) -> None:
        """Show the job's log lines added since the last look.

        Reads the job's own bounded log rather than bus events, so a flood of events
        (which the bus drops) can never lose a line; only when the last line shown has
        rotated out of the job's log is the whole view rebuilt.
        """
        job_id = self._job_id
        if job_id is None or self.control is None:
            return
        async with self._reading:
            page = await self._page(job_id, self._last_seq)
            if page is None or job_id != self._job_id:
                return
            if page.gap:
                self._show_all(job_id, page.lines)
                return
            new = page.lines
            if new:
                self._last_seq = new[-1].seq
                self._add(entry for entry in new[-MAX_LINES:] if self._accepts(entry))

    async def rebuild(self) -> None:
        """Show the job's own bounded log again with the current filters."""
        self._styles = self._resolve_styles()
        self.clear()
        self._update_subtitle()
        self._last_seq = None
        job_id = self._job_id
        if job_id is None or self.control is None:
            return
        async with self._reading:
            page = await self._page(job_id, None)
            if page is not None and job_id == self._job_id:
                self._show_all(job_id, page.lines)

    async def _page(self, job_id: str, after: int | None) -> LogPage | None:
        assert self.control is not None
        try:
            return await self.control.logs(job_id, after)
        except JobError:  # deleted meanwhile: the screen moves on at its next update
            return None

    def _show_all(self, job_id: str, lines: Iterable[LogLine]) -> None:
        self.clear()
        entries = list(lines)
        self._last_seq = entries[-1].seq if entries else None
        extra = list(self.extra_lines(job_id))
        if extra:
            entries = sorted(entries + extra, key=lambda entry: entry.time)
        self._add([entry for entry in entries if self._accepts(entry)][-MAX_LINES:])

    def _update_subtitle(self) -> None:
        parts = []
        if self._min_level:
            parts.append(f"≥{self.min_level}")
        if self._filter:
            parts.append(f"filter: {self._filter}")
        parts.append("level (v/w)")
        self.border_subtitle = " · ".join(parts)

    def _resolve_styles(self) -> dict[str, Style]:
        variables = self.app.theme_variables if self.is_attached else {}
        styles = {}
        for level, name in LEVEL_STYLES.items():
            try:
                styles[level] = Style.parse(variables.get(name[1:], "") or "none")
            except StyleSyntaxError:  # a theme colour Rich cannot read: plain text
                styles[level] = _PLAIN
        styles["ERROR"] += Style(bold=True)
        return styles

    # -- rows ------------------------------------------------------------------------------
    def clear(self) -> None:
        self._follow = True
        self._entries.clear()
        self._row_counts.clear()
        self._rows = []
        self._changed()

    def _add(self, entries: Iterable[LogLine]) -> None:
        """Append lines (already filtered); keeps the view at the end if it was there."""
        added = False
        for entry in entries:
            added = True
            self._entries.append(entry)
            self._append_rows(entry)
        if not added:
            return
        excess = len(self._entries) - MAX_LINES
        if excess > _PRUNE_SLACK:
            dropped = sum(self._row_counts.popleft() for _ in range(excess))
            for _ in range(excess):
                self._entries.popleft()
            del self._rows[:dropped]
        self._changed()

    def _changed(self) -> None:
        self._strips.clear()
        set_virtual_size(self, Size(self._wrap_width, len(self._rows)))
        if self._follow:  # after the refresh, where the new height puts the end
            self.scroll_end(animate=False, x_axis=False)
        self.refresh()  # the rows changed, if not their number

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._follow = new_value >= self.max_scroll_y

    def on_resize(self, event: Resize) -> None:
        """Rows are wrapped at the view's width (less its scrollbar, shown or not, so
        that a scrollbar appearing never re-wraps): wrap again at the new one."""
        width = max(self.container_size.width - self.styles.scrollbar_size_vertical, 0)
        if width and width != self._wrap_width:
            self._wrap_width = width
            self._rows = []
            self._row_counts.clear()
            for entry in self._entries:
                self._append_rows(entry)
            self._changed()

    def _append_rows(self, entry: LogLine) -> None:
        """The entry's rows at the wrap width (none before the view has a width)."""
        rows = self._wrap(entry, self._wrap_width) if self._wrap_width else []
        self._row_counts.append(len(rows))
        self._rows.extend(rows)

    def _wrap(self, entry: LogLine, width: int) -> list[Row]:
        level = entry.level.upper()
        style = self._styles.get(level, _PLAIN)
        clock, label = self._clock(entry.time), f"{level:<7}"
        message = entry.message
        text_style = style if level == "ERROR" else _PLAIN
        prefix = cell_len(clock) + cell_len(label) + 2
        if "\n" not in message and prefix + cell_len(message) <= width:
            return [
                (
                    Segment(clock, _DIM),
                    Segment(" "),
                    Segment(label, style),
                    Segment(" "),
                    Segment(message, text_style),
                )
            ]
        line = Text.assemble((clock, _DIM), " ", (label, style), " ", (message, text_style))
        console = self.app.console
        return [
            tuple(Segment(segment.text, segment.style) for segment in wrapped.render(console))
            for wrapped in line.wrap(console, width)
        ]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        base = self._base_style()
        if row >= len(self._rows):
            return Strip.blank(width, base)
        key = (row, width)
        strip = self._strips.get(key)
        if strip is None:
            segments = [
                Segment(text, base + style if style else base) for text, style, _ in self._rows[row]
            ]
            strip = Strip(segments).crop_extend(0, width, base)
            self._strips[key] = strip
        return strip.apply_offsets(scroll_x, row)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()
