"""The header line: "am I OK?" at a glance.

Total equity and P&L across jobs, per quote currency; for a paper or live job, how old
its last candle is and its connection state (connected, retrying, banned until ...);
and the UTC clock. It reads only the views the screen already holds, and redraws once a
second (the clock, the candle's age) or when they change, and only if its text changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from ats.trading_job.views import JobView
from ats.ui.tcss import load_tcss
from ats.utils.ages import format_age

STREAMED_MODES = ("paper", "live")
STALE_CANDLES = 3
"""A feed whose last candle is older than this many candle lengths is flagged."""


@dataclass(frozen=True, slots=True)
class Part:
    text: str
    style: str = ""
    priority: int = 0
    """Lower stays longest when the line is too narrow for every part."""
    attached: bool = False
    """Follows the previous part after a space instead of a separator."""


def totals(views: Iterable[JobView]) -> dict[str, tuple[float, float]]:
    """Quote currency -> (equity, starting equity) summed over the jobs that know both."""
    sums: dict[str, tuple[float, float]] = {}
    for view in views:
        if view.sweep is not None:  # a sweep's figures are its best trial's, not an account
            continue
        if view.equity is None or view.initial_equity is None or not view.quote:
            continue
        equity, start = sums.get(view.quote, (0.0, 0.0))
        sums[view.quote] = (equity + view.equity, start + view.initial_equity)
    return sums


def feed_job(views: Iterable[JobView], selected: str | None) -> JobView | None:
    """The paper/live job whose feed the header reports: the selected one if it streams,
    else the running one in the worst shape (a connection problem, then the stalest)."""
    streamed = [v for v in views if v.mode in STREAMED_MODES and v.status.is_active]
    for view in streamed:
        if view.job_id == selected:
            return view
    if not streamed:
        return None
    return min(streamed, key=lambda v: (v.connection is None, v.last_candle_at or 0.0))


def header_parts(
    views: list[JobView], selected: str | None, now: float, clock: str, colours: dict[str, str]
) -> tuple[list[Part], Part]:
    """(left parts, clock part) of the header for these views at ``now``."""
    parts: list[Part] = []
    for quote, (equity, start) in sorted(totals(views).items()):
        pnl = equity - start
        pct = 100.0 * pnl / start if start else 0.0
        colour = colours["success"] if pnl > 0 else colours["error"] if pnl < 0 else ""
        parts.append(Part(f"{quote} {equity:,.2f}", "bold", 0))
        parts.append(Part(f"{pnl:+,.2f}", colour, 2, attached=True))
        parts.append(Part(f"({pct:+.2f}%)", colour, 4, attached=True))
    feed = feed_job(views, selected)
    if feed is not None:
        parts.extend(feed_parts(feed, now, colours))
    running = sum(1 for view in views if view.status.is_active)
    parts.append(Part(f"{len(views)} job{'s' * (len(views) != 1)}, {running} running", "", 3))
    return parts, Part(f"{clock} UTC", "bold", 0)


def feed_parts(view: JobView, now: float, colours: dict[str, str]) -> list[Part]:
    """``demo-replay connected (candle 2s old)``; the state (retrying, banned until ...)
    outlasts the age when the line is narrow."""
    state = view.connection or "connected"
    style = ""
    if view.connection is not None:
        style = colours["error"] if "ban" in view.connection else colours["warning"]
    if view.last_candle_at is None:
        return [Part(f"{view.name} {state}", style, 1), Part("(no candle yet)", "", 2, True)]
    seconds = now - view.last_candle_at
    length = (view.timeframe_ms or 0) / 1000
    stale = bool(length) and seconds > STALE_CANDLES * length
    age = Part(f"(candle {format_age(seconds)} old)", colours["warning"] if stale else "", 2, True)
    return [Part(f"{view.name} {state}", style, 1), age]


def fit(parts: list[Part], right: Part, width: int) -> Text:
    """Left parts separated by `` · ``, the clock flush right; the parts with the highest
    priority numbers go first when the line is too narrow."""
    kept = list(parts)

    def length(chosen: list[Part]) -> int:
        gaps = sum(1 if part.attached else 3 for part in chosen[1:])
        return sum(len(part.text) for part in chosen) + gaps

    while kept and length(kept) + len(right.text) + 2 > width:
        kept.remove(max(kept, key=lambda part: part.priority))
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(" ")
    for index, part in enumerate(kept):
        if index:
            line.append(" " if part.attached else " · ", style="dim")
        line.append(part.text, style=part.style)
    padding = max(width - line.cell_len - len(right.text) - 1, 1)
    line.append(" " * padding)
    line.append(right.text, style=right.style)
    return line


class StatusHeader(Static):
    """Call :meth:`show` with the screen's views; it keeps its clock running itself."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None, now: Callable[[], float] = time.time) -> None:
        super().__init__(id=id)
        self._views: list[JobView] = []
        self._selected: str | None = None
        self._now = now
        self._shown: tuple[object, ...] | None = None

    def on_mount(self) -> None:
        self.set_interval(1.0, self._redraw)
        # Its P&L colours are the theme's: a new theme shows at once, not at the next tick.
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._redraw())
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def show(self, views: Iterable[JobView], selected: str | None) -> None:
        self._views, self._selected = list(views), selected
        self._redraw()

    def _clock(self, now: float) -> str:
        pinned = getattr(self.app, "log_clock", None)  # tests pin the time shown
        return pinned(now) if pinned is not None else time.strftime("%H:%M:%S", time.gmtime(now))

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        now = self._now()
        variables = self.app.theme_variables
        colours = {name: variables.get(name, "") for name in ("success", "error", "warning")}
        left, right = header_parts(self._views, self._selected, now, self._clock(now), colours)
        width = self.size.width or self.app.size.width
        key = (tuple(left), right, width, self.app.theme)
        if key != self._shown:
            self._shown = key
            self.update(fit(left, right, width), layout=False)  # one line, always
