"""Built-in indicators against TA-Lib on real BTC candles, in both execution modes.

Tolerance: rtol=1e-9 everywhere. ``atol`` only matters for outputs that can sit near
zero; it is sized on the magnitude the rounding error actually scales with:

* MACD/signal/hist and STD are differences of price-level quantities, so their absolute
  error is ~eps * price, whatever their own size: atol = 1e-9 * typical price (~3e-5 here;
  the observed differences are ~1e-11 or less);
* RSI lives on a 0..100 scale: atol = 1e-9 * 100;
* OBV is a running sum of volumes that crosses zero: atol = 1e-9 * typical volume.

Price-level outputs (moving averages, bands, ATR) use atol=0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from ats.indicators import BUILTIN_INDICATORS, BaseIndicator, SuperTrend

Arrays = dict[str, np.ndarray]
SMA_MATYPE = talib.MA_Type.SMA  # matype=0: SMA middle band
Reference = Callable[[Arrays], Arrays]


def single(fn: Callable[..., np.ndarray], field: str, *args: Any) -> Reference:
    """TA-Lib reference for a one-input, one-output function."""
    return lambda c: {"result": fn(c[field], *args)}


CASES: list[Any] = [
    pytest.param("sma", {"N": 5}, single(talib.SMA, "close", 5), None, id="sma-5"),
    pytest.param("sma", {"N": 20}, single(talib.SMA, "close", 20), None, id="sma-20"),
    pytest.param("sma", {"N": 200}, single(talib.SMA, "close", 200), None, id="sma-200"),
    pytest.param(
        "sma", {"N": 30, "source": "high"}, single(talib.SMA, "high", 30), None, id="sma-30-high"
    ),
    pytest.param("ema", {"N": 1}, single(talib.EMA, "close", 1), None, id="ema-1"),
    pytest.param("ema", {"N": 10}, single(talib.EMA, "close", 10), None, id="ema-10"),
    pytest.param("ema", {"N": 50}, single(talib.EMA, "close", 50), None, id="ema-50"),
    pytest.param("wma", {"N": 5}, single(talib.WMA, "close", 5), None, id="wma-5"),
    pytest.param("wma", {"N": 20}, single(talib.WMA, "close", 20), None, id="wma-20"),
    pytest.param(
        "wma", {"N": 100, "source": "open"}, single(talib.WMA, "open", 100), None, id="wma-100-open"
    ),
    pytest.param("rsi", {}, single(talib.RSI, "close", 14), "oscillator", id="rsi-14"),
    pytest.param("rsi", {"N": 5}, single(talib.RSI, "close", 5), "oscillator", id="rsi-5"),
    pytest.param("rsi", {"N": 2}, single(talib.RSI, "close", 2), "oscillator", id="rsi-2"),
    pytest.param("std", {"N": 5}, single(talib.STDDEV, "close", 5, 1.0), "price", id="std-5"),
    pytest.param(
        "std", {"N": 20, "nbdev": 2.5}, single(talib.STDDEV, "close", 20, 2.5), "price", id="std-20"
    ),
    pytest.param("std", {"N": 100}, single(talib.STDDEV, "close", 100, 1.0), "price", id="std-100"),
    pytest.param(
        "obv", {}, lambda c: {"result": talib.OBV(c["close"], c["volume"])}, "volume", id="obv"
    ),
    pytest.param(
        "macd",
        {},
        lambda c: dict(zip(("macd", "signal", "hist"), talib.MACD(c["close"]), strict=True)),
        "price",
        id="macd-12-26-9",
    ),
    pytest.param(
        "macd",
        {"fast": 5, "slow": 13, "signal": 4},
        lambda c: dict(
            zip(("macd", "signal", "hist"), talib.MACD(c["close"], 5, 13, 4), strict=True)
        ),
        "price",
        id="macd-5-13-4",
    ),
    pytest.param(
        "macd",
        {"fast": 3, "slow": 10, "signal": 1},
        lambda c: dict(
            zip(("macd", "signal", "hist"), talib.MACD(c["close"], 3, 10, 1), strict=True)
        ),
        "price",
        id="macd-3-10-1",
    ),
    pytest.param(
        "bbands",
        {},
        lambda c: dict(
            zip(
                ("upper", "middle", "lower"),
                talib.BBANDS(c["close"], 20, 2.0, 2.0, SMA_MATYPE),
                strict=True,
            )
        ),
        None,
        id="bbands-20",
    ),
    pytest.param(
        "bbands",
        {"N": 10, "nbdev_up": 1.5, "nbdev_dn": 2.5},
        lambda c: dict(
            zip(
                ("upper", "middle", "lower"),
                talib.BBANDS(c["close"], 10, 1.5, 2.5, SMA_MATYPE),
                strict=True,
            )
        ),
        None,
        id="bbands-10-asym",
    ),
    pytest.param(
        "bbands",
        {"N": 50, "nbdev_up": 1.0, "nbdev_dn": 3.0, "source": "low"},
        lambda c: dict(
            zip(
                ("upper", "middle", "lower"),
                talib.BBANDS(c["low"], 50, 1.0, 3.0, SMA_MATYPE),
                strict=True,
            )
        ),
        None,
        id="bbands-50-low",
    ),
    pytest.param(
        "atr",
        {},
        lambda c: {"result": talib.ATR(c["high"], c["low"], c["close"], 14)},
        None,
        id="atr-14",
    ),
    pytest.param(
        "atr",
        {"N": 5},
        lambda c: {"result": talib.ATR(c["high"], c["low"], c["close"], 5)},
        None,
        id="atr-5",
    ),
    pytest.param(
        "atr",
        {"N": 1},
        lambda c: {"result": talib.ATR(c["high"], c["low"], c["close"], 1)},
        None,
        id="atr-1",
    ),
]


def atol_for(scale: str | None, candles: Arrays) -> float:
    """Absolute tolerance for outputs that can be near zero (see module docstring)."""
    if scale == "price":
        return 1e-9 * float(np.median(np.abs(candles["close"])))
    if scale == "oscillator":
        return 1e-9 * 100.0
    if scale == "volume":
        return 1e-9 * float(np.median(candles["volume"]))
    return 0.0


def assert_matches(actual: Arrays, expected: Arrays, atol: float) -> None:
    """Same NaN positions (same warm-up) and values within rtol=1e-9 / atol."""
    assert set(actual) == set(expected)
    for output, reference in expected.items():
        np.testing.assert_array_equal(
            np.isnan(actual[output]), np.isnan(reference), err_msg=f"{output}: NaN positions"
        )
        valid = ~np.isnan(reference)
        assert valid.sum() > 0, f"{output}: no values after warm-up"
        np.testing.assert_allclose(
            actual[output][valid], reference[valid], rtol=1e-9, atol=atol, err_msg=output
        )


def build(name: str, config: dict[str, Any]) -> BaseIndicator:
    return BUILTIN_INDICATORS[name](**config)


@pytest.mark.parametrize(("name", "config", "reference", "scale"), CASES)
def test_compute_matches_talib(
    candles: Arrays, name: str, config: dict[str, Any], reference: Reference, scale: str | None
) -> None:
    indicator = build(name, config)
    result = indicator.compute(*(candles[field] for field in indicator.inputs))
    assert_matches(result, reference(candles), atol_for(scale, candles))


@pytest.mark.parametrize(("name", "config", "reference", "scale"), CASES)
def test_streaming_matches_talib_and_compute(
    candles: Arrays,
    stream: Callable[..., Arrays],
    name: str,
    config: dict[str, Any],
    reference: Reference,
    scale: str | None,
) -> None:
    indicator = build(name, config)
    arrays = [candles[field] for field in indicator.inputs]
    streamed = stream(indicator, arrays)
    assert_matches(streamed, reference(candles), atol_for(scale, candles))
    # Both modes run the same floating-point operations in the same order (see
    # ats/indicators/_kernels.py), so they agree exactly, not just to 1e-9.
    vectorised = build(name, config).compute(*arrays)
    for output in indicator.outputs:
        np.testing.assert_array_equal(streamed[output], vectorised[output], err_msg=output)


def test_flat_windows_match_talib_exactly(candles: Arrays) -> None:
    """Prices rounded to $20 give many constant windows: std must be exactly 0 there."""
    close = np.round(candles["close"] / 20.0) * 20.0
    for n in (3, 5):
        expected = talib.STDDEV(close, n, 1.0)
        assert (expected == 0.0).sum() > 100
        assert_matches(build("std", {"N": n}).compute(close), {"result": expected}, 0.0)
        upper, middle, lower = talib.BBANDS(close, n, 2.0, 2.0, SMA_MATYPE)
        bands = build("bbands", {"N": n}).compute(close)
        assert_matches(bands, {"upper": upper, "middle": middle, "lower": lower}, 0.0)
        rsi = build("rsi", {"N": n}).compute(close)
        assert_matches(rsi, {"result": talib.RSI(close, n)}, 1e-7)


def test_constant_series_like_talib() -> None:
    flat = np.full(60, 30_000.0)
    assert_matches(build("std", {"N": 10}).compute(flat), {"result": talib.STDDEV(flat, 10)}, 0.0)
    # TA-Lib reports RSI 0 (not 50) when there is no movement at all.
    assert_matches(build("rsi", {}).compute(flat), {"result": talib.RSI(flat, 14)}, 0.0)
    macd = build("macd", {}).compute(flat)
    assert np.all(macd["hist"][~np.isnan(macd["hist"])] == 0.0)


# --------------------------------------------------------------------------- SuperTrend


def supertrend_reference(frame: pd.DataFrame, n: int, multiplier: float) -> pd.DataFrame:
    """Independent textbook SuperTrend (TradingView formulation), written as a plain loop.

    Unlike the library it decides the trend by comparing the previous SuperTrend value
    with the previous final upper band, as the Pine Script reference does.
    """
    high, low = frame["high"].to_numpy(), frame["low"].to_numpy()
    close = frame["close"].to_numpy()
    atr = pd.Series(talib.ATR(high, low, close, n), index=frame.index)
    hl2 = (frame["high"] + frame["low"]) / 2
    basic_upper = (hl2 + multiplier * atr).to_numpy()
    basic_lower = (hl2 - multiplier * atr).to_numpy()
    size = len(frame)
    upper, lower = np.full(size, np.nan), np.full(size, np.nan)
    trend, direction = np.full(size, np.nan), np.full(size, np.nan)
    first = int(np.argmax(atr.notna().to_numpy()))
    for i in range(first, size):
        if i == first:
            upper[i], lower[i] = basic_upper[i], basic_lower[i]
            direction[i] = -1.0
        else:
            carry_up = basic_upper[i] >= upper[i - 1] and close[i - 1] <= upper[i - 1]
            upper[i] = upper[i - 1] if carry_up else basic_upper[i]
            carry_down = basic_lower[i] <= lower[i - 1] and close[i - 1] >= lower[i - 1]
            lower[i] = lower[i - 1] if carry_down else basic_lower[i]
            if trend[i - 1] == upper[i - 1]:
                direction[i] = 1.0 if close[i] > upper[i] else -1.0
            else:
                direction[i] = -1.0 if close[i] < lower[i] else 1.0
        trend[i] = lower[i] if direction[i] == 1.0 else upper[i]
    return pd.DataFrame(
        {"supertrend": trend, "direction": direction, "upper": upper, "lower": lower}
    )


SUPERTREND_CONFIGS = [{}, {"N": 7, "multiplier": 2.0}, {"N": 20, "multiplier": 1.0}]


@pytest.mark.parametrize("config", SUPERTREND_CONFIGS, ids=["default", "7-2", "20-1"])
def test_supertrend_atr_component_matches_talib(
    candles: Arrays, stream: Callable[..., Arrays], config: dict[str, Any]
) -> None:
    indicator = SuperTrend(**config)
    hlc = [candles["high"], candles["low"], candles["close"]]
    expected = talib.ATR(hlc[0], hlc[1], hlc[2], indicator.config["N"])
    assert_matches({"atr": indicator.compute_bands(*hlc)["atr"]}, {"atr": expected}, 0.0)
    streamed = np.empty(len(expected))
    for i, values in enumerate(zip(*hlc, strict=True)):
        indicator.update(*values)
        streamed[i] = indicator.atr
    assert_matches({"atr": streamed}, {"atr": expected}, 0.0)


@pytest.mark.parametrize("config", SUPERTREND_CONFIGS, ids=["default", "7-2", "20-1"])
def test_supertrend_matches_reference_in_both_modes(
    candles: Arrays, stream: Callable[..., Arrays], config: dict[str, Any]
) -> None:
    indicator = SuperTrend(**config)
    hlc = [candles["high"], candles["low"], candles["close"]]
    frame = pd.DataFrame({"high": hlc[0], "low": hlc[1], "close": hlc[2]})
    reference = supertrend_reference(frame, indicator.config["N"], indicator.config["multiplier"])
    vectorised = indicator.compute(*hlc)
    streamed = stream(SuperTrend(**config), hlc)
    expected = {output: reference[output].to_numpy() for output in indicator.outputs}
    assert_matches(vectorised, expected, 0.0)
    assert_matches(streamed, expected, 0.0)
    bands = indicator.compute_bands(*hlc)
    assert_matches(
        {"upper": bands["upper"], "lower": bands["lower"]},
        {"upper": reference["upper"].to_numpy(), "lower": reference["lower"].to_numpy()},
        0.0,
    )
    for output in indicator.outputs:
        np.testing.assert_array_equal(streamed[output], vectorised[output], err_msg=output)
    # The data must actually exercise both trends and many flips.
    direction = vectorised["direction"][~np.isnan(vectorised["direction"])]
    assert set(np.unique(direction)) == {-1.0, 1.0}
    assert np.count_nonzero(np.diff(direction)) > 20


def test_supertrend_hand_computed_example(stream: Callable[..., Arrays]) -> None:
    """N=1 (ATR = true range), multiplier=1; every number below is exact in binary.

    bar  h   l   c     TR  hl2   basic up/lo   final up/lo  dir  why
    0    10  8   9     -   -     -             -            -    no ATR yet
    1    11  9   10    2   10    12 / 8        12 / 8       -1   first bar starts down
    2    13  11  12.5  3   12    15 / 9        12 / 9       +1   12.5 > final upper 12
    3    14  12  13    2   13    15 / 11       15 / 11      +1   prev close 12.5 > 12: reset
    4    13  10  10.5  3   11.5  14.5 / 8.5    14.5 / 11    -1   10.5 < final lower 11
    5    11  9   9.5   2   10    12 / 8        12 / 8       -1   12 < 14.5; prev close 10.5 < 11
    """
    high = np.array([10.0, 11.0, 13.0, 14.0, 13.0, 11.0])
    low = np.array([8.0, 9.0, 11.0, 12.0, 10.0, 9.0])
    close = np.array([9.0, 10.0, 12.5, 13.0, 10.5, 9.5])
    expected = {
        "supertrend": np.array([np.nan, 12.0, 9.0, 11.0, 14.5, 12.0]),
        "direction": np.array([np.nan, -1.0, 1.0, 1.0, -1.0, -1.0]),
    }
    indicator = SuperTrend(N=1, multiplier=1.0)
    for result in (indicator.compute(high, low, close), stream(indicator, [high, low, close])):
        for output, values in expected.items():
            np.testing.assert_array_equal(result[output], values, err_msg=output)
    bands = SuperTrend(N=1, multiplier=1.0).compute_bands(high, low, close)
    np.testing.assert_array_equal(bands["upper"], [np.nan, 12.0, 12.0, 15.0, 14.5, 12.0])
    np.testing.assert_array_equal(bands["lower"], [np.nan, 8.0, 9.0, 11.0, 11.0, 8.0])
    assert indicator.result == 12.0 and indicator.direction == -1.0
