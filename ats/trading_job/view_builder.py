"""Builds the read model (:mod:`ats.trading_job.views`) from a job, in the engine layer.

This is the one place that reads a job's exchange and strategy for front ends. A job in
a strange state (not built, data not loaded, an engine bug) gives a view that says so
(``account_error``, ``error``), never an exception that could reach a front end; what
went wrong is logged once per job and kind, with the job id, in the application log.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ats.data.timeframes import format_timeframe
from ats.exchanges.data_classes import Fill, Order, Trade
from ats.trading_job.live_mode import is_live
from ats.trading_job.stream_history import CANDLE_HISTORY, overlay_label
from ats.trading_job.views import (
    MAX_CHART_CANDLES,
    BalanceView,
    ChartWindow,
    EquityCurve,
    FillPage,
    FillView,
    JobView,
    LogLine,
    LogPage,
    OrderView,
    OverlayInfo,
    PositionView,
    ProgressView,
    TradePage,
    TradeView,
)
from ats.utils.symbols import split_symbol

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob

logger = logging.getLogger(__name__)

OVERLAY_WARMUP = 3
"""Overlays are computed over this many extra window lengths so they are warmed up."""
MAX_MARKERS = 500
"""Fills marked on a chart (the latest)."""
_CANDLE_FIELDS = ("timestamps", "open", "high", "low", "close", "volume")


# --------------------------------------------------------------------------- failures
_reported: dict[tuple[str, str], str] = {}
"""(job id, what) -> the last failure logged, so a view rebuilt ten times a second logs
a failure once, not ten times a second."""


def failure(job_id: str, what: str, exc: Exception) -> str:
    """``exc`` as one line for a view, logged (with its traceback) the first time."""
    text = f"{type(exc).__name__}: {exc}"
    key = (job_id, what)
    if _reported.get(key) != text:
        _reported[key] = text
        logger.warning("job %s: %s failed: %s", job_id, what, text, exc_info=exc)
    return text


def forget_failures(job_id: str) -> None:
    """The job is gone: its failures need not be remembered."""
    for key in [key for key in _reported if key[0] == job_id]:
        del _reported[key]


# --------------------------------------------------------------------------- job view
def view_of(job: TradingJob) -> JobView:
    """Everything a front end shows of ``job`` now."""
    config = job.config
    base, quote = _base_quote(config.symbol)
    exchange = job.exchange
    venue = config.exchange.params.get("exchange")
    timeframe_ms = exchange.timeframe_ms if exchange is not None else None
    configured = config.exchange.params.get("timeframe")
    timeframe = format_timeframe(timeframe_ms) if timeframe_ms else str(configured or "")
    values: dict[str, Any] = {}
    if exchange is not None:
        try:
            values = _account(job, base, quote)
        except Exception as exc:  # a half-built or broken exchange must not break a view
            values = {"account_error": failure(job.id, "reading the account", exc)}
    report = job.report or {}
    return JobView(
        job_id=job.id,
        name=config.name,
        strategy=config.strategy.name,
        strategy_params=config.strategy.params,
        symbol=config.symbol,
        base=base,
        quote=quote,
        exchange=config.exchange.name,
        venue=venue if isinstance(venue, str) and venue else None,
        mode=job.mode,
        live=is_live(job),
        built=exchange is not None,
        status=job.status,
        error=job.error,
        restore_note=job.restore_note,
        last_candle_at=job.last_candle_at,
        timeframe_ms=timeframe_ms,
        timeframe=timeframe,
        speed=_speed(job),
        metrics=report.get("metrics") or None,
        **values,
    )


def _account(job: TradingJob, base: str, quote: str) -> dict[str, Any]:
    exchange = job.exchange
    assert exchange is not None
    values: dict[str, Any] = {"connection": exchange.connection_state}
    progress = exchange.progress
    values["progress"] = ProgressView(progress.done, progress.total)
    equity = float(exchange.equity())
    start = initial_equity(job)
    values["equity"], values["initial_equity"] = equity, start
    if start:
        values["pnl"] = equity - start
        values["pnl_pct"] = 100.0 * (equity / start - 1.0)
    position = exchange.get_position(job.config.symbol)
    values["position"] = PositionView(
        amount=position.amount,
        entry_price=position.entry_price,
        mark_price=position.mark_price,
        unrealized_pnl=position.unrealized_pnl,
        is_flat=position.is_flat,
        dust=position.dust,
    )
    values["balances"] = tuple(
        BalanceView(asset, balance.free, balance.used, balance.total)
        for asset, balance in sorted(exchange.get_balances().items())
    )
    values["open_orders"] = tuple(_order_view(order) for order in exchange.get_open_orders())
    values["fill_count"] = exchange.fill_count()
    unrealised = 0.0 if position.is_flat else position.unrealized_pnl
    values["live_metrics"] = job.live_metrics.update(exchange, equity, unrealised, start)
    return values


def _order_view(order: Order) -> OrderView:
    return OrderView(
        order_id=order.id,
        side=str(order.side),
        type=str(order.type),
        amount=order.amount,
        price=order.price,
        stop_price=order.stop_price,
        filled=order.filled,
        status=str(order.status),
    )


def _base_quote(symbol: str) -> tuple[str, str]:
    try:
        return split_symbol(symbol)
    except ValueError:
        return symbol, ""


def initial_equity(job: TradingJob) -> float | None:
    """Starting account value in quote: quote cash plus base holdings at the first price."""
    base, quote = _base_quote(job.config.symbol)
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
    exchange, replay = job.exchange, job.capabilities.replay
    if exchange is None:
        return None
    if replay is not None and replay.data is not None and len(replay.data):
        return float(replay.data.close[0])
    return exchange.last_price(job.config.symbol)


def _speed(job: TradingJob) -> float | None:
    """Replay speed factor of a paced replay job, None for anything else."""
    pace = job.capabilities.pace
    speed = pace.speed if pace is not None else None
    if speed is not None:
        return float(speed)
    params = job.config.exchange.params
    if job.config.exchange.name == "paper" and params.get("feed", "replay") == "replay":
        try:
            return float(params.get("speed", 1.0))
        except (TypeError, ValueError):
            return None
    return None


# --------------------------------------------------------------------------- chart
async def load_replayed_candles(job: TradingJob) -> str | None:
    """A restored replay (a finished, stopped or paused backtest) has its account, fills
    and cursor from its snapshot but not its candle file, which only the chart and the
    equity curve need: read it now, once (cached; see ats.data.candle_cache). Returns
    why it cannot be read, or None. A job that never ran has nothing to chart: no read."""
    replay = job.capabilities.replay
    if replay is None or replay.data is not None or not replay.cursor:
        return None
    try:
        await job.load_inputs()
    except Exception as exc:  # the file moved or changed since the run: say so in the view
        return failure(job.id, "loading the candles", exc)
    return None


@dataclass
class CandleWindow:
    """The last candles a job has seen, as arrays aligned on ``timestamps`` (ms), with
    the strategy's indicator outputs and the fills in that span."""

    timestamps: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    open: np.ndarray = field(default_factory=lambda: np.empty(0))
    high: np.ndarray = field(default_factory=lambda: np.empty(0))
    low: np.ndarray = field(default_factory=lambda: np.empty(0))
    close: np.ndarray = field(default_factory=lambda: np.empty(0))
    overlays: dict[str, np.ndarray] = field(default_factory=dict)
    overlay_info: list[OverlayInfo] = field(default_factory=list)
    markers: list[tuple[int, float, str]] = field(default_factory=list)
    """Fills in the window as (timestamp, price, side)."""


def candle_window(job: TradingJob, size: int = 200, back: int = 0) -> CandleWindow:
    """``size`` candles seen, ending ``back`` candles before the latest, with indicator
    overlays and fill markers: from the replayed file up to its cursor, or the streamed
    candles the job keeps."""
    exchange, strategy, replay = job.exchange, job.strategy, job.capabilities.replay
    window = CandleWindow()
    if exchange is None:
        return window
    back = max(back, 0)
    indicators = strategy.indicators if strategy is not None else []
    window.overlay_info = [
        OverlayInfo(
            overlay_label(indicator, output),
            indicator.name,
            output,
            dict(indicator.config),
            panel=indicator.panel,
            style=indicator.output_styles.get(output, "line"),
        )
        for indicator in indicators
        for output in indicator.outputs
    ]
    if replay is not None and replay.data is not None:
        data = replay.data
        stop = max(int(replay.cursor) - back, 0)
        start = max(stop - size, 0)
        columns = {name: getattr(data, name) for name in _CANDLE_FIELDS}
        window.timestamps = data.timestamps[start:stop]
        window.open = data.open[start:stop]
        window.high = data.high[start:stop]
        window.low = data.low[start:stop]
        window.close = data.close[start:stop]
        if stop > start:
            warm_start = max(start - OVERLAY_WARMUP * size, 0)
            for indicator in indicators:
                arrays = [columns[source][warm_start:stop] for source in indicator.inputs]
                for output, values in indicator.compute(*arrays).items():
                    label = overlay_label(indicator, output)
                    window.overlays[label] = values[start - warm_start :]
    else:
        recent = job.history.recent_candles(size + back)
        keep = max(len(recent) - back, 0)
        recent = recent[max(keep - size, 0) : keep]
        if recent:
            window.timestamps = np.array([c.timestamp for c in recent], dtype=np.int64)
            window.open = np.array([c.open for c in recent])
            window.high = np.array([c.high for c in recent])
            window.low = np.array([c.low for c in recent])
            window.close = np.array([c.close for c in recent])
            for label, history in job.history.overlays(len(recent) + back).items():
                window.overlays[label] = np.array(history[: max(len(history) - back, 0)])
    if len(window.timestamps):
        first, last = int(window.timestamps[0]), int(window.timestamps[-1])
        fills = exchange.get_fills()
        stop = bisect.bisect_right(fills, last, key=_fill_time)
        start = max(bisect.bisect_left(fills, first, 0, stop, key=_fill_time), stop - MAX_MARKERS)
        window.markers = [
            (fill.timestamp, fill.price, str(fill.side)) for fill in fills[start:stop]
        ]
    return window


def _fill_time(fill: Fill) -> int:
    return fill.timestamp


def candles_seen(job: TradingJob) -> int:
    """How many candles a chart can show: a replay's up to its cursor, else those kept."""
    replay = job.capabilities.replay
    if replay is not None and replay.data is not None:
        return int(replay.cursor)
    return len(job.history.recent_candles(CANDLE_HISTORY))


def candles_after(job: TradingJob, moment: int) -> int:
    """How many of the candles a chart can show open after ``moment`` (ms)."""
    replay = job.capabilities.replay
    if replay is not None and replay.data is not None:
        cursor = int(replay.cursor)
        return cursor - int(np.searchsorted(replay.data.timestamps[:cursor], moment, "right"))
    kept = job.history.recent_candles(CANDLE_HISTORY)
    return sum(1 for candle in kept if candle.timestamp > moment)


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


def chart_window(
    job: TradingJob, bars: int, factor: int = 1, offset: int = 0, around: int | None = None
) -> ChartWindow:
    """``bars`` bars of ``factor`` candles each, ``offset`` bars back from the latest; or,
    with ``around`` (a time in ms), the bars centred on that time. The window says which
    offset it shows (clamped so it never starts before the first candle)."""
    if job.exchange is None or bars <= 0:
        return ChartWindow()
    factor = max(int(factor), 1)
    wanted = min(bars * factor, MAX_CHART_CANDLES)
    try:
        if around is not None:
            offset = max(candles_after(job, around) - wanted // 2, 0) // factor
        offset = min(max(int(offset), 0), max(candles_seen(job) - wanted, 0) // factor)
        window = candle_window(job, wanted, offset * factor)
    except Exception as exc:  # the data may be gone or an indicator broken
        return ChartWindow(error=failure(job.id, "drawing the chart", exc))
    count = len(window.timestamps)
    usable = (count // factor) * factor
    start, stop = count - usable, count
    if usable <= 0:
        return ChartWindow(factor=factor, offset=offset)

    def cut(values: np.ndarray, how: str) -> tuple[float, ...]:
        grouped = _group(np.asarray(values[start:stop], dtype=np.float64), factor, how)
        return tuple(grouped.tolist())

    edges = np.asarray(window.timestamps[start:stop])
    timestamps = _group(edges, factor, "first")
    buys: tuple[list[int], list[float]] = ([], [])
    sells: tuple[list[int], list[float]] = ([], [])
    for timestamp, price, side in window.markers:
        index = int(np.searchsorted(edges, timestamp, side="right")) - 1
        if index < 0 or index >= len(edges):
            continue
        target = buys if side == "buy" else sells
        target[0].append(index // factor)
        target[1].append(float(price))
    return ChartWindow(
        timestamps=tuple(int(value) for value in timestamps.tolist()),
        open=cut(window.open, "first"),
        high=cut(window.high, "max"),
        low=cut(window.low, "min"),
        close=cut(window.close, "last"),
        overlays={
            label: cut(values, "last")
            for label, values in window.overlays.items()
            if len(values) == count
        },
        overlay_info=tuple(window.overlay_info),
        buys=(tuple(buys[0]), tuple(buys[1])),
        sells=(tuple(sells[0]), tuple(sells[1])),
        factor=factor,
        offset=offset,
    )


def equity_curve(job: TradingJob, points: int) -> EquityCurve:
    """The equity curve so far, thinned to about ``points`` samples for plotting."""
    if job.exchange is None or points <= 0:
        return EquityCurve()
    try:
        timestamps, equity = job.equity_curve()
        start = initial_equity(job)
    except Exception as exc:  # e.g. a restored backtest whose file is not loaded
        return EquityCurve(error=failure(job.id, "computing the equity curve", exc))
    count = len(equity)
    if count > points:
        index = np.linspace(0, count - 1, points).astype(np.int64)
        timestamps, equity = timestamps[index], equity[index]
    return EquityCurve(
        tuple(np.asarray(timestamps, dtype=np.int64).tolist()),
        tuple(np.asarray(equity, dtype=np.float64).tolist()),
        start,
    )


# --------------------------------------------------------------------------- history
def log_page(job: TradingJob, after: int | None = None) -> LogPage:
    """The job's kept log lines after line ``after`` (every kept line when None); with
    ``gap`` when line ``after`` itself has rotated out of the bounded log."""
    entries = list(job.logs)
    first = job.log_count - len(entries)
    skip = 0 if after is None else max(after + 1 - first, 0)
    lines = tuple(
        LogLine(seq, entry.time, entry.level, entry.message)
        for seq, entry in enumerate(entries[skip:], first + skip)
    )
    gap = after is not None and after < first
    return LogPage(lines, job.log_count, gap)


def trade_page(job: TradingJob, offset: int = 0, limit: int = 100) -> TradePage:
    """Round trips newest first, ``limit`` from ``offset`` (from the engine's list)."""
    exchange = job.exchange
    if exchange is None:
        return TradePage(0, offset)
    total = exchange.trade_count()
    start, stop = page_span(total, offset, limit)
    trades = exchange.trade_slice(start, stop)
    return TradePage(total, offset, tuple(trade_view(t) for t in reversed(trades)))


def fill_page(job: TradingJob, offset: int = 0, limit: int = 100) -> FillPage:
    """Fills newest first, ``limit`` from ``offset`` (from the engine's list)."""
    exchange = job.exchange
    if exchange is None:
        return FillPage(0, offset)
    total = exchange.fill_count()
    start, stop = page_span(total, offset, limit)
    fills = exchange.fill_slice(start, stop)
    return FillPage(total, offset, tuple(fill_view(fill) for fill in reversed(fills)))


def page_span(total: int, offset: int, limit: int) -> tuple[int, int]:
    """The oldest-first ``[start, stop)`` of ``total`` items that a newest-first page of
    ``limit`` from ``offset`` shows."""
    stop = max(total - max(offset, 0), 0)
    return max(stop - max(limit, 0), 0), stop


def trade_view(trade: Trade) -> TradeView:
    return TradeView(
        entry_time=trade.entry_time,
        entry_price=trade.entry_price,
        amount=trade.amount,
        exit_time=trade.exit_time,
        exit_price=trade.exit_price,
        fees=trade.fees,
        pnl=trade.pnl,
        return_pct=trade.return_pct,
    )


def fill_view(fill: Fill) -> FillView:
    return FillView(
        order_id=fill.order_id,
        side=str(fill.side),
        amount=fill.amount,
        price=fill.price,
        fee=fill.fee,
        fee_currency=fill.fee_currency,
        timestamp=fill.timestamp,
        taker=fill.taker,
    )
