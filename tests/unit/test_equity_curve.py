"""The equity curve rebuilt from fills equals valuing the wallet candle by candle."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.exchanges.data_classes import Fill, OrderSide
from ats.exchanges.equity_curve import equity_curve

INITIAL = {"USDT": 1_000.0, "BTC": 0.5}


def _reference(timestamps: np.ndarray, closes: np.ndarray, fills: list[Fill]) -> np.ndarray:
    """Per candle: start from the initial balances and apply every fill stamped at or
    before it, in time order (the obvious, slow definition)."""
    ordered = sorted(fills, key=lambda fill: fill.timestamp)
    out = []
    for time, close in zip(timestamps.tolist(), closes.tolist(), strict=True):
        quote, base = INITIAL["USDT"], INITIAL["BTC"]
        for fill in ordered:
            if fill.timestamp > time:
                break
            sign = 1.0 if fill.side is OrderSide.BUY else -1.0
            quote_change, base_change = -sign * fill.cost, sign * fill.amount
            if fill.fee_currency == "USDT":
                quote_change -= fill.fee
            else:
                base_change -= fill.fee
            quote += quote_change
            base += base_change
        out.append(quote + base * close)
    return np.array(out)


fills_strategy = st.lists(
    st.builds(
        Fill,
        order_id=st.just("1"),
        symbol=st.just("BTC/USDT"),
        side=st.sampled_from(OrderSide),
        amount=st.floats(0.001, 3),
        price=st.floats(1, 1e5),
        fee=st.floats(0, 1),
        fee_currency=st.sampled_from(["USDT", "BTC"]),
        timestamp=st.integers(-5, 60).map(lambda minute: minute * 60_000),
        taker=st.just(True),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(fills=fills_strategy, in_order=st.booleans(), count=st.integers(1, 40))
def test_curve_equals_candle_by_candle_valuation(
    fills: list[Fill], in_order: bool, count: int
) -> None:
    if in_order:  # what one engine produces; the other case covers merged histories
        fills = sorted(fills, key=lambda fill: fill.timestamp)
    timestamps = np.arange(count, dtype=np.int64) * 60_000
    closes = np.linspace(100.0, 200.0, count)
    curve = equity_curve(timestamps, closes, INITIAL, fills, "BTC/USDT")
    expected = _reference(timestamps, closes, fills)
    if in_order:  # the same additions in the same order: bit for bit
        np.testing.assert_array_equal(curve, expected)
    else:
        np.testing.assert_allclose(curve, expected, rtol=1e-9, atol=1e-6)
