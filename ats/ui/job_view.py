"""Turn a TradingJob into plain view data for the widgets.

This is the only UI module that reads a job's exchange, and only through the read-only
views (`get_balances`, `get_position`, `get_open_orders`, `progress`, `equity`,
`chart_window`, `equity_curve`). Every function here is defensive: a job in a strange
state (not built, data not loaded, an engine bug) gives an empty view, never an
exception that could reach the console.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ats.exchanges.data_classes import split_symbol
from ats.trading_job.metrics import METRIC_LABELS
from ats.trading_job.trading_job import JobStatus, TradingJob

MAX_CHART_CANDLES = 20_000
"""Upper bound of candles fetched for one chart frame, whatever the zoom/scroll."""


# --------------------------------------------------------------------------- formatting
def format_timeframe(ms: int | None) -> str:
    """``3000`` -> ``"3s"``, ``3_600_000`` -> ``"1h"``; empty when unknown."""
    if not ms or ms <= 0:
        return ""
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"


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
    """Restored from an older snapshot than its latest (see TradingJob.restore_note)."""
    connection: str | None = None
    """E.g. "banned until 12:03:00" while the exchange holds this job's requests back."""

    def matches(self, text: str) -> bool:
        """Case-insensitive substring filter over the textual columns."""
        needle = text.lower()
        haystack = " ".join((self.name, self.strategy, self.market, self.mode, self.status))
        return needle in haystack.lower()


def _quote_base(job: TradingJob) -> tuple[str, str]:
    try:
        return split_symbol(job.config.symbol)
    except ValueError:
        return job.config.symbol, ""


def timeframe_of(job: TradingJob) -> str:
    """The candle size once known: the exchange learns it when its data is loaded."""
    exchange = job.exchange
    if exchange is not None and "timeframe_ms" in vars(exchange):
        return format_timeframe(int(vars(exchange)["timeframe_ms"]))
    configured = job.config.exchange.params.get("timeframe")
    return str(configured) if configured else ""


def initial_equity(job: TradingJob) -> float | None:
    """Starting account value in quote: quote cash plus base holdings at the first price."""
    base, quote = _quote_base(job)
    balances = job.config.balances
    total = float(balances.get(quote, 0.0))
    held = float(balances.get(base, 0.0))
    if held:
        price = _first_price(job)
        if price is None:
            return None
        total += held * price
    return total or None


def _first_price(job: TradingJob) -> float | None:
    exchange = job.exchange
    if exchange is None:
        return None
    data = getattr(exchange, "data", None)
    if data is not None and len(data):
        return float(data.close[0])
    return exchange.last_price(job.config.symbol)


def equity_of(job: TradingJob) -> float | None:
    exchange = job.exchange
    if exchange is None:
        return None
    try:
        return float(exchange.equity())
    except Exception:
        return None


def format_speed(speed: float) -> str:
    """``20.0`` -> ``"x20"``; a speed of 0 or less means as fast as possible."""
    return f"x{speed:g}" if speed > 0 else "max"


def replay_speed(job: TradingJob) -> float | None:
    """Replay speed factor of a paced replay job, None for anything else."""
    speed = getattr(job.exchange, "speed", None)
    if isinstance(speed, int | float):
        return float(speed)
    params = job.config.exchange.params
    if job.config.exchange.name == "paper" and params.get("feed", "replay") == "replay":
        try:
            return float(params.get("speed", 1.0))
        except (TypeError, ValueError):
            return None
    return None


def job_row(job: TradingJob) -> JobRow:
    """The row for ``job``; falls back to config-only data if the exchange misbehaves."""
    base, _quote = _quote_base(job)
    strategy = job.config.strategy.name
    market = " ".join(part for part in (job.config.symbol, timeframe_of(job)) if part)
    progress = ""
    mode = job.mode
    speed = replay_speed(job)
    if speed is not None:
        mode = f"{mode} {format_speed(speed)}"
    equity_text = "—"
    pnl: float | None = None
    position = "—"
    connection: str | None = None
    exchange = job.exchange
    if exchange is not None:
        try:
            connection = exchange.connection_state
            fraction = exchange.progress.fraction
            if fraction is not None:
                progress = f"{100 * fraction:.0f}%"
            elif job.status.is_active:
                progress = "live"
            equity = equity_of(job)
            start = initial_equity(job)
            if equity is not None:
                equity_text = format_number(equity)
                if start:
                    pnl = 100.0 * (equity / start - 1.0)
            amount = exchange.get_position(job.config.symbol).amount
            position = f"{format_amount(amount)} {base}" if amount else "flat"
        except Exception:  # a half-built or broken exchange must not break the table
            pass
    return JobRow(
        job_id=job.id,
        name=job.config.name,
        strategy=strategy,
        market=market,
        mode=mode,
        status=str(job.status),
        progress=progress,
        equity=equity_text,
        pnl_pct=pnl,
        position=position,
        error=job.error,
        note=job.restore_note,
        connection=connection,
    )


def job_title(job: TradingJob) -> str:
    """``name · strategy fast=50 slow=200 · BTC/USDT 3s · backtest``."""
    strategy = job.config.strategy
    params = format_params(strategy.params)
    market = " ".join(part for part in (job.config.symbol, timeframe_of(job)) if part)
    parts = [job.config.name, f"{strategy.name} {params}".strip(), market, job.mode]
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


def account_view(job: TradingJob | None) -> AccountView:
    if job is None or job.exchange is None:
        return AccountView()
    exchange = job.exchange
    base, _quote = _quote_base(job)
    try:
        position = exchange.get_position(job.config.symbol)
        if position.amount and not position.is_flat:
            text = (
                f"{format_amount(position.amount)} {base} @ {format_number(position.entry_price)}"
            )
            mark = f"mark {format_number(position.mark_price)}"
            unrealized: float | None = position.unrealized_pnl
        else:
            text, mark, unrealized = "flat", "", None
        if position.dust > 0:  # what the market will not take, shown apart
            text += f" · dust {format_amount(position.dust)} {base}"
        balances = tuple(
            (
                asset,
                format_amount(balance.free),
                format_amount(balance.used),
                format_amount(balance.total),
            )
            for asset, balance in sorted(exchange.get_balances().items())
        )
        orders = tuple(
            OrderRow(
                order_id=order.id,
                side=str(order.side),
                type=str(order.type),
                amount=format_amount(order.amount),
                price=format_number(order.price if order.price else order.stop_price),
                filled=format_amount(order.filled),
                status=str(order.status),
            )
            for order in exchange.get_open_orders()
        )
    except Exception:
        return AccountView(position="(account unavailable)")
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


def metrics_view(job: TradingJob | None) -> MetricsView:
    """The engine's report when there is one, else a live summary that is cheap to get."""
    if job is None:
        return MetricsView("No job selected")
    error = job.error
    report = job.report or {}
    metrics = report.get("metrics")
    if metrics:
        rows = []
        for key, label in METRIC_LABELS.items():
            if key not in metrics:
                continue
            value = metrics[key]
            sign = 0
            if key.endswith("_pct") and isinstance(value, int | float) and value:
                sign = 1 if value > 0 else -1
            rows.append((label, _metric_text(key, value), sign))
        return MetricsView(f"Report · {job.status}", tuple(rows), error)
    row = job_row(job)
    rows = [
        ("Status", row.status, 0),
        ("Equity [quote]", row.equity, 0),
        ("Return [%]", format_number(row.pnl_pct), _sign(row.pnl_pct)),
        ("Position", row.position, 0),
        ("Progress", row.progress or "—", 0),
    ]
    exchange = job.exchange
    if exchange is not None:
        with contextlib.suppress(Exception):
            rows.append(("Fills", f"{len(exchange.get_fills()):,}", 0))
    speed = replay_speed(job)
    if speed is not None:
        rows.append(("Replay speed", format_speed(speed), 0))
    title = "Live summary" if job.status.is_active else "No report yet"
    return MetricsView(title, tuple(rows), error)


def _sign(value: float | None) -> int:
    if not value:
        return 0
    return 1 if value > 0 else -1


# --------------------------------------------------------------------------- chart
@dataclass(slots=True)
class CandleView:
    """Candles grouped ``factor`` per bar, ready to plot on x = 0..n-1."""

    timestamps: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    open: np.ndarray = field(default_factory=lambda: np.empty(0))
    high: np.ndarray = field(default_factory=lambda: np.empty(0))
    low: np.ndarray = field(default_factory=lambda: np.empty(0))
    close: np.ndarray = field(default_factory=lambda: np.empty(0))
    overlays: dict[str, np.ndarray] = field(default_factory=dict)
    buys: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))
    sells: tuple[list[int], list[float]] = field(default_factory=lambda: ([], []))
    factor: int = 1
    error: str | None = None

    def __len__(self) -> int:
        return len(self.timestamps)


def _group(values: np.ndarray, factor: int, how: str) -> np.ndarray:
    """Aggregate consecutive groups of ``factor`` values (length is a multiple)."""
    if factor == 1:
        return values
    shaped = values.reshape(-1, factor)
    if how == "first":
        return shaped[:, 0]
    if how == "max":
        return np.asarray(shaped.max(axis=1))
    if how == "min":
        return np.asarray(shaped.min(axis=1))
    return shaped[:, -1]


def candle_view(job: TradingJob | None, bars: int, factor: int = 1, offset: int = 0) -> CandleView:
    """The last ``bars`` bars of ``factor`` candles each, ``offset`` bars back from now."""
    if job is None or job.exchange is None or bars <= 0:
        return CandleView()
    factor = max(int(factor), 1)
    offset = max(int(offset), 0)
    wanted = min((bars + offset) * factor, MAX_CHART_CANDLES)
    try:
        window = job.chart_window(wanted)
    except Exception as exc:
        return CandleView(error=f"{type(exc).__name__}: {exc}")
    count = len(window.timestamps)
    stop = max(count - offset * factor, 0)
    usable = (min(stop, bars * factor) // factor) * factor
    start = stop - usable
    if usable <= 0:
        return CandleView(factor=factor)

    def cut(values: np.ndarray, how: str) -> np.ndarray:
        return _group(np.asarray(values[start:stop], dtype=np.float64), factor, how)

    timestamps = _group(np.asarray(window.timestamps[start:stop]), factor, "first")
    view = CandleView(
        timestamps=timestamps,
        open=cut(window.open, "first"),
        high=cut(window.high, "max"),
        low=cut(window.low, "min"),
        close=cut(window.close, "last"),
        factor=factor,
    )
    for label, values in window.overlays.items():
        if len(values) == count:
            view.overlays[label] = cut(values, "last")
    if window.markers and len(timestamps):
        edges = np.asarray(window.timestamps[start:stop])
        buys: tuple[list[int], list[float]] = ([], [])
        sells: tuple[list[int], list[float]] = ([], [])
        for timestamp, price, side in window.markers:
            index = int(np.searchsorted(edges, timestamp, side="right")) - 1
            if index < 0 or index >= len(edges):
                continue
            target = buys if side == "buy" else sells
            target[0].append(index // factor)
            target[1].append(float(price))
        view.buys, view.sells = buys, sells
    return view


@dataclass(slots=True)
class EquityView:
    timestamps: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    equity: np.ndarray = field(default_factory=lambda: np.empty(0))
    error: str | None = None

    def __len__(self) -> int:
        return len(self.timestamps)


def equity_view(job: TradingJob | None, points: int) -> EquityView:
    """The equity curve so far, thinned to about ``points`` samples for plotting."""
    if job is None or job.exchange is None or points <= 0:
        return EquityView()
    try:
        timestamps, equity = job.equity_curve()
    except Exception as exc:
        return EquityView(error=f"{type(exc).__name__}: {exc}")
    count = len(equity)
    if count > points:
        index = np.linspace(0, count - 1, points).astype(np.int64)
        timestamps, equity = timestamps[index], equity[index]
    return EquityView(np.asarray(timestamps), np.asarray(equity, dtype=np.float64))


# --------------------------------------------------------------------------- logs
LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")


def level_rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS`; unknown levels rank as INFO."""
    try:
        return LEVELS.index(level.upper())
    except ValueError:
        return 1


def is_done(job: TradingJob) -> bool:
    return job.status in (JobStatus.FINISHED, JobStatus.STOPPED, JobStatus.ERROR)
