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
    """Quote-currency equity at each candle's close, after that candle's fills."""
    base, quote = split_symbol(symbol)
    quote_delta = np.zeros(len(fills) + 1)
    base_delta = np.zeros(len(fills) + 1)
    fill_times = np.empty(len(fills), dtype=np.int64)
    quote_delta[0] = initial_balances.get(quote, 0.0)
    base_delta[0] = initial_balances.get(base, 0.0)
    for k, fill in enumerate(fills, start=1):
        sign = 1.0 if fill.side is OrderSide.BUY else -1.0
        quote_delta[k] = -sign * fill.cost
        base_delta[k] = sign * fill.amount
        if fill.fee_currency == quote:
            quote_delta[k] -= fill.fee
        elif fill.fee_currency == base:
            base_delta[k] -= fill.fee
        fill_times[k - 1] = fill.timestamp
    quote_totals = np.cumsum(quote_delta)
    base_totals = np.cumsum(base_delta)
    applied = np.searchsorted(fill_times, timestamps, side="right")
    return np.asarray(quote_totals[applied] + base_totals[applied] * closes, dtype=np.float64)
