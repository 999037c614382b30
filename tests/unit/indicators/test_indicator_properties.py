"""Property tests: for random candles and parameters, streaming == vectorised, and
``compute`` never looks ahead (a prefix gives the prefix of the result)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.indicators import BUILTIN_INDICATORS, BaseIndicator

SETTINGS = settings(max_examples=50, deadline=None)
NAMES = sorted(BUILTIN_INDICATORS)

periods = st.integers(min_value=1, max_value=12)
multipliers = st.floats(min_value=0.5, max_value=4.0)
# Price-like values, arbitrary signed values (the two modes agree exactly, so even badly
# conditioned data must match) and a couple of repeated levels, so flat windows (zero
# variance, no RSI movement, OBV ties) show up regularly.
prices = st.one_of(
    st.floats(min_value=1.0, max_value=1e5),
    st.floats(min_value=-1e6, max_value=1e6),
    st.sampled_from([100.0, 100.5]),
)


@st.composite
def configs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    if name == "obv":
        return {}
    if name == "macd":
        fast = draw(st.integers(min_value=1, max_value=6))
        return {
            "fast": fast,
            "slow": draw(st.integers(min_value=fast + 1, max_value=12)),
            "signal": draw(st.integers(min_value=1, max_value=6)),
        }
    config: dict[str, Any] = {"N": draw(periods)}
    if name == "std":
        config["nbdev"] = draw(multipliers)
    elif name == "bbands":
        config["nbdev_up"] = draw(st.floats(min_value=0.0, max_value=3.0))
        config["nbdev_dn"] = draw(st.floats(min_value=0.0, max_value=3.0))
    elif name == "supertrend":
        config["multiplier"] = draw(multipliers)
    return config


@st.composite
def candle_arrays(draw: st.DrawFn) -> dict[str, np.ndarray]:
    close = np.array(draw(st.lists(prices, min_size=0, max_size=80)), dtype=np.float64)
    size = close.shape[0]
    spreads = st.lists(st.floats(min_value=0.0, max_value=50.0), min_size=size, max_size=size)
    high = close + np.array(draw(spreads), dtype=np.float64)
    low = close - np.array(draw(spreads), dtype=np.float64)
    volume = np.array(
        draw(st.lists(st.floats(min_value=0.0, max_value=1e4), min_size=size, max_size=size)),
        dtype=np.float64,
    )
    return {"open": close, "high": high, "low": low, "close": close, "volume": volume}


@st.composite
def cases(draw: st.DrawFn, name: str) -> tuple[BaseIndicator, list[np.ndarray]]:
    indicator = BUILTIN_INDICATORS[name](**draw(configs(name)))
    candles = draw(candle_arrays())
    return indicator, [candles[field] for field in indicator.inputs]


def assert_same(actual: np.ndarray, expected: np.ndarray, label: str) -> None:
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=label)
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=0.0, err_msg=label)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_streaming_equals_vectorised(name: str, data: st.DataObject) -> None:
    indicator, arrays = data.draw(cases(name))
    vectorised = indicator.compute(*arrays)
    for i, values in enumerate(zip(*arrays, strict=True)):
        indicator.update(*values)
        for output in indicator.outputs:
            expected = vectorised[output][i : i + 1]
            actual = np.array([getattr(indicator, output)])
            assert_same(actual, expected, f"{indicator!r} {output} at {i}")


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_compute_has_no_lookahead(name: str, data: st.DataObject) -> None:
    indicator, arrays = data.draw(cases(name))
    cut = data.draw(st.integers(min_value=0, max_value=arrays[0].shape[0]))
    full = indicator.compute(*arrays)
    prefix = indicator.compute(*(array[:cut] for array in arrays))
    for output in indicator.outputs:
        assert_same(prefix[output], full[output][:cut], f"{indicator!r} {output}")
