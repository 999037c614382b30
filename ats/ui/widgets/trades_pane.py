"""Trades pane: every round trip (or fill) of the selected job, newest first.

A job can have tens of thousands of trades, so the pane never holds them all: it is a
line-API scroll view whose virtual height is the trade count, and the lines on screen
come from pages of :data:`PAGE_SIZE` asked for through
:meth:`~ats.trading_job.control.JobControl.trades` (or ``fills``) as they scroll into
view; at most :data:`MAX_PAGES` pages are kept. Drawing a line formats one row; a key
never waits for more than one page (bench/ui_latency.py, the 50,000-trade job).

Enter on a trade posts :class:`TradesPane.TradePicked`: the screen moves the chart to it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from rich.segment import Segment
from rich.style import Style
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ats.exceptions import JobError
from ats.trading_job import trade_table
from ats.trading_job.trade_table import (
    FILL_COLUMNS,
    TRADE_COLUMNS,
    Column,
    Row,
    moment,
    time_format,
)
from ats.trading_job.views import FillPage, TradePage, TradeView
from ats.ui.keys import TRADES_KEYS, bindings
from ats.ui.tcss import load_tcss
from ats.ui.widgets.virtual_size import set_virtual_size

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

logger = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_PAGES = 8
"""Pages kept (LRU): scrolling back and forth does not ask again."""
TRADES_HZ = 4.0
"""How often a visible, stale pane asks for its first page again (new trades)."""

PaneMode = Literal["trades", "fills"]


class TradesPane(ScrollView, can_focus=True):
    """Set the job with :meth:`set_job`; call :meth:`mark_stale` when it has new fills."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = bindings(TRADES_KEYS)

    class TradePicked(Message):
        """Enter on a trade: show it on the chart."""

        def __init__(self, job_id: str, moment: int) -> None:
            super().__init__()
            self.job_id = job_id
            self.moment = moment

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Trades (h)"
        self.control: JobControl | None = None
        self.job_id: str | None = None
        self.mode: PaneMode = "trades"
        self.total = 0
        self.cursor = 0
        """Row under the cursor (0 = the newest)."""
        self._pages: OrderedDict[int, Sequence[Row]] = OrderedDict()
        self._pending: set[int] = set()
        self._generation = 0
        self._stale = True
        self._format = "%H:%M:%S"
        self.fetches = 0
        """Pages asked for (tests and the latency bench read it)."""
        self._style_key: tuple[str, bool] | None = None
        self._style = Style()

    # -- attributes down -------------------------------------------------------------------
    @property
    def columns(self) -> tuple[Column, ...]:
        return TRADE_COLUMNS if self.mode == "trades" else FILL_COLUMNS

    def set_job(self, job_id: str | None) -> None:
        if job_id != self.job_id:
            self.job_id = job_id
            self.cursor = 0
            self.scroll_to(y=0, animate=False)
            self._reset(0)
            if job_id is not None:  # even while hidden: h then shows it in one frame
                self._request(0)

    def mark_stale(self) -> None:
        self._stale = True

    def _reset(self, total: int) -> None:
        """Forget every page (the job, the mode or the count changed)."""
        self._generation += 1
        self._pages.clear()
        self._pending.clear()
        self.total = total
        set_virtual_size(self, Size(self._line_width(), total + 1))
        self._update_subtitle()
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(1.0 / TRADES_HZ, self._tick)

    def on_show(self) -> None:
        self._tick()  # shown (h): read the first page now, not at the next tick

    def _tick(self) -> None:
        if self._stale and self.display and self.job_id is not None:
            self._stale = False
            self._request(0)

    # -- pages -----------------------------------------------------------------------------
    def _request(self, page: int) -> None:
        if page in self._pending:
            return
        self._pending.add(page)
        self.call_later(self._fetch, page, self._generation)

    async def _fetch(self, page: int, generation: int) -> None:
        control, job_id = self.control, self.job_id
        if control is None or job_id is None or generation != self._generation:
            self._pending.discard(page)
            return
        self.fetches += 1
        answer: TradePage | FillPage
        try:
            if self.mode == "trades":
                answer = await control.trades(job_id, page * PAGE_SIZE, PAGE_SIZE)
            else:
                answer = await control.fills(job_id, page * PAGE_SIZE, PAGE_SIZE)
        except JobError:  # deleted meanwhile: the screen selects another job
            return
        finally:
            self._pending.discard(page)
        if generation != self._generation:
            return
        rows = answer.trades if isinstance(answer, TradePage) else answer.fills
        if answer.total != self.total:
            added = answer.total - self.total
            if self.cursor and added > 0:  # keep the cursor on the same trade
                self.cursor += added
            self._reset(answer.total)
            self._scroll_to_cursor()
            if page != 0:
                return  # its rows moved: drawing asks for the pages it needs
            if answer.total > PAGE_SIZE:
                self._request((answer.total - 1) // PAGE_SIZE)  # the oldest: time format
        self._keep(page, rows)
        self.refresh()

    def _keep(self, page: int, rows: Sequence[Row]) -> None:
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        self._update_format()

    def _update_format(self) -> None:
        newest = self._row(0, fetch=False)
        oldest = self._row(self.total - 1, fetch=False)
        newest_time = moment(newest) if newest is not None else None
        oldest_time = moment(oldest) if oldest is not None else newest_time
        fmt = time_format(newest_time, oldest_time)
        if fmt != self._format:
            self._format = fmt
            set_virtual_size(self, Size(self._line_width(), self.total + 1))
            self.refresh()

    def _row(self, index: int, *, fetch: bool = True) -> Row | None:
        if not 0 <= index < self.total:
            return None
        page, at = divmod(index, PAGE_SIZE)
        rows = self._pages.get(page)
        if rows is None:
            if fetch:
                self._request(page)
            return None
        return rows[at] if at < len(rows) else None

    @property
    def selected(self) -> Row | None:
        return self._row(self.cursor, fetch=False)

    # -- keys ------------------------------------------------------------------------------
    def action_move(self, rows: int) -> None:
        self._move_to(self.cursor + rows)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(self.total - 1)

    def _move_to(self, row: int) -> None:
        row = min(max(row, 0), max(self.total - 1, 0))
        if row != self.cursor:
            self.refresh_line(self.cursor + 1)  # virtual y: the header is line 0
            self.cursor = row
            self._scroll_to_cursor()
            self.refresh_line(self.cursor + 1)  # virtual y: the header is line 0

    def _scroll_to_cursor(self) -> None:
        visible = max(self.size.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + visible:
            self.scroll_to(y=self.cursor - visible + 1, animate=False, immediate=True)

    def action_toggle_fills(self) -> None:
        self.mode = "fills" if self.mode == "trades" else "trades"
        self.border_title = "Trades (h)" if self.mode == "trades" else "Fills (h)"
        self.cursor = 0
        self.scroll_to(y=0, animate=False)
        self._reset(0)
        self._stale = True
        self._tick()

    def action_pick(self) -> None:
        row = self.selected
        if row is None or self.job_id is None:
            return
        self.post_message(self.TradePicked(self.job_id, moment(row)))

    # -- drawing ---------------------------------------------------------------------------
    def _widths(self) -> list[int]:
        return trade_table.widths(self.columns, self._format, self.total)

    def _line_width(self) -> int:
        return sum(self._widths()) + len(self.columns)

    def _update_subtitle(self) -> None:
        what = "trades" if self.mode == "trades" else "fills"
        other = "fills" if self.mode == "trades" else "trades"
        self.border_subtitle = f"{self.total:,} {what} · enter: chart · f: {other}"

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._base_style()
        if y == 0:
            text = trade_table.line(trade_table.header(self.columns), self._widths())
            segments = [Segment(text, base + Style(bold=True))]
        else:
            index = int(self.scroll_offset.y) + y - 1
            if index >= self.total:
                if self.total == 0 and y == 1:
                    empty = "No trades yet" if self.mode == "trades" else "No fills yet"
                    return Strip([Segment(empty, base + Style(dim=True))]).extend_cell_length(
                        width, base
                    )
                return Strip.blank(width, base)
            row = self._row(index)
            style = base + self._row_style(row)
            if index == self.cursor and self.has_focus:
                style += Style(reverse=True)
            cells = trade_table.cells(self.columns, self.total - index, row, self._format)
            segments = [Segment(trade_table.line(cells, self._widths()), style)]
        scroll_x = int(self.scroll_offset.x)
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base)

    def _row_style(self, row: Row | None) -> Style:
        variables = self.app.theme_variables
        if isinstance(row, TradeView):
            if row.exit_time is None:
                return Style(italic=True)
            colour = variables.get("success") if row.pnl >= 0 else variables.get("error")
            return Style.parse(colour) if colour else Style()
        return Style()

    def on_click(self, event: Click) -> None:
        """A click on a trade selects it and shows it on the chart."""
        if event.y >= 1:
            self._move_to(int(self.scroll_offset.y) + event.y - 1)
            self.action_pick()

    def _base_style(self) -> Style:
        """The widget's Rich style, computed once per theme and focus: Textual walks the
        DOM for it on every call (a quarter of a millisecond a line, bench/ui_latency.py)."""
        key = (self.app.theme, self.has_focus)
        if self._style_key != key:
            self._style_key, self._style = key, self.rich_style
        return self._style

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
