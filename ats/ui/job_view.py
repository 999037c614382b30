"""Turn the read model's views (:mod:`ats.trading_job.views`) into text for the widgets.

Nothing here reads a job: the views come from a
:class:`~ats.trading_job.control.JobControl`, whose builders make them safe (a job in a
strange state gives a view that says so). This module only formats them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ats.data.timeframes import format_timeframe
from ats.trading_job.metrics import METRIC_LABELS, shown_metrics
from ats.trading_job.views import JobView

__all__ = ["format_timeframe"]  # one timeframe formatter, shown here for the widgets


# --------------------------------------------------------------------------- formatting
def format_number(value: float | None, decimals: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:,.{decimals}f}"


def format_amount(value: float) -> str:
    """Base-currency amounts: enough digits for BTC, no noise for whole numbers."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def format_time(timestamp_ms: int, *, with_date: bool = False) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M:%S")


def format_duration(ms: float) -> str:
    seconds = int(ms // 1000)
    days, seconds = divmod(seconds, 86_400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    return f"{hours}h {minutes}m {seconds}s" if hours else f"{minutes}m {seconds}s"


def format_params(params: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


def format_speed(speed: float) -> str:
    """``20.0`` -> ``"x20"``; a speed of 0 or less means as fast as possible."""
    return f"x{speed:g}" if speed > 0 else "max"


def view_failed(what: str, error: str) -> str:
    """The marker a pane shows instead of going blank when its view failed."""
    return f"⚠ {what} failed: {error}, see log"


# --------------------------------------------------------------------------- jobs table
@dataclass(frozen=True, slots=True)
class JobRow:
    """One row of the jobs table; equal rows mean nothing to redraw."""

    job_id: str
    name: str
    strategy: str
    market: str
    mode: str
    status: str
    progress: str
    equity: str
    pnl_pct: float | None
    position: str
    error: str | None
    note: str | None = None
    """Restored from an older snapshot than its latest (see JobView.restore_note)."""
    connection: str | None = None
    """E.g. "banned until 12:03:00" while the exchange holds this job's requests back."""
    pnl: float | None = None
    """Profit or loss in quote since the start (beside the percentage)."""

    def matches(self, text: str) -> bool:
        """Case-insensitive substring filter over the textual columns."""
        needle = text.lower()
        haystack = " ".join((self.name, self.strategy, self.market, self.mode, self.status))
        return needle in haystack.lower()


def job_row(view: JobView) -> JobRow:
    """The row for a job's view."""
    if view.sweep is not None:
        from ats.ui.sweep_format import sweep_row

        return sweep_row(view)
    progress = ""
    mode = view.mode
    if view.speed is not None:
        mode = f"{mode} {format_speed(view.speed)}"
    equity_text = "—"
    position = "—"
    if view.built and view.account_error is None:
        fraction = view.progress.fraction
        if fraction is not None:
            progress = f"{100 * fraction:.0f}%"
        elif view.status.is_active:
            progress = "live"
        if view.equity is not None:
            equity_text = format_number(view.equity)
        if view.position is not None:
            amount = view.position.amount
            position = f"{format_amount(amount)} {view.base}" if amount else "flat"
    return JobRow(
        job_id=view.job_id,
        name=view.name,
        strategy=view.strategy,
        market=view.market,
        mode=mode,
        status=str(view.status),
        progress=progress,
        equity=equity_text,
        pnl_pct=view.pnl_pct,
        pnl=view.pnl,
        position=position,
        error=view.error,
        note=view.restore_note,
        connection=view.connection,
    )


def job_title(view: JobView) -> str:
    """``name · strategy fast=50 slow=200 · BTC/USDT 3s · backtest``."""
    params = format_params(view.strategy_params)
    parts = [view.name, f"{view.strategy} {params}".strip(), view.market, view.mode]
    return " · ".join(parts)


# --------------------------------------------------------------------------- account
@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: str
    side: str
    type: str
    amount: str
    price: str
    filled: str
    status: str


@dataclass(frozen=True, slots=True)
class AccountView:
    """Position, open orders and balances of one job."""

    position: str = "no position"
    mark: str = ""
    unrealized: float | None = None
    balances: tuple[tuple[str, str, str, str], ...] = ()
    orders: tuple[OrderRow, ...] = ()
    error: str | None = None
    """Shown instead of the account when it could not be read (see :func:`view_failed`)."""


def account_view(view: JobView | None) -> AccountView:
    if view is None or not view.built:
        return AccountView()
    if view.account_error is not None:
        return AccountView(error=view_failed("account", view.account_error))
    base = view.base
    position = view.position
    if position is not None and position.amount and not position.is_flat:
        text = f"{format_amount(position.amount)} {base} @ {format_number(position.entry_price)}"
        mark = f"mark {format_number(position.mark_price)}"
        unrealized: float | None = position.unrealized_pnl
    else:
        text, mark, unrealized = "flat", "", None
    if position is not None and position.dust > 0:  # what the market will not take
        text += f" · dust {format_amount(position.dust)} {base}"
    balances = tuple(
        (
            balance.asset,
            format_amount(balance.free),
            format_amount(balance.used),
            format_amount(balance.total),
        )
        for balance in view.balances
    )
    orders = tuple(
        OrderRow(
            order_id=order.order_id,
            side=order.side,
            type=order.type,
            amount=format_amount(order.amount),
            price=format_number(order.price if order.price else order.stop_price),
            filled=format_amount(order.filled),
            status=order.status,
        )
        for order in view.open_orders
    )
    return AccountView(text, mark, unrealized, balances, orders)


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True, slots=True)
class MetricsView:
    title: str
    rows: tuple[tuple[str, str, int], ...] = ()
    """(label, value, sign) where sign colours the value: 1 good, -1 bad, 0 neutral."""
    error: str | None = None


def _metric_text(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in ("start", "end") and isinstance(value, int | float):
        return format_time(int(value), with_date=True)
    if key.endswith("_ms") and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(value, float):
        return format_number(value, 4 if abs(value) < 100 else 2)
    return f"{value:,}" if isinstance(value, int) else str(value)


def metrics_view(view: JobView | None) -> MetricsView:
    """The engine's report when there is one, else a live summary that is cheap to get."""
    if view is None:
        return MetricsView("No job selected")
    error = view.error
    metrics = view.metrics
    if metrics:
        metrics = shown_metrics(metrics, view.timeframe_ms)
        rows = []
        for key, label in METRIC_LABELS.items():
            if key not in metrics:
                continue
            value = metrics[key]
            sign = 0
            if key.endswith("_pct") and isinstance(value, int | float) and value:
                sign = 1 if value > 0 else -1
            rows.append((label, _metric_text(key, value), sign))
        return MetricsView(f"Report · {view.status}", tuple(rows), error)
    row = job_row(view)
    rows = [
        ("Status", row.status, 0),
        ("Equity [quote]", row.equity, 0),
        ("P&L [quote]", format_number(view.pnl), _sign(view.pnl)),
        ("Return [%]", format_number(row.pnl_pct), _sign(row.pnl_pct)),
        *_live_rows(view),
        ("Position", row.position, 0),
        ("Progress", row.progress or "—", 0),
    ]
    if view.fill_count is not None:
        rows.append(("Fills", f"{view.fill_count:,}", 0))
    if view.speed is not None:
        rows.append(("Replay speed", format_speed(view.speed), 0))
    title = "Live summary" if view.status.is_active else "No report yet"
    return MetricsView(title, tuple(rows), error)


def _live_rows(view: JobView) -> list[tuple[str, str, int]]:
    """Realised/unrealised P&L, fees, drawdown, win rate and trades while it runs."""
    live = view.live_metrics
    if live is None:
        return []
    return [
        ("Realised P&L [quote]", format_number(live.realised_pnl), _sign(live.realised_pnl)),
        (
            "Unrealised P&L [quote]",
            format_number(live.unrealised_pnl),
            _sign(live.unrealised_pnl),
        ),
        ("Fees paid [quote]", format_number(live.fees_paid), 0),
        ("Drawdown [%]", format_number(live.drawdown_pct), _sign(live.drawdown_pct)),
        ("Max drawdown [%]", format_number(live.max_drawdown_pct), _sign(live.max_drawdown_pct)),
        ("Win rate [%]", format_number(live.win_rate_pct, 1), 0),
        ("# Trades", f"{live.trades:,}", 0),
    ]


def _sign(value: float | None) -> int:
    if not value:
        return 0
    return 1 if value > 0 else -1


# --------------------------------------------------------------------------- logs
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")


def level_rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS`; unknown levels rank as INFO."""
    try:
        return LEVELS.index(level.upper())
    except ValueError:
        return 1
