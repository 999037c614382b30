"""The objective of a sweep over two of its params, as coloured cells in the terminal.

Each cell is the best objective of the trials with that pair of values (over every other
param), from red (worst) through yellow to green (best); ★ marks the best cell and ·
a pair no trial has ranked yet. More values than fit (a 90-value range at 80 columns)
are grouped into neighbouring bins, each showing the best of its group, so the map always
fits its pane.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from ats.trading_job.sweep_views import SweepHeatmap
from ats.ui.sweep_format import format_value
from ats.ui.tcss import load_tcss

MAX_CELL_WIDTH = 5
MIN_CELL_WIDTH = 2
MAX_LABEL_WIDTH = 7
MAX_ROW_HEIGHT = 3
"""Rows of the terminal a value may take when there is room (cells closer to square)."""
_WORST = (200, 40, 40)
_MIDDLE = (220, 200, 40)
_BEST = (40, 180, 70)


def bins(count: int, room: int) -> list[range]:
    """``count`` values in at most ``room`` consecutive groups, as even as can be."""
    groups = max(min(count, room), 1)
    edges = [round(index * count / groups) for index in range(groups + 1)]
    return [range(edges[index], edges[index + 1]) for index in range(groups)]


def ramp(fraction: float) -> Color:
    """0 → red (worst), 0.5 → yellow, 1 → green (best)."""
    fraction = min(max(fraction, 0.0), 1.0)
    low, high, t = (
        (_WORST, _MIDDLE, fraction * 2) if fraction < 0.5 else (_MIDDLE, _BEST, fraction * 2 - 1)
    )
    red, green, blue = (round(a + (b - a) * t) for a, b in zip(low, high, strict=True))
    return Color.from_rgb(red, green, blue)


def _label(values: Sequence[Any], group: range, width: int) -> str:
    first = format_value(values[group.start])
    if len(group) > 1:
        first = f"{first}…"
    return first[:width]


class SweepHeatmapView(Widget):
    """Show a :class:`SweepHeatmap` with :meth:`show`; it redraws to fit its size."""

    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.heatmap: SweepHeatmap | None = None

    def show(self, heatmap: SweepHeatmap | None) -> None:
        if heatmap != self.heatmap:
            self.heatmap = heatmap
            self.refresh()

    def render(self) -> Text:
        heatmap = self.heatmap
        if heatmap is None:
            return Text("Loading…", style="dim")
        if heatmap.error:
            return Text(f"⚠ heatmap: {heatmap.error}", style="bold")
        return self._render_map(heatmap, self.size.width, self.size.height)

    def _render_map(self, heatmap: SweepHeatmap, width: int, height: int) -> Text:
        maximize = heatmap.direction == "maximize"
        defined = [value for row in heatmap.cells for value in row if value is not None]
        low, high = (min(defined), max(defined)) if defined else (0.0, 0.0)
        best_of = max if maximize else min
        label_width = min(
            max((len(format_value(value)) for value in heatmap.y_values), default=1),
            MAX_LABEL_WIDTH,
        )
        room_x = max((width - label_width - 1) // MIN_CELL_WIDTH, 1)
        columns = bins(len(heatmap.x_values), room_x)
        cell = max(min((width - label_width - 1) // len(columns), MAX_CELL_WIDTH), 1)
        rows = bins(len(heatmap.y_values), max(height - 3, 1))
        row_height = max(min((height - 3) // len(rows), MAX_ROW_HEIGHT), 1)
        text = Text(no_wrap=True, overflow="crop")
        axis = f" ↓{heatmap.y}" if heatmap.y else ""
        title = f"{heatmap.objective} ({'max' if maximize else 'min'}) · →{heatmap.x}{axis}"
        text.append(title)
        text.append("  x/y: axes\n" if len(title) + 11 <= width else "\n", style="dim")
        best_row, best_column = heatmap.best if heatmap.best is not None else (-1, -1)
        for row_group, band in (
            (row_group, band)
            for row_group in reversed(rows)  # largest y on top, like a chart
            for band in range(row_height)
        ):
            middle = band == row_height // 2
            label = _label(heatmap.y_values, row_group, label_width) if heatmap.y else ""
            label = label if middle else ""
            text.append(label.rjust(label_width) + " ", style="dim")
            for column_group in columns:
                values = [
                    value
                    for row in row_group
                    for column in column_group
                    if (value := heatmap.cells[row][column]) is not None
                ]
                is_best = best_row in row_group and best_column in column_group
                mark = ("★" if is_best and middle else "").center(cell)
                if not values:
                    text.append(("·" if middle else "").center(cell), style="dim")
                    continue
                value = best_of(values)
                fraction = 0.5 if high == low else (value - low) / (high - low)
                colour = ramp(fraction if maximize else 1 - fraction)
                text.append(mark, style=Style(bgcolor=colour, color="black", bold=True))
            text.append("\n")
        text.append(" " * (label_width + 1))
        line = ""
        for index, column_group in enumerate(columns):
            label = _label(heatmap.x_values, column_group, max(cell * 3, 4))
            position = index * cell + max((cell - len(label)) // 2, 0)  # under its cells
            if position < len(line):
                continue
            line = line.ljust(position) + label + " "
        text.append(line.rstrip() + "\n", style="dim")
        if defined:
            text.append(f"worst {format_value(low if maximize else high)} ", style="dim")
            for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
                text.append(" ", style=Style(bgcolor=ramp(fraction)))
            text.append(f" best {format_value(high if maximize else low)}", style="dim")
        else:
            text.append("no trial ranked yet", style="dim")
        return text
