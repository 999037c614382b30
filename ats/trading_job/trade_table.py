"""The columns of the trade and fill lists, shared by every front end that prints them:
the console's Trades pane and ``ats jobs show JOB --trades`` (as a table or CSV), so both
show the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from ats.trading_job.views import FillView, TradeView

Row = TradeView | FillView


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    cell: Callable[[Row, str], str]
    """The cell text of a row, given the time format."""
    numeric: bool = True


def _time(moment: int | None, fmt: str) -> str:
    if moment is None:
        return "open"
    return datetime.fromtimestamp(moment / 1000, tz=UTC).strftime(fmt)


def _number(value: float | None, decimals: int = 2, sign: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+,.{decimals}f}" if sign else f"{value:,.{decimals}f}"


def _trade(row: Row) -> TradeView:
    assert isinstance(row, TradeView)
    return row


def _fill(row: Row) -> FillView:
    assert isinstance(row, FillView)
    return row


TRADE_COLUMNS: tuple[Column, ...] = (
    Column("Entry", 0, lambda row, fmt: _time(_trade(row).entry_time, fmt), numeric=False),
    Column("Entry px", 10, lambda row, fmt: _number(_trade(row).entry_price)),
    Column("Exit", 0, lambda row, fmt: _time(_trade(row).exit_time, fmt), numeric=False),
    Column("Exit px", 10, lambda row, fmt: _number(_trade(row).exit_price)),
    Column("Amount", 9, lambda row, fmt: f"{_trade(row).amount:.6g}"),
    Column("Fees", 6, lambda row, fmt: _number(_trade(row).fees)),
    Column("P&L", 9, lambda row, fmt: _number(_trade(row).pnl, sign=True)),
    Column("P&L %", 7, lambda row, fmt: _number(_trade(row).return_pct, sign=True)),
)
FILL_COLUMNS: tuple[Column, ...] = (
    Column("Time", 0, lambda row, fmt: _time(_fill(row).timestamp, fmt), numeric=False),
    Column("Side", 4, lambda row, fmt: _fill(row).side, numeric=False),
    Column("Price", 10, lambda row, fmt: _number(_fill(row).price)),
    Column("Amount", 9, lambda row, fmt: f"{_fill(row).amount:.6g}"),
    Column("Fee", 12, lambda row, fmt: f"{_fill(row).fee:.4g} {_fill(row).fee_currency}"),
    Column("Role", 5, lambda row, fmt: "taker" if _fill(row).taker else "maker", numeric=False),
    Column("Order", 8, lambda row, fmt: _fill(row).order_id[-8:], numeric=False),
)


def time_format(newest: int | None, oldest: int | None) -> str:
    """Seconds within a day; month, day and minutes beyond."""
    if newest is None or oldest is None or newest - oldest < 86_400_000:
        return "%H:%M:%S"
    return "%m-%d %H:%M"


def csv_record(number: int, row: Row) -> dict[str, object]:
    """A row as a CSV record: its number, then the view's fields as they are, with
    times (ms) also as ISO 8601 UTC."""
    record: dict[str, object] = {"number": number}
    for name, value in asdict(row).items():
        record[name] = value
        if name.endswith("_time") or name == "timestamp":
            record[f"{name}_utc"] = _time(value, "%Y-%m-%dT%H:%M:%SZ") if value else ""
    return record


def moment(row: Row) -> int:
    """When a row happened: a trade's entry, a fill's time (ms)."""
    return row.entry_time if isinstance(row, TradeView) else row.timestamp


def widths(columns: tuple[Column, ...], fmt: str, total: int) -> list[int]:
    """Each column's width (the row number first) for ``total`` rows and time format."""
    time_width = len(datetime(2000, 12, 31, 23, 59, 59, tzinfo=UTC).strftime(fmt))
    number = len(f"{max(total, 1):,}")
    return [number] + [column.width or time_width for column in columns]


def header(columns: tuple[Column, ...]) -> Cells:
    return [("#", True)] + [(column.title, column.numeric) for column in columns]


Cells = list[tuple[str, bool]]


def cells(columns: tuple[Column, ...], number: int, row: Row | None, fmt: str) -> Cells:
    """(text, numeric) per column; ``…`` for a row not read yet."""
    if row is None:
        return [(f"{number:,}", True)] + [("…", column.numeric) for column in columns]
    return [(f"{number:,}", True)] + [(column.cell(row, fmt), column.numeric) for column in columns]


def line(cells: Cells, widths: list[int]) -> str:
    """One fixed-width line: numbers right-aligned, text left-aligned, one space apart."""
    parts = []
    for (text, numeric), width in zip(cells, widths, strict=True):
        text = text[:width]
        parts.append(text.rjust(width) if numeric else text.ljust(width))
    return " ".join(parts)
