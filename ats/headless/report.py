"""Rich rendering of a job report (metrics + trades) for the terminal."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ats.headless.fitted_table import FitColumn, FittedTable
from ats.trading_job.metrics import METRIC_LABELS, shown_metrics

_SHOWN_TRADES = 10


def format_metric(value: Any, key: str) -> str:
    """A metric value as people read it (durations, times, thousands separators)."""
    if value is None:
        return "—"
    if key.endswith("_ms") and isinstance(value, int | float):
        return _duration(float(value))
    if key in ("start", "end"):
        return datetime.fromtimestamp(value / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _duration(ms: float) -> str:
    seconds = int(ms // 1000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    return f"{hours}h {minutes}m {seconds}s" if hours else f"{minutes}m {seconds}s"


def metrics_table(metrics: dict[str, Any], title: str = "Metrics") -> Table:
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    metrics = shown_metrics(metrics)
    for key, label in METRIC_LABELS.items():
        if key in metrics:
            value = metrics[key]
            style = ""
            if key.endswith("_pct") and isinstance(value, int | float) and value:
                style = "green" if value > 0 else "red"
            table.add_row(label, Text(format_metric(value, key), style=style))
    return table


def _short_time(iso: str) -> str:
    """``2022-05-12T05:18:33+00:00`` -> ``05-12 05:18:33``: trades fit in 80 columns."""
    return iso[5:19].replace("T", " ")


TRADE_COLUMNS = (
    FitColumn("entry", 0, "right"),
    FitColumn("exit", 1, "right"),
    FitColumn("amount", 4, "right"),
    FitColumn("entry price", 3, "right"),
    FitColumn("exit price", 2, "right"),
    FitColumn("fees", 5, "right"),
    FitColumn("pnl", 0, "right"),
)
"""Dropped from the right of the priorities on a narrow terminal: fees, then amount,
entry price, exit price; times and P&L stay."""


def trades_table(trades: list[dict[str, Any]], limit: int = _SHOWN_TRADES) -> FittedTable:
    shown = trades[-limit:]
    rows = []
    for trade in shown:
        pnl = trade["pnl"]
        rows.append(
            (
                _short_time(trade["entry_time"]),
                _short_time(trade["exit_time"]) if trade["exit_time"] else "open",
                f"{trade['amount']:.6f}",
                f"{trade['entry_price']:,.2f}",
                "—" if trade["exit_price"] is None else f"{trade['exit_price']:,.2f}",
                f"{trade['fees']:,.2f}",
                Text(f"{pnl:,.2f}", style="green" if pnl > 0 else "red"),
            )
        )
    return FittedTable(TRADE_COLUMNS, rows, title=f"Last {len(shown)} of {len(trades)} trades")


def render_report(report: dict[str, Any]) -> RenderableType:
    header = Text.assemble(
        (f"{report['job']}", "bold"),
        f"  {report['strategy']} {report['params']} on {report['symbol']} ({report['mode']})  ",
        ("final equity ", "dim"),
        (f"{report['final_equity']:,.2f}", "bold"),
    )
    parts: list[RenderableType] = [header]
    if report.get("metrics"):
        parts.append(metrics_table(report["metrics"]))
    if report.get("trades"):
        parts.append(trades_table(report["trades"]))
    return Group(*parts)
