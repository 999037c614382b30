"""Tables for the terminal that fit its width with nothing cut mid-number.

Rich shrinks a table that is too wide by cutting cells (``EQUI…``, ``10,0…``). Here each
column says how important it is: numbers are never cut, text columns may wrap, and when
even that does not fit, whole columns are dropped, least important first, in a known
order (:attr:`FitColumn.priority`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

Cell = str | Text
WRAPPED_MIN = 10
"""A wrapping column is never squeezed below this many cells (or its header)."""


@dataclass(frozen=True, slots=True)
class FitColumn:
    header: str
    priority: int = 0
    """0 stays longest; the highest number is dropped first when the table is too wide."""
    justify: Literal["left", "right"] = "left"
    wrap: bool = False
    """Text that may wrap onto several lines; other columns keep their widest cell."""


def _cell_width(cell: Cell) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(cell)


def _needed(columns: Sequence[FitColumn], rows: Sequence[Sequence[Cell]], keep: list[int]) -> int:
    """Cells the table needs with the columns ``keep``: full width for unwrapped ones,
    a floor for wrapped ones, plus rich's box lines and padding (3 a column, 1 more)."""
    total = 1
    for index in keep:
        column = columns[index]
        widest = max([len(column.header), *(_cell_width(row[index]) for row in rows)])
        total += 3 + (min(widest, max(WRAPPED_MIN, len(column.header))) if column.wrap else widest)
    return total


def fitted_table(
    columns: Sequence[FitColumn],
    rows: Sequence[Sequence[Cell]],
    width: int,
    *,
    title: str | None = None,
) -> tuple[Table, list[str]]:
    """The table with the columns that fit in ``width``, and the headers dropped."""
    keep = list(range(len(columns)))
    dropped: list[str] = []
    while len(keep) > 1 and _needed(columns, rows, keep) > width:
        worst = max(keep, key=lambda index: (columns[index].priority, index))
        keep.remove(worst)
        dropped.append(columns[worst].header)
    table = Table(title=title, title_justify="left")
    for index in keep:
        column = columns[index]
        if column.wrap:
            table.add_column(column.header, justify=column.justify, overflow="fold")
        else:
            table.add_column(column.header, justify=column.justify, no_wrap=True)
    for row in rows:
        table.add_row(*(row[index] for index in keep))
    return table, dropped


@dataclass(frozen=True, slots=True)
class FittedTable:
    """A renderable that fits itself to the width it is printed at (callers need not know
    the terminal's); a caption names the columns a narrow terminal left out."""

    columns: Sequence[FitColumn]
    rows: Sequence[Sequence[Cell]]
    title: str | None = None
    dropped_note: str = "narrow terminal: {} not shown"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, dropped = fitted_table(self.columns, self.rows, options.max_width, title=self.title)
        if dropped:
            table.caption = self.dropped_note.format(", ".join(dropped))
        yield table
