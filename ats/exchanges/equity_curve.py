"""Equity over time, rebuilt from the initial balances and the fills.

Balances only change at fills, so instead of valuing the wallet on every candle in the
hot loop, the curve is reconstructed afterwards in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ats.exchanges.data_classes import Fill, OrderSide, split_symbol


def equity_curve(
    timestamps: np.ndarray,
    closes: np.ndarray,
    initial_balances: Mapping[str, float],
    fills: Sequence[Fill],
    symbol: str,
) -> np.ndarray:
    """Quote-currency equity at each candle's close, after that candle's fills.

    Balances are a step function of the fills (which come in time order): candle *i*
    holds the totals after the fills stamped at or before its time. The steps are laid
    out with ``np.repeat`` from where each fill lands, rather than searched per candle
    (the per-candle search was a quarter of the report in bench/backtest_speed.py).
    """
    base, quote = split_symbol(symbol)
    quote_delta = [initial_balances.get(quote, 0.0)]
    base_delta = [initial_balances.get(base, 0.0)]
    fill_times: list[int] = []
    buy = OrderSide.BUY
    for fill in fills:
        sign = 1.0 if fill.side is buy else -1.0
        quote_change = -sign * (fill.amount * fill.price)  # fill.cost
        base_change = sign * fill.amount
        fee_currency = fill.fee_currency
        if fee_currency == quote:
            quote_change -= fill.fee
        elif fee_currency == base:
            base_change -= fill.fee
        quote_delta.append(quote_change)
        base_delta.append(base_change)
        fill_times.append(fill.timestamp)
    times = np.asarray(fill_times, dtype=np.int64)
    quote_changes = np.asarray(quote_delta, dtype=np.float64)
    base_changes = np.asarray(base_delta, dtype=np.float64)
    if np.any(times[1:] < times[:-1]):  # not in time order (never from one engine): sort
        order = np.argsort(times, kind="stable")
        times = times[order]
        quote_changes[1:] = quote_changes[1:][order]
        base_changes[1:] = base_changes[1:][order]
    quote_totals = np.cumsum(quote_changes)
    base_totals = np.cumsum(base_changes)
    lands = np.searchsorted(timestamps, times, side="left")
    steps = np.diff(lands, prepend=0, append=len(timestamps))  # candles after 0, 1, ... fills
    # quote + base * close in one buffer, not three (bench/backtest_speed.py)
    equity = np.repeat(base_totals, steps)
    np.multiply(equity, closes, out=equity)
    np.add(equity, np.repeat(quote_totals, steps), out=equity)
    return equity
