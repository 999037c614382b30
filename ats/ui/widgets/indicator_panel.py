"""Oscillator panels: indicators on their own scale (RSI, MACD, ATR, OBV, STD) drawn under
the candles, each with its own y axis, on the candles' time axis.

Drawn into the same frame as the candles (:mod:`ats.ui.widgets.chart`), one plotext
figure per part stacked top to bottom. The parts line up because every part gets the
same width, the same x limits and y labels padded to :data:`LABEL_WIDTH`; only the lowest
part prints the time labels. An indicator says where it belongs
(:attr:`ats.indicators.base_indicator.BaseIndicator.panel`); the read model carries it
in :class:`~ats.trading_job.views.OverlayInfo`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from textual_plotext.plot import Plot

from ats.trading_job.views import ChartWindow, OverlayInfo

RGB = tuple[int, int, int]

LABEL_WIDTH = 10
"""Columns of every part's y labels, so the parts' x positions line up."""
PANEL_SHARE = 0.34
"""At most this share of the chart's rows goes to oscillator panels..."""
PANEL_MIN_ROWS = 4
"""...each panel at least this many (3 of plot, 1 of time labels when lowest)..."""
PRICE_MIN_ROWS = 8
"""...and the candles always keep this many: a panel that does not fit is left out."""
MAX_PANELS = 3
MAX_PRICE_LINES = 4


@dataclass(slots=True)
class Series:
    """One output to draw: its label and its finite points."""

    label: str
    xs: list[int]
    ys: list[float]
    style: str = "line"


@dataclass(slots=True)
class OscillatorPanel:
    """The outputs of one oscillator indicator (MACD: macd, signal and hist)."""

    title: str
    series: list[Series] = field(default_factory=list)
    height: int = 0

    def limits(self) -> tuple[float, float]:
        values = [y for one in self.series for y in one.ys]
        if any(one.style == "bars" for one in self.series):
            values.append(0.0)
        return padded_limits(min(values), max(values))


def _finite(label: str, line: Sequence[float | None], style: str) -> Series | None:
    values = np.asarray(line, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    return Series(label, np.nonzero(finite)[0].tolist(), values[finite].tolist(), style)


def split_lines(window: ChartWindow) -> tuple[list[Series], list[OscillatorPanel]]:
    """The window's indicator outputs as lines over the candles and oscillator panels,
    as each indicator declares (an output without info goes over the candles)."""
    infos: dict[str, OverlayInfo] = {info.label: info for info in window.overlay_info}
    price: list[Series] = []
    panels: dict[str, OscillatorPanel] = {}
    for label, line in window.overlays.items():
        info = infos.get(label)
        style = info.style if info is not None else "line"
        if style == "hidden":
            continue
        series = _finite(label, line, style)
        if series is None:
            continue
        if info is not None and info.panel == "oscillator":
            panel = panels.setdefault(info.source, OscillatorPanel(info.source))
            panel.series.append(series)
        elif len(price) < MAX_PRICE_LINES:
            price.append(series)
    return price, list(panels.values())[:MAX_PANELS]


def fit_heights(height: int, panels: list[OscillatorPanel]) -> int:
    """Give the panels their rows (a bounded share); returns the rows left to the candles.
    Panels that do not fit get height 0 and are not drawn."""
    budget = min(int(height * PANEL_SHARE), height - PRICE_MIN_ROWS)
    count = min(len(panels), max(budget // PANEL_MIN_ROWS, 0))
    for panel in panels:
        panel.height = 0
    if count == 0:
        return height
    each, extra = divmod(budget, count)
    for index, panel in enumerate(panels[:count]):
        panel.height = each + (1 if index < extra else 0)
    return height - budget


def padded_limits(low: float, high: float) -> tuple[float, float]:
    if not (math.isfinite(low) and math.isfinite(high)):
        return 0.0, 1.0
    span = high - low
    pad = span * 0.05 if span > 0 else max(abs(high) * 1e-3, 1e-9)
    return low - pad, high + pad


def tick_label(value: float, span: float) -> str:
    """``value`` in at most :data:`LABEL_WIDTH` - 1 characters, right-aligned, with as
    many decimals as ``span`` (the axis range) makes meaningful."""
    magnitude = math.floor(math.log10(span)) if span > 0 else 0
    decimals = min(max(2 - magnitude, 0), 6)
    text = f"{value:,.{decimals}f}"
    if len(text) >= LABEL_WIDTH:
        text = f"{value:.3g}"
    return text.rjust(LABEL_WIDTH)


def y_ticks(low: float, high: float, rows: int) -> tuple[list[float], list[str]]:
    """A few y ticks between ``low`` and ``high`` for ``rows`` rows of plot."""
    count = 2 if rows < 5 else 3 if rows < 9 else 4
    span = high - low
    inset = span * 0.1
    ticks = np.linspace(low + inset, high - inset, count).tolist()
    return ticks, [tick_label(tick, span) for tick in ticks]


def prepare(
    plot: Plot,
    width: int,
    height: int,
    limits: tuple[float, float],
    x_max: float,
    colours: tuple[RGB, RGB],
) -> None:
    """Size, colours, limits and aligned y labels of one part (``colours``: canvas and
    foreground)."""
    canvas, foreground = colours
    plot.plotsize(width, height)
    plot._set_size(width, height)  # as in chart._plot: plotsize alone does not always take
    plot.canvas_color(canvas)
    plot.axes_color(canvas)
    plot.ticks_color(foreground)
    plot.frame(False)
    plot.ylim(*limits)
    plot.yticks(*y_ticks(*limits, height))
    plot.xlim(-0.5, x_max)


def column_points(
    xs: Iterable[int], bottoms: Iterable[float], tops: Iterable[float], step: float
) -> tuple[list[int], list[float]]:
    """Points filling each column ``x`` from ``bottom`` to ``top`` (bars, candle bodies)."""
    out_x: list[int] = []
    out_y: list[float] = []
    for x, bottom, top in zip(xs, bottoms, tops, strict=True):
        low, high = min(bottom, top), max(bottom, top)
        count = max(int((high - low) / step) + 1, 1)
        out_y.extend(np.linspace(low, high, count).tolist())
        out_x.extend([x] * count)
    return out_x, out_y


def draw_panel(plot: Plot, panel: OscillatorPanel, colours: dict[str, RGB]) -> None:
    """One oscillator: its lines, and bars from zero (up colour above, down below)."""
    low, high = panel.limits()
    step = (high - low) / max(panel.height * 4, 4)
    line = 0
    for series in panel.series:
        if series.style == "bars":
            values = np.asarray(series.ys)
            xs = np.asarray(series.xs)
            for mask, colour in ((values >= 0, colours["up"]), (values < 0, colours["down"])):
                if mask.any():
                    points = column_points(
                        xs[mask].tolist(), [0.0] * int(mask.sum()), values[mask].tolist(), step
                    )
                    plot.scatter(*points, marker="▌", color=colour)
            continue
        colour = colours[f"line{line % 4}"]
        line += 1
        plot.plot(series.xs, series.ys, color=colour, marker="braille", label=series.label)
