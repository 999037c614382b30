"""Vectorised kernels shared by the built-in indicators.

Each kernel performs, value for value, the same IEEE-754 operations in the same order as
the matching streaming ``update`` code, so ``compute`` and ``update`` agree bit for bit:

* sums are left-to-right (``np.cumsum`` is a sequential accumulate; the builtin ``sum``
  is avoided because Python 3.12+ compensates it);
* running window sums are re-synchronised from the window every ``period`` steps, which
  bounds rounding drift (O(1) amortised) and maps onto a reshaped ``np.cumsum``;
* recursive filters (EMA, Wilder smoothing, SuperTrend band carry) run as list
  comprehensions over Python floats, the fastest exact option without a JIT
  (about 0.13 s per million values).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from ats.indicators.base_indicator import FloatArray

IndexArray = npt.NDArray[np.intp]


def nan_array(n: int) -> FloatArray:
    """Output buffer, NaN until filled (warm-up)."""
    return np.full(n, np.nan, dtype=np.float64)


def sequential_sum(values: Iterable[float]) -> float:
    """Left-to-right sum starting from the first value, exactly like ``np.cumsum``."""
    iterator = iter(values)
    total = next(iterator)
    for value in iterator:
        total += value
    return total


def resync_starts(first: int, n: int, period: int) -> IndexArray:
    """Indices where streaming re-synchronises a running window sum: first, first+period..."""
    return np.arange(first, n, period, dtype=np.intp)


def windows_at(values: FloatArray, period: int, ends: IndexArray) -> FloatArray:
    """Copy of the windows ``values[end - period + 1 : end + 1]``, one row per end."""
    return sliding_window_view(values, period)[ends - (period - 1)]


_COLUMN_WISE_MIN_ROWS, _COLUMN_WISE_MAX_WIDTH = 64, 1024
"""Where a loop over the columns beats numpy's accumulate along each row."""


def _column_wise(rows: FloatArray) -> bool:
    count, width = rows.shape
    return count >= _COLUMN_WISE_MIN_ROWS and width <= _COLUMN_WISE_MAX_WIDTH


def row_sums(rows: FloatArray) -> FloatArray:
    """Left-to-right sum of each row (``sequential_sum`` of each window).

    With many short rows, one vectorised add per column (each row still summed left to
    right, the same IEEE operations as ``np.cumsum``) is several times faster than
    numpy's accumulate along every row (bench/backtest_speed.py: sma_cross's SMAs).
    """
    if not _column_wise(rows):
        return np.cumsum(rows, axis=1)[:, -1]
    total = rows[:, 0].copy()
    for column in range(1, rows.shape[1]):
        total += rows[:, column]
    return total


def accumulate_rows(grid: FloatArray) -> None:
    """``np.cumsum(grid, axis=1, out=grid)``, column by column when that is faster (the
    same sums, as in :func:`row_sums`)."""
    if not _column_wise(grid):
        np.cumsum(grid, axis=1, out=grid)
        return
    for column in range(1, grid.shape[1]):
        grid[:, column] += grid[:, column - 1]


def resync_cumsum(starts: FloatArray, increments: FloatArray, period: int) -> FloatArray:
    """Running total restarted every ``period`` steps.

    ``out[e * period] = starts[e]`` and ``out[j] = out[j - 1] + increments[j]`` otherwise,
    i.e. the streaming loop "recompute every period steps, else add the increment".
    """
    m = increments.shape[0]
    rows = -(-m // period)
    grid = np.zeros(rows * period, dtype=np.float64)
    grid[:m] = increments
    grid = grid.reshape(rows, period)
    grid[:, 0] = starts
    accumulate_rows(grid)
    return grid.ravel()[:m]


def lagged(values: FloatArray, lag: int, first: int) -> FloatArray:
    """``values[t - lag]`` for ``t = first .. n-1`` (0.0 where t - lag < 0, never used)."""
    m = values.shape[0] - first
    out = np.zeros(m, dtype=np.float64)
    start = max(0, lag - first)
    out[start:] = values[first + start - lag : values.shape[0] - lag]
    return out


def ema_run(seed: float, values: FloatArray, k: float) -> FloatArray:
    """EMA recursion ``p = (x - p) * k + p`` (TA-Lib's form) from ``seed`` over ``values``."""
    p = seed
    return np.array([p := (x - p) * k + p for x in values.tolist()], dtype=np.float64)


def wilder_run(seed: float, values: FloatArray, period: int) -> FloatArray:
    """Wilder smoothing ``p = (p * (N - 1) + x) / N`` from ``seed`` over ``values``."""
    p = seed
    keep = float(period - 1)
    divisor = float(period)
    return np.array([p := (p * keep + x) / divisor for x in values.tolist()], dtype=np.float64)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """TA-Lib TRANGE: max(h - l, |h - prev close|, |l - prev close|); NaN at index 0."""
    out = nan_array(close.shape[0])
    if close.shape[0] > 1:
        h = high[1:]
        lo = low[1:]
        prev = close[:-1]
        out[1:] = np.maximum(np.maximum(h - lo, np.abs(h - prev)), np.abs(lo - prev))
    return out


def run_lengths(values: FloatArray) -> npt.NDArray[np.int64]:
    """Number of consecutive equal values ending at each index (1 when it changed)."""
    n = values.shape[0]
    index = np.arange(n, dtype=np.int64)
    changed = np.ones(n, dtype=bool)
    changed[1:] = values[1:] != values[:-1]
    run_start = np.maximum.accumulate(np.where(changed, index, 0))
    return index - run_start + 1
