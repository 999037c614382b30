"""The BaseIndicator contract the engine relies on: registry, outputs, readiness,
snapshots, config validation and the purity of ``compute``."""

from __future__ import annotations

import importlib
import inspect
import json
import math
from typing import Any

import numpy as np
import pytest

from ats.indicators import (
    BUILTIN_INDICATORS,
    BaseIndicator,
    IndicatorConfigError,
)
from ats.indicators.base_indicator import CANDLE_FIELDS

Arrays = dict[str, np.ndarray]

# One representative (non-default where possible) config per built-in.
CONFIGS: dict[str, dict[str, Any]] = {
    "sma": {"N": 7},
    "ema": {"N": 7},
    "wma": {"N": 7},
    "rsi": {"N": 7},
    "std": {"N": 7, "nbdev": 1.5},
    "obv": {},
    "macd": {"fast": 4, "slow": 9, "signal": 3},
    "bbands": {"N": 7, "nbdev_up": 1.5, "nbdev_dn": 2.5},
    "atr": {"N": 7},
    "supertrend": {"N": 7, "multiplier": 2.0},
}
NAMES = sorted(BUILTIN_INDICATORS)


def build(name: str) -> BaseIndicator:
    return BUILTIN_INDICATORS[name](**CONFIGS[name])


def inputs_of(indicator: BaseIndicator, candles: Arrays, size: int = 400) -> list[np.ndarray]:
    return [candles[field][:size] for field in indicator.inputs]


def test_registry_covers_every_builtin_module() -> None:
    assert sorted(CONFIGS) == NAMES
    for name, cls in BUILTIN_INDICATORS.items():
        assert cls.name == name
        module = importlib.import_module(f"ats.indicators.{name}")
        defined = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, BaseIndicator) and obj is not BaseIndicator
        ]
        assert defined == [cls], f"{name}: exactly one indicator class per module"
        assert set(cls.inputs) <= set(CANDLE_FIELDS)
        assert issubclass(IndicatorConfigError, ValueError)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_plain_attributes(name: str) -> None:
    indicator = build(name)
    for output in indicator.outputs:
        assert not isinstance(inspect.getattr_static(type(indicator), output, None), property)
        assert output in vars(indicator)
        assert math.isnan(getattr(indicator, output))
    if indicator.outputs != ("result",):
        # Multi-output indicators expose their first output as a read-only ``result``.
        multi: Any = indicator
        setattr(multi, indicator.outputs[0], 1.25)
        assert multi.result == 1.25
        with pytest.raises(AttributeError):
            multi.result = 2.0


@pytest.mark.parametrize("name", NAMES)
def test_is_ready_tracks_warm_up(name: str, candles: Arrays) -> None:
    indicator = build(name)
    arrays = inputs_of(indicator, candles)
    computed = build(name).compute(*arrays)
    first_valid = max(int(np.argmax(~np.isnan(values))) for values in computed.values())
    assert not indicator.is_ready()
    for i, row in enumerate(zip(*arrays, strict=True)):
        indicator.update(*row)
        assert indicator.is_ready() == (i >= first_valid), f"candle {i}"
    # Every output warms up at the same candle.
    for values in computed.values():
        assert int(np.argmax(~np.isnan(values))) == first_valid


@pytest.mark.parametrize("name", NAMES)
def test_is_ready_with_engine_style_setattr(name: str, candles: Arrays) -> None:
    """Fast backtests only ``setattr`` precomputed outputs; readiness must follow them."""
    indicator = build(name)
    computed = build(name).compute(*inputs_of(indicator, candles))
    first_valid = int(np.argmax(~np.isnan(computed[indicator.outputs[-1]])))
    for i in range(first_valid + 3):
        for output in indicator.outputs:
            setattr(indicator, output, computed[output][i])
        assert indicator.is_ready() == (i >= first_valid)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("split", [0, 3, 60, 333])
def test_state_round_trip_through_json(name: str, split: int, candles: Arrays) -> None:
    indicator = build(name)
    arrays = inputs_of(indicator, candles, size=500)
    rows = list(zip(*arrays, strict=True))
    uninterrupted = build(name)
    expected = []
    for values in rows:
        uninterrupted.update(*values)
        expected.append([getattr(uninterrupted, o) for o in uninterrupted.outputs])

    for values in rows[:split]:
        indicator.update(*values)
    snapshot = json.dumps(indicator.get_state(), allow_nan=False)  # strict JSON
    restored = build(name)
    restored.set_state(json.loads(snapshot))
    assert restored.get_state() == indicator.get_state()
    if split:
        assert [getattr(restored, o) for o in restored.outputs] == pytest.approx(
            expected[split - 1], nan_ok=True
        )
    for i, values in enumerate(rows[split:], start=split):
        restored.update(*values)
        actual = [getattr(restored, o) for o in restored.outputs]
        np.testing.assert_array_equal(actual, expected[i], err_msg=f"candle {i}")


@pytest.mark.parametrize("name", NAMES)
def test_set_state_rejects_foreign_state(name: str) -> None:
    indicator = build(name)
    state = indicator.get_state()
    other = "ema" if name != "ema" else "sma"
    with pytest.raises(ValueError, match="belongs to"):
        BUILTIN_INDICATORS[other](**CONFIGS[other]).set_state(state)
    with pytest.raises(ValueError, match="malformed"):
        indicator.set_state({**state, "fields": {}})
    if name != "obv":  # the only built-in without parameters
        key = "N" if "N" in CONFIGS[name] else "signal"
        differently_configured = BUILTIN_INDICATORS[name](**{**CONFIGS[name], key: 5})
        with pytest.raises(ValueError, match="config"):
            differently_configured.set_state(state)


@pytest.mark.parametrize("name", NAMES)
def test_compute_does_not_touch_streaming_state(name: str, candles: Arrays) -> None:
    indicator = build(name)
    arrays = inputs_of(indicator, candles, size=300)
    rows = list(zip(*arrays, strict=True))
    for values in rows[:100]:
        indicator.update(*values)
    before_state = indicator.get_state()
    before_outputs = [getattr(indicator, o) for o in indicator.outputs]
    other = [np.asarray(a[::-1]) * 1.01 for a in arrays]
    indicator.compute(*other)
    indicator.compute(*arrays)
    assert indicator.get_state() == before_state
    assert [getattr(indicator, o) for o in indicator.outputs] == before_outputs
    reference = build(name)
    for values in rows:
        reference.update(*values)
    for values in rows[100:]:
        indicator.update(*values)
    assert indicator.get_state() == reference.get_state()


@pytest.mark.parametrize("name", NAMES)
def test_reset_restarts_cleanly(name: str, candles: Arrays) -> None:
    indicator = build(name)
    rows = list(zip(*inputs_of(indicator, candles, size=120), strict=True))
    for values in rows:
        indicator.update(*values)
    indicator.reset()
    assert not indicator.is_ready()
    assert indicator.get_state() == build(name).get_state()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [0, 1, 5])
def test_compute_on_short_input(name: str, size: int, candles: Arrays) -> None:
    indicator = build(name)
    result = indicator.compute(*inputs_of(indicator, candles, size=size))
    assert set(result) == set(indicator.outputs)
    for output in indicator.outputs:
        assert result[output].shape == (size,)
        assert result[output].dtype == np.float64
    if name != "obv":  # OBV is defined from the very first candle
        assert all(np.isnan(values).all() for values in result.values())


def test_compute_validates_arrays() -> None:
    sma = BUILTIN_INDICATORS["sma"](N=3)
    with pytest.raises(ValueError, match="expects 1 array"):
        sma.compute(np.ones(5), np.ones(5))
    with pytest.raises(ValueError, match="1-D"):
        sma.compute(np.ones((5, 2)))
    atr = BUILTIN_INDICATORS["atr"]()
    with pytest.raises(ValueError, match="same length"):
        atr.compute(np.ones(5), np.ones(5), np.ones(4))
    # Integer arrays are accepted and converted to float64.
    result = sma.compute(np.array([1, 2, 3, 4]))["result"]
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [np.nan, np.nan, 2.0, 3.0])


def test_source_config_sets_inputs_per_instance() -> None:
    sma_cls = BUILTIN_INDICATORS["sma"]
    on_high = sma_cls(N=3, source="high")
    assert on_high.inputs == ("high",)
    assert sma_cls(N=3).inputs == ("close",)
    assert sma_cls.inputs == ("close",)
    assert BUILTIN_INDICATORS["bbands"](source="open").inputs == ("open",)
    assert BUILTIN_INDICATORS["atr"]().inputs == ("high", "low", "close")
    assert BUILTIN_INDICATORS["obv"]().inputs == ("close", "volume")


def test_config_includes_defaults_and_is_a_copy() -> None:
    macd = BUILTIN_INDICATORS["macd"]()
    assert macd.config == {"source": "close", "fast": 12, "slow": 26, "signal": 9}
    macd.config["fast"] = 99
    assert macd.config["fast"] == 12
    assert BUILTIN_INDICATORS["bbands"]().config == {
        "source": "close",
        "N": 20,
        "nbdev_up": 2.0,
        "nbdev_dn": 2.0,
    }
    assert BUILTIN_INDICATORS["supertrend"]().config == {"N": 10, "multiplier": 3.0}
    assert BUILTIN_INDICATORS["rsi"]().config == {"source": "close", "N": 14}
    assert BUILTIN_INDICATORS["atr"]().config == {"N": 14}
    assert BUILTIN_INDICATORS["obv"]().config == {}
    for name in NAMES:
        json.dumps(build(name).config, allow_nan=False)


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("sma", {"N": 0}, "N"),
    ("sma", {"N": -3}, "N"),
    ("sma", {"N": 2.5}, "N"),
    ("sma", {"N": 14.0}, "N"),
    ("sma", {"N": "5"}, "N"),
    ("sma", {"N": True}, "N"),
    ("sma", {}, "N"),
    ("sma", {"N": 5, "n": 5}, "n"),
    ("sma", {"N": 5, "source": "price"}, "source"),
    ("ema", {"N": None}, "N"),
    ("wma", {"N": 0}, "N"),
    ("rsi", {"N": 0}, "N"),
    ("std", {"N": 5, "nbdev": 0.0}, "nbdev"),
    ("std", {"N": 5, "nbdev": float("nan")}, "nbdev"),
    ("std", {"N": 5, "nbdev": "2"}, "nbdev"),
    ("obv", {"N": 5}, "N"),
    ("macd", {"fast": 26, "slow": 12}, "slow"),
    ("macd", {"fast": 12, "slow": 12}, "slow"),
    ("macd", {"signal": 0}, "signal"),
    ("bbands", {"nbdev_up": -1.0}, "nbdev_up"),
    ("bbands", {"nbdev_dn": float("inf")}, "nbdev_dn"),
    ("atr", {"N": 0}, "N"),
    ("supertrend", {"multiplier": 0}, "multiplier"),
    ("supertrend", {"N": 1.5}, "N"),
]


@pytest.mark.parametrize(("name", "config", "field"), BAD_CONFIGS)
def test_config_errors_name_the_field(name: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(IndicatorConfigError) as caught:
        BUILTIN_INDICATORS[name](**config)
    message = str(caught.value)
    assert message.startswith(f"{name}: {field} ") or f"{field!r}" in message, message
    assert caught.value.field == field


def test_config_error_message_format() -> None:
    with pytest.raises(ValueError, match=r"^sma: N must be an integer >= 1, got 0$"):
        BUILTIN_INDICATORS["sma"](N=0)
    with pytest.raises(IndicatorConfigError, match=r"^sma: N is required"):
        BUILTIN_INDICATORS["sma"]()


def test_numpy_scalars_are_accepted() -> None:
    sma = BUILTIN_INDICATORS["sma"](N=np.int64(3))
    assert sma.config == {"source": "close", "N": 3}
    assert type(sma.config["N"]) is int
    sma.update(np.float64(1.0))
    json.dumps(sma.get_state(), allow_nan=False)


def test_update_rejects_wrong_arity() -> None:
    with pytest.raises(ValueError):
        BUILTIN_INDICATORS["sma"](N=3).update(1.0, 2.0)
    with pytest.raises(ValueError):
        BUILTIN_INDICATORS["atr"]().update(1.0, 2.0)


def test_repr_shows_config() -> None:
    assert repr(BUILTIN_INDICATORS["bbands"](N=5)) == (
        "BBANDS(source='close', N=5, nbdev_up=2.0, nbdev_dn=2.0)"
    )
