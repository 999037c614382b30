"""Chart of the selected job: candlesticks with indicator overlays and fill markers, or
the equity curve; zoom/scroll by keys when focused.

A plotext frame costs ~20-30 ms of pure Python (figure + ANSI parsing), far too long to
run on the event loop that also handles keys. So the chart works in two steps: on the
loop, :meth:`ChartView.redraw` only asks the job control for the window it shows (a
read-model view, a few ms); a worker thread turns it into ready-made
:class:`~textual.strip.Strip` lines; the loop then swaps them in. Redraws happen on a
slow timer (``CHART_HZ``), only while visible and stale and no frame is on its way, and
repaints (focus, borders) reuse the cached lines.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rich.console import Console
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color, ColorParseError
from textual.events import Resize
from textual.markup import escape
from textual.strip import Strip
from textual.worker import get_current_worker
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from ats.exceptions import JobError
from ats.trading_job.status import JobStatus
from ats.ui.job_view import view_failed
from ats.ui.keys import CHART_KEYS, bindings
from ats.ui.tcss import load_tcss
from ats.ui.widgets import indicator_panel
from ats.ui.widgets.indicator_panel import OscillatorPanel

if TYPE_CHECKING:
    from textual.worker import Worker

    from ats.trading_job.control import JobControl

logger = logging.getLogger(__name__)

CHART_HZ = 4.0
FACTORS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
"""Zoom levels: candles aggregated into one bar."""
Y_AXIS_WIDTH = 11
"""Columns plotext uses for the price axis and frame; the rest holds one bar each."""

ChartMode = Literal["candles", "equity"]
RGB = tuple[int, int, int]


def _rgb(value: str | None, fallback: str) -> RGB:
    try:
        return Color.parse(value or fallback).rgb
    except ColorParseError:  # a theme variable that is not a colour
        return Color.parse(fallback).rgb


def _tick_format(timestamps: np.ndarray) -> str:
    span = int(timestamps[-1] - timestamps[0]) if len(timestamps) > 1 else 0
    if span > 2 * 86_400_000:
        return "%m-%d %H:%M"
    if span < 30 * 60_000:
        return "%H:%M:%S"
    return "%H:%M"


def _ticks(timestamps: np.ndarray, width: int) -> tuple[list[float], list[str]]:
    """A few evenly spaced x ticks labelled with UTC times."""
    count = len(timestamps)
    if not count:
        return [], []
    fmt = _tick_format(timestamps)
    label_width = len(datetime(2000, 12, 31, 23, 59, 59, tzinfo=UTC).strftime(fmt)) + 4
    slots = max(min(width // label_width, 8), 1)
    positions = sorted({round(i) for i in np.linspace(0, count - 1, slots + 1)[:-1]})
    labels = [
        datetime.fromtimestamp(int(timestamps[i]) / 1000, tz=UTC).strftime(fmt) for i in positions
    ]
    return [float(position) for position in positions], labels


@dataclass(slots=True)
class ChartSpec:
    """Everything a frame needs, as plain data, so it can be drawn off the event loop."""

    width: int
    height: int
    canvas: RGB
    foreground: RGB
    colours: dict[str, RGB]
    mode: ChartMode = "candles"
    open: list[float] = field(default_factory=list)
    high: list[float] = field(default_factory=list)
    low: list[float] = field(default_factory=list)
    close: list[float] = field(default_factory=list)
    overlays: list[tuple[str, list[int], list[float]]] = field(default_factory=list)
    buys: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))
    sells: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))
    equity: list[float] = field(default_factory=list)
    baseline: float | None = None
    ticks: tuple[list[float], list[str]] = field(default_factory=lambda: ([], []))
    x_max: float = 0.0
    panels: list[OscillatorPanel] = field(default_factory=list)
    """Oscillator panels under the candles (those with a height are drawn)."""
    price_height: int = 0
    """Rows of the candles when panels take the rest (0: the whole height)."""

    def price_limits(self) -> tuple[float, float]:
        """The candles' y range, with the lines and markers drawn over them."""
        lows = [min(self.low), *(min(ys) for _label, _xs, ys in self.overlays)]
        highs = [max(self.high), *(max(ys) for _label, _xs, ys in self.overlays)]
        for _xs, prices in (self.buys, self.sells):
            if prices:
                lows.append(min(prices))
                highs.append(max(prices))
        return indicator_panel.padded_limits(min(lows), max(highs))


def _candle_points(
    mask: np.ndarray, bottom: np.ndarray, top: np.ndarray, step: float
) -> tuple[list[int], list[float]]:
    """Points filling each selected bar's column from ``bottom`` to ``top``."""
    chosen = np.nonzero(mask)[0]
    return indicator_panel.column_points(
        chosen.tolist(), bottom[chosen].tolist(), top[chosen].tolist(), step
    )


def draw_candles(plot: Plot, spec: ChartSpec) -> None:
    """Candles drawn with plotext's scatter (4 calls), ~2x faster than ``candlestick``
    (3 ``draw`` calls per candle) and the same picture: wicks, then bodies over them."""
    opens, closes = np.asarray(spec.open), np.asarray(spec.close)
    highs, lows = np.asarray(spec.high), np.asarray(spec.low)
    span = float(highs.max() - lows.min()) or max(float(highs.max()) * 1e-6, 1e-9)
    step = span / max((spec.price_height or spec.height) * 2, 4)
    rising = closes >= opens
    bodies = (np.minimum(opens, closes), np.maximum(opens, closes))
    for mask, colour in ((rising, spec.colours["up"]), (~rising, spec.colours["down"])):
        if mask.any():
            plot.scatter(*_candle_points(mask, lows, highs, step), marker="│", color=colour)
            plot.scatter(*_candle_points(mask, *bodies, step), marker="█", color=colour)
    for index, (label, xs, values) in enumerate(spec.overlays):
        plot.plot(xs, values, color=spec.colours[f"line{index}"], marker="braille", label=label)
    if spec.buys[0]:
        plot.scatter(*spec.buys, marker="▲", color=spec.colours["buy"], label="buy")
    if spec.sells[0]:
        plot.scatter(*spec.sells, marker="▼", color=spec.colours["sell"], label="sell")
    plot.xlim(-0.5, spec.x_max)


_FIGURE_LOCK = threading.Lock()
_figure: Plot | None = None


def _reused_figure() -> Plot:
    """The one plotext figure, cleared (call it holding ``_FIGURE_LOCK``). A plotext
    figure refers to itself, so a new one per frame left its whole character matrix
    (~200 KB) as cyclic garbage for the full GC the console keeps rare (app.py)."""
    global _figure
    if _figure is None:
        _figure = Plot()
    else:
        _figure.clear_figure()
    return _figure


def build_lines(spec: ChartSpec) -> list[Strip]:
    """Draw ``spec`` with plotext and cut it into strips. Safe in worker threads."""
    with _FIGURE_LOCK:
        text = Text.from_ansi(_plot(_reused_figure(), spec))
    console = Console(
        width=spec.width,
        height=spec.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    options = console.options.update(width=spec.width, height=spec.height)
    return [
        Strip(line, spec.width).simplify() for line in console.render_lines(text, options, pad=True)
    ]


def _plot(plot: Plot, spec: ChartSpec) -> str:
    plot.plotsize(spec.width, spec.height)
    plot._set_size(spec.width, spec.height)  # as PlotextPlot.render does: plotsize alone
    # does not always take (textual-plotext issue #5)
    plot.canvas_color(spec.canvas)
    plot.axes_color(spec.canvas)
    plot.ticks_color(spec.foreground)
    if spec.mode == "candles" and any(panel.height for panel in spec.panels):
        return _plot_with_panels(plot, spec)
    if spec.mode == "equity":
        xs = list(range(len(spec.equity)))
        plot.plot(xs, spec.equity, color=spec.colours["line0"], marker="braille", label="equity")
        if spec.baseline:
            plot.hline(spec.baseline, color=spec.colours["line3"])
    else:
        draw_candles(plot, spec)
    if spec.ticks[0]:
        plot.xticks(*spec.ticks)
    return str(plot.build())


def _plot_with_panels(plot: Plot, spec: ChartSpec) -> str:
    """Candles on top without time labels, then each oscillator panel; the lowest part
    prints the shared time axis."""
    colours = (spec.canvas, spec.foreground)
    indicator_panel.prepare(
        plot, spec.width, spec.price_height, spec.price_limits(), spec.x_max, colours
    )
    draw_candles(plot, spec)
    plot.xticks([])
    parts = [str(plot.build()).rstrip("\n")]
    shown = [panel for panel in spec.panels if panel.height]
    for index, panel in enumerate(shown):
        plot.clear_figure()
        indicator_panel.prepare(plot, spec.width, panel.height, panel.limits(), spec.x_max, colours)
        indicator_panel.draw_panel(plot, panel, spec.colours)
        if index == len(shown) - 1 and spec.ticks[0]:
            plot.xticks(*spec.ticks)
        else:
            plot.xticks([])
        parts.append(str(plot.build()).rstrip("\n"))
    return "\n".join(parts)


class ChartView(PlotextPlot, can_focus=True):
    """Set the job with :meth:`set_job`; call :meth:`mark_stale` when it has new data."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = bindings(CHART_KEYS)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = "Chart (c)"
        self.control: JobControl | None = None
        """Where the chart's windows come from (set by the screen)."""
        self._job_id: str | None = None
        self.mode: ChartMode = "candles"
        self._zoom = 0
        self._offset = 0
        self._around: int | None = None
        """A time (ms) the next frame centres on (a trade picked in the Trades pane)."""
        self._stale = True
        self._generation = 0
        self._message = "No job selected"
        self._lines: list[Strip] = []
        self._lines_key: tuple[Any, ...] | None = None
        self._plotted = False
        self._gathering: Worker[None] | None = None
        self._plotting: Worker[None] | None = None
        self.redraws = 0
        self.frames = 0
        """Frames drawn by the worker (tests wait on it)."""

    # -- attributes down -------------------------------------------------------------------
    @property
    def job_id(self) -> str | None:
        return self._job_id

    @property
    def factor(self) -> int:
        return FACTORS[self._zoom]

    @property
    def bars_back(self) -> int:
        """How many bars the view is scrolled back from the latest one."""
        return self._offset

    @property
    def message(self) -> str | None:
        """Why there is no plot (no job, no data, an error), or None when plotted."""
        return None if self._plotted else self._message

    def set_job(self, job_id: str | None) -> None:
        if job_id != self._job_id:
            self._job_id = job_id
            self._offset = 0
            self.redraw()

    def set_mode(self, mode: ChartMode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.redraw()

    def mark_stale(self) -> None:
        self._stale = True

    def show_time(self, moment: int) -> None:
        """Scroll to the bars around ``moment`` (ms), e.g. a trade's entry."""
        self._around = moment
        if self.mode != "candles":
            self.mode = "candles"
        self.redraw()

    # -- keys ------------------------------------------------------------------------------
    def action_zoom(self, step: int) -> None:
        self._zoom = min(max(self._zoom + step, 0), len(FACTORS) - 1)
        self.redraw()

    def action_scroll(self, direction: int) -> None:
        """The window the control answers is clamped at the first candle (its offset
        is taken back), so scrolling back stops there."""
        step = max(self._bars() // 4, 1)
        self._offset = max(self._offset + direction * step, 0)
        self.redraw()

    def action_live(self) -> None:
        self._offset = 0
        self.redraw()

    # -- drawing ---------------------------------------------------------------------------
    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(1.0 / CHART_HZ, self._tick)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())

    def on_resize(self, event: Resize) -> None:
        if self._lines_key is not None and self._lines_key[:2] != tuple(event.size):
            self.redraw()  # a frame of the old size would leave a gap until the next tick

    @property
    def drawing(self) -> bool:
        """A frame is on its way: its window being gathered, or plotted in a thread."""
        return any(
            worker is not None and not worker.is_finished
            for worker in (self._gathering, self._plotting)
        )

    def _tick(self) -> None:
        # Never over a frame still on its way: a running or paused job is stale on every
        # tick (its progress comes every 0.2 s), and on a loaded machine a frame can take
        # longer than a tick; each new frame dropped the one before and the chart never
        # showed (tests/integration/ui/test_ui_chart_pacing.py).
        if self._stale and self.display and self.size.width > 0 and not self.drawing:
            self.redraw()

    def _bars(self) -> int:
        return max(self.size.width - Y_AXIS_WIDTH, 10)

    def _colours(self) -> dict[str, RGB]:
        variables = self.app.theme_variables
        return {
            "up": _rgb(variables.get("ats-up"), variables.get("success") or "#2ec27e"),
            "down": _rgb(variables.get("ats-down"), variables.get("error") or "#f0506e"),
            "buy": _rgb(variables.get("ats-buy"), variables.get("accent") or "#5ce1ff"),
            "sell": _rgb(variables.get("ats-sell"), variables.get("warning") or "#ffb454"),
            "line0": _rgb(variables.get("primary"), "#3d9df3"),
            "line1": _rgb(variables.get("secondary"), "#8b7cf6"),
            "line2": _rgb(variables.get("accent"), "#f5a623"),
            "line3": _rgb(variables.get("foreground"), "#d7dde8"),
        }

    def redraw(self) -> None:
        """Ask for the job's current window (bounded, a few ms) and draw it off the loop."""
        self._stale = False
        if not self.is_mounted:
            return
        self.redraws += 1
        self._generation += 1
        self._update_subtitle()
        width, height = self.size
        if width < 12 or height < 5:
            self._stale = True  # hidden (a narrow layout shows another panel): draw when shown
            return
        frame: Callable[[], Coroutine[None, None, None]] = partial(  # a coroutine only if run
            self._frame, width, height, self._generation
        )
        self._gathering = self.run_worker(
            frame,
            exclusive=True,
            group="chart-gather",
            exit_on_error=False,
        )

    async def _frame(self, width: int, height: int, generation: int) -> None:
        """Gather on the loop (the control answers at once in process), then plot."""
        try:
            spec = await self._gather(width, height)
        except JobError:  # deleted meanwhile: the screen selects another job
            spec = None
            self._message = "No job selected"
        if generation != self._generation:
            return  # a newer frame is on its way
        if spec is None:
            self._plotted = False
            self._lines_key = None
            self.refresh()
            return
        self._plotting = self.run_worker(
            lambda: self._draw(spec, generation),
            thread=True,
            exclusive=True,
            group="chart",
            exit_on_error=False,
        )

    def _draw(self, spec: ChartSpec, generation: int) -> None:
        """Worker thread: plotext + ANSI parsing, then hand the lines to the loop."""
        try:
            lines = build_lines(spec)
        except Exception as exc:  # plotext on data it does not expect: say so, keep going
            logger.warning("job %s: drawing the chart failed", self._job_id, exc_info=exc)
            message = view_failed("chart", f"{type(exc).__name__}: {exc}")
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.app.call_from_thread(self._failed, generation, message)
            return
        if not get_current_worker().is_cancelled:
            with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                self.app.call_from_thread(self._install, generation, spec, lines)

    def _install(self, generation: int, spec: ChartSpec, lines: list[Strip]) -> None:
        if generation != self._generation:
            return  # a newer frame is on its way
        self._plotted = True
        self._lines = lines
        self._lines_key = (spec.width, spec.height, generation)
        self.frames += 1
        self.refresh()

    def _failed(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._plotted = False
            self._message = message
            self._lines_key = None
            self.refresh()

    def _update_subtitle(self) -> None:
        if self.mode == "equity":
            subtitle = "equity (g)"
        else:
            back = f" · {self._offset} bars back (end)" if self._offset else ""
            subtitle = escape(f"{self.factor}/bar ([ ]){back} · candles (g)")
        if subtitle != self.border_subtitle:
            self.border_subtitle = subtitle

    async def _gather(self, width: int, height: int) -> ChartSpec | None:
        """Plain data for the next frame, or None (and a message) when there is none."""
        variables = self.app.theme_variables
        spec = ChartSpec(
            width=width,
            height=height,
            canvas=_rgb(variables.get("surface"), "#11161d"),
            foreground=_rgb(variables.get("foreground"), "#d7dde8"),
            colours=self._colours(),
            mode=self.mode,
        )
        job_id, control = self._job_id, self.control
        if job_id is None or control is None:
            self._message = "No job selected"
            return None
        if self.mode == "equity":
            curve = await control.equity_curve(job_id, max(width * 2, 20))
            if not len(curve):
                self._message = (
                    view_failed("equity curve", curve.error)
                    if curve.error
                    else await self._nothing_yet(control, job_id, "No equity yet")
                )
                return None
            spec.equity = list(curve.equity)
            spec.baseline = curve.initial_equity
            spec.ticks = _ticks(np.asarray(curve.timestamps, dtype=np.int64), width)
            return spec
        around, self._around = self._around, None
        window = await control.chart_window(
            job_id, self._bars(), self.factor, self._offset, around=around
        )
        if window.offset != self._offset:
            self._offset = window.offset  # centred on a trade, or clamped at the start
            self._update_subtitle()
        if not len(window):
            self._message = (
                view_failed("chart", window.error)
                if window.error
                else await self._nothing_yet(control, job_id, "No candles yet")
            )
            return None
        spec.open = list(window.open)
        spec.high = list(window.high)
        spec.low = list(window.low)
        spec.close = list(window.close)
        lines, spec.panels = indicator_panel.split_lines(window)
        spec.overlays = [(line.label, line.xs, line.ys) for line in lines]
        spec.price_height = indicator_panel.fit_heights(height, spec.panels)
        spec.buys = (list(window.buys[0]), list(window.buys[1]))
        spec.sells = (list(window.sells[0]), list(window.sells[1]))
        spec.ticks = _ticks(np.asarray(window.timestamps, dtype=np.int64), width)
        spec.x_max = max(self._bars() - 0.5, len(window) - 0.5)
        return spec

    @staticmethod
    async def _nothing_yet(control: JobControl, job_id: str, what: str) -> str:
        """What to say about an empty chart: the key that helps depends on the status (a
        paused job is resumed with p; s would stop it)."""
        status = (await control.job(job_id)).status
        if status is JobStatus.PAUSED:
            return f"{what} — paused, press p to resume"
        if status.is_active:
            return f"{what} — waiting for the first candle"
        return f"{what} — press s to start"

    # -- rendering -------------------------------------------------------------------------
    def render(self) -> RenderResult:
        return Text(self._message, justify="center", style="dim")

    def render_line(self, y: int) -> Strip:
        """Lines of the last frame; repaints (focus, borders) reuse them as they are."""
        width, height = self.size
        if not self._plotted or self._lines_key is None:
            return super().render_line(y)
        if self._lines_key[:2] != (width, height):
            self._stale = True  # resized: keep the old lines until the new frame lands
        if y < len(self._lines):
            return self._lines[y].crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)
