"""Performance report of a backtest / trading job.

:func:`compute_metrics` turns an equity curve (one sample per candle, timestamps in
integer ms, ascending) plus the job's round-trip :class:`~ats.exchanges.data_classes.Trade`
list into a frozen :class:`Metrics` record. Everything on the equity curve is vectorised
numpy (roughly 25-40 ms for 1,000,000 samples and 10,000 trades), cheap enough
to run after every backtest.

Formulas (``E`` = equity samples ``E[0..n-1]``, ``t`` = their timestamps in ms,
``r[i] = E[i+1] / E[i] - 1`` the per-candle simple returns, ``P = 365*24*3600*1000 /
timeframe_ms`` the number of candles per 365-day year):

* ``duration_days = (t[-1] - t[0]) / 86_400_000``.
* ``total_return_pct = (E[-1] / E[0] - 1) * 100``.
* ``cagr_pct = ((E[-1] / E[0]) ** (365 / duration_days) - 1) * 100`` -- annualised from the
  real elapsed time, not from the candle count (gaps in the data count as time); NaN when the
  duration is zero, -100 when the equity ended at or below zero.
* ``max_drawdown_pct = min(E / cummax(E) - 1) * 100`` -- zero or negative; within [-100, 0]
  as long as the equity stays non-negative.
* ``max_drawdown_duration_ms`` -- longest ``t[recovery] - t[peak]`` where ``peak`` is the last
  sample at a running high before the equity dipped and ``recovery`` is the first sample back
  at (or above) that high; an unrecovered drawdown lasts until ``t[-1]``. Same definition as
  backtesting.py's "Max. Drawdown Duration" (which, unlike ours, misses a dip on the very last
  sample only).
* ``sharpe = mean(r) / std(r, ddof=1) * sqrt(P)`` -- risk-free rate 0, sample standard
  deviation (ddof=1, the usual estimator). NaN with fewer than two returns or when
  ``std(r) == 0`` (e.g. constant equity): a ratio with a zero denominator carries no
  information, and NaN (``None`` in :meth:`Metrics.to_dict`) shows "not defined" instead of a
  misleading 0.
* ``sortino = mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)`` -- the downside deviation is
  taken over *all* periods (non-negative returns count as 0). With no negative return it is
  +inf when ``mean(r) > 0`` (like ``profit_factor`` with no losses) and NaN when it is 0.
* ``calmar = cagr_pct / |max_drawdown_pct|`` -- NaN when there was no drawdown.
* Trade statistics use the *closed* trades only (an open trade's pnl is just a mark);
  ``num_trades`` counts open ones too. ``win_rate_pct`` = share of closed trades with
  ``pnl > 0``; ``profit_factor = sum(pnl > 0) / |sum(pnl < 0)|`` in quote currency (+inf with
  profits but no losses, NaN with neither); ``expectancy = mean(pnl)`` (quote);
  ``avg_trade_pct`` = arithmetic mean of ``Trade.return_pct``; best/worst = max/min of it;
  ``avg_trade_duration_ms = mean(exit_time - entry_time)``. All NaN when no trade closed.
* ``exposure_pct`` -- share of equity samples (candles) with a position: candle ``t`` is
  exposed if some trade has ``entry_time <= t < exit_time`` (an open trade: until the end).
  The exit candle is *not* counted -- the position is gone by its close. backtesting.py counts
  ``EntryBar..ExitBar`` inclusive, i.e. one candle more per trade. Computed with
  ``np.searchsorted`` and the union of the trades' candle ranges, O(k log n).
* ``buy_and_hold_return_pct = (last_price / first_price - 1) * 100``.

Division by zero anywhere gives NaN / inf instead of an exception; :meth:`Metrics.to_dict`
maps those to ``None`` so the report stays JSON-safe.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ats.exchanges.data_classes import Trade

MS_PER_DAY = 86_400_000
MS_PER_YEAR = 365 * MS_PER_DAY

NAN = float("nan")
INF = float("inf")


@dataclass(frozen=True, slots=True)
class Metrics:
    """The performance report of one backtest / job (formulas: see the module docstring)."""

    start: int
    end: int
    duration_days: float
    initial_equity: float
    final_equity: float
    peak_equity: float
    total_return_pct: float
    cagr_pct: float
    max_drawdown_pct: float
    max_drawdown_duration_ms: int
    sharpe: float
    sortino: float
    calmar: float
    num_trades: int
    num_closed_trades: int
    win_rate_pct: float
    profit_factor: float
    expectancy: float
    avg_trade_pct: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_trade_duration_ms: float
    exposure_pct: float
    fees_paid: float
    buy_and_hold_return_pct: float

    def to_dict(self) -> dict[str, float | int | None]:
        """Field -> value, with NaN/inf replaced by ``None`` (JSON has no such numbers)."""
        out: dict[str, float | int | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                out[f.name] = None
            else:
                out[f.name] = value
        return out


METRIC_LABELS: dict[str, str] = {
    "start": "Start",
    "end": "End",
    "duration_days": "Duration [days]",
    "initial_equity": "Initial equity [quote]",
    "final_equity": "Final equity [quote]",
    "peak_equity": "Peak equity [quote]",
    "total_return_pct": "Total return [%]",
    "cagr_pct": "CAGR [%]",
    "max_drawdown_pct": "Max drawdown [%]",
    "max_drawdown_duration_ms": "Max drawdown duration",
    "sharpe": "Sharpe ratio (ann.)",
    "sortino": "Sortino ratio (ann.)",
    "calmar": "Calmar ratio",
    "num_trades": "# Trades",
    "num_closed_trades": "# Closed trades",
    "win_rate_pct": "Win rate [%]",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy [quote/trade]",
    "avg_trade_pct": "Avg. trade [%]",
    "best_trade_pct": "Best trade [%]",
    "worst_trade_pct": "Worst trade [%]",
    "avg_trade_duration_ms": "Avg. trade duration",
    "exposure_pct": "Exposure time [%]",
    "fees_paid": "Fees paid [quote]",
    "buy_and_hold_return_pct": "Buy & hold return [%]",
}
"""Field name -> human label with unit, for the rich report and the console's metrics panel.
Durations (``*_ms``) carry no unit: every front end shows them as ``7h 30m 24s``."""

MIN_ANNUALISED_DAYS = 30.0
MIN_ANNUALISED_CANDLES = 30
"""A run shorter than this many days, or with fewer candles, shows no annualised figure:
raising an 8-hour return to the power of 1,095 says nothing about a year."""
ANNUALISED = ("cagr_pct", "sharpe", "sortino", "calmar")


def annualised_meaningful(metrics: dict[str, Any], timeframe_ms: int | None = None) -> bool:
    """The run is long enough for CAGR, Sharpe, Sortino and Calmar to mean something: it
    spans at least :data:`MIN_ANNUALISED_DAYS` days and, when the candle length is known,
    at least :data:`MIN_ANNUALISED_CANDLES` candles."""
    days = metrics.get("duration_days")
    if not isinstance(days, int | float) or not days >= MIN_ANNUALISED_DAYS:
        return False
    return not timeframe_ms or days * MS_PER_DAY / timeframe_ms + 1 >= MIN_ANNUALISED_CANDLES


def shown_metrics(metrics: dict[str, Any], timeframe_ms: int | None = None) -> dict[str, Any]:
    """``metrics`` for people: annualised figures become ``None`` (shown as ``—``) on a
    run too short for them (:func:`annualised_meaningful`). The report itself keeps the
    raw values (research objectives and JSON consumers decide for themselves)."""
    if annualised_meaningful(metrics, timeframe_ms):
        return metrics
    return {key: (None if key in ANNUALISED else value) for key, value in metrics.items()}


def _ratio(num: float, den: float) -> float:
    """``num / den`` that yields NaN/inf instead of raising on a zero denominator."""
    if den == 0:
        return NAN if num == 0 or math.isnan(num) else math.copysign(INF, num)
    return num / den


def _max_drawdown(timestamps: np.ndarray, equity: np.ndarray) -> tuple[float, int]:
    """(max drawdown [%], longest underwater duration [ms]) in a few vectorised passes."""
    running_max = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        if running_max[0] > 0 and not math.isnan(running_max[-1]):
            # Every running max is positive: the drawdowns are ``equity / running_max -
            # 1``, and subtracting 1 keeps their order (rounding is monotonic), so the
            # least of them is the least ratio less 1: two passes fewer over the curve.
            max_dd_pct = (float((equity / running_max).min()) - 1.0) * 100.0
        else:
            drawdown = np.where(running_max > 0, equity / running_max - 1.0, 0.0)
            max_dd_pct = float(drawdown.min()) * 100.0

    # Samples at a running high; the underwater stretches lie between consecutive ones.
    peaks = np.flatnonzero(equity >= running_max)
    if peaks.size == 0:  # only possible with NaN equity
        return max_dd_pct, 0
    gaps = np.diff(peaks) > 1
    durations = timestamps[peaks[1:][gaps]] - timestamps[peaks[:-1][gaps]]
    longest = int(durations.max()) if durations.size else 0
    if peaks[-1] != equity.size - 1:  # never recovered: underwater until the end
        longest = max(longest, int(timestamps[-1] - timestamps[peaks[-1]]))
    return max_dd_pct, longest


def _exposure_pct(timestamps: np.ndarray, trades: Sequence[Trade]) -> float:
    """Percent of candles with ``entry_time <= t < exit_time`` for some trade.

    Each trade becomes an index range ``[lo, hi)`` via ``searchsorted``; the length of
    their union is the count (overlapping trades are counted once).
    """
    n = timestamps.size
    if n == 0 or not trades:
        return 0.0
    entries = np.fromiter((t.entry_time for t in trades), dtype=np.int64, count=len(trades))
    exits = np.fromiter(
        (np.iinfo(np.int64).max if t.exit_time is None else t.exit_time for t in trades),
        dtype=np.int64,
        count=len(trades),
    )
    lo = np.searchsorted(timestamps, entries, side="left")
    hi = np.maximum(np.searchsorted(timestamps, exits, side="left"), lo)
    # Work per trade, not per candle (a difference array over 1M candles was a tenth of
    # bench/backtest_speed.py's report): sorted by start, each range adds what reaches
    # past the end of every earlier one.
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    reached = np.maximum.accumulate(hi)
    earlier_end = np.concatenate(([0], reached[:-1]))
    covered = int(np.maximum(hi - np.maximum(lo, earlier_end), 0).sum())
    return 100.0 * float(covered) / n


def compute_metrics(
    *,
    timestamps: np.ndarray,
    equity: np.ndarray,
    trades: Sequence[Trade],
    fees_paid: float,
    timeframe_ms: int,
    first_price: float,
    last_price: float,
) -> Metrics:
    """Compute the :class:`Metrics` of an equity curve and its round-trip trades.

    ``timestamps`` (int ms, ascending) and ``equity`` (quote) hold one sample per candle;
    ``timeframe_ms`` is the candle length, used to annualise Sharpe/Sortino;
    ``first_price``/``last_price`` give the buy-and-hold benchmark.
    """
    ts = np.asarray(timestamps, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.ndim != 1 or eq.ndim != 1 or ts.size != eq.size:
        raise ValueError(
            f"timestamps and equity must be 1-d and equally long, got {ts.shape} and {eq.shape}"
        )
    if ts.size == 0:
        raise ValueError("the equity curve is empty")
    if timeframe_ms <= 0:
        raise ValueError(f"timeframe_ms must be positive, got {timeframe_ms}")
    if ts.size > 1 and bool(np.any(ts[1:] < ts[:-1])):
        raise ValueError("timestamps must be in ascending order")

    start, end = int(ts[0]), int(ts[-1])
    duration_ms = end - start
    initial, final = float(eq[0]), float(eq[-1])
    growth = _ratio(final, initial)
    total_return_pct = (growth - 1.0) * 100.0

    if duration_ms <= 0 or math.isnan(growth):
        cagr_pct = NAN
    elif growth <= 0:
        cagr_pct = -100.0
    else:
        try:
            cagr_pct = (growth ** (MS_PER_YEAR / duration_ms) - 1.0) * 100.0
        except OverflowError:
            cagr_pct = INF

    max_dd_pct, max_dd_duration = _max_drawdown(ts, eq)

    periods_per_year = MS_PER_YEAR / timeframe_ms
    # The returns, their deviations and squares reuse two buffers, and the mean is taken
    # once: numpy's std and mean do these very operations (the same sums), with a new
    # million-sample array for each (bench/backtest_speed.py's report).
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.divide(eq[1:], eq[:-1])
        returns -= 1.0
    count = returns.size
    mean_r = float(returns.mean()) if count else NAN
    scratch = np.empty_like(returns)
    if count >= 2:
        np.subtract(returns, mean_r, out=scratch)
        np.multiply(scratch, scratch, out=scratch)
        std_r = math.sqrt(float(scratch.sum()) / (count - 1))  # returns.std(ddof=1)
        sharpe = NAN if std_r == 0 else mean_r / std_r * math.sqrt(periods_per_year)
    else:
        sharpe = NAN
    if count:
        np.minimum(returns, 0.0, out=scratch)
        np.multiply(scratch, scratch, out=scratch)
        downside = math.sqrt(float(scratch.mean()))
        sortino = _ratio(mean_r, downside) * math.sqrt(periods_per_year)
    else:
        sortino = NAN
    calmar = NAN if max_dd_pct == 0 else _ratio(cagr_pct, abs(max_dd_pct))

    closed = [t for t in trades if t.exit_time is not None]
    k = len(closed)
    if k:
        pnl = np.fromiter((t.pnl for t in closed), dtype=np.float64, count=k)
        ret = np.fromiter((t.return_pct for t in closed), dtype=np.float64, count=k)
        dur = np.fromiter(
            (t.exit_time - t.entry_time for t in closed if t.exit_time is not None),
            dtype=np.float64,
            count=k,
        )
        gross_profit = float(pnl[pnl > 0].sum())
        gross_loss = float(-pnl[pnl < 0].sum())
        win_rate_pct = 100.0 * int(np.count_nonzero(pnl > 0)) / k
        profit_factor = _ratio(gross_profit, gross_loss)
        expectancy = float(pnl.mean())
        avg_trade_pct = float(ret.mean())
        best_trade_pct = float(ret.max())
        worst_trade_pct = float(ret.min())
        avg_trade_duration_ms = float(dur.mean())
    else:
        win_rate_pct = profit_factor = expectancy = NAN
        avg_trade_pct = best_trade_pct = worst_trade_pct = avg_trade_duration_ms = NAN

    return Metrics(
        start=start,
        end=end,
        duration_days=duration_ms / MS_PER_DAY,
        initial_equity=initial,
        final_equity=final,
        peak_equity=float(eq.max()),
        total_return_pct=total_return_pct,
        cagr_pct=cagr_pct,
        max_drawdown_pct=max_dd_pct,
        max_drawdown_duration_ms=max_dd_duration,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        num_trades=len(trades),
        num_closed_trades=k,
        win_rate_pct=win_rate_pct,
        profit_factor=profit_factor,
        expectancy=expectancy,
        avg_trade_pct=avg_trade_pct,
        best_trade_pct=best_trade_pct,
        worst_trade_pct=worst_trade_pct,
        avg_trade_duration_ms=avg_trade_duration_ms,
        exposure_pct=_exposure_pct(ts, trades),
        fees_paid=float(fees_paid),
        buy_and_hold_return_pct=(_ratio(float(last_price), float(first_price)) - 1.0) * 100.0,
    )
