"""Base class and config helpers shared by every indicator.

An indicator runs in two modes that must agree:

* streaming: ``update(*values)`` with one new value per input, O(1) per call, the latest
  value of each output kept in a plain instance attribute (live trading, slow backtests);
* vectorised: ``compute(*arrays)`` over whole float64 arrays (fast backtests), after which
  the engine simply ``setattr``s each output attribute candle by candle.

Because of the second mode, outputs are plain attributes (never properties), ``is_ready``
only looks at them, and ``compute`` must never touch the streaming state. Streaming state
is snapshotted with ``get_state`` as plain JSON so a trading job can be stopped and resumed.

Subclasses set ``name``/``inputs``/``outputs``, read their parameters in ``_configure``,
implement ``update`` and ``_compute``, reset their private fields in ``_reset_state`` and
list those fields in ``_state_fields`` so the generic ``get_state``/``set_state`` can save
them (floats, ints, deques of floats and nested indicators are supported). Inputs are
assumed finite, as exchange candles are.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

CANDLE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

_MISSING = object()

Panel = Literal["price", "oscillator"]
"""Where a chart draws an indicator: on the candles' price axis, or in a panel of its own
under them (its own y axis, the same time axis)."""
OutputStyle = Literal["line", "bars", "hidden"]
"""How a chart draws one output: a line, bars from zero (a MACD histogram), or not at all
(SuperTrend's +1/-1 direction)."""


class IndicatorConfigError(ValueError):
    """Invalid indicator configuration; ``field`` names the offending config key."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigReader:
    """Validates an indicator's ``**config`` one field at a time.

    Each accessor records the validated value, so ``finish()`` returns the complete
    (defaults included) JSON-serialisable config and rejects keys nobody asked for,
    which catches typos such as ``n=14`` instead of ``N=14``.
    """

    def __init__(self, indicator: str, config: Mapping[str, Any]) -> None:
        self._indicator = indicator
        self._raw = dict(config)
        self._values: dict[str, Any] = {}

    def fail(self, key: str, expected: str, value: Any) -> IndicatorConfigError:
        """The error to raise when ``key`` is not ``expected`` (for cross-field checks)."""
        return IndicatorConfigError(
            f"{self._indicator}: {key} must be {expected}, got {value!r}", field=key
        )

    def _take(self, key: str, default: Any, expected: str) -> Any:
        value = self._raw.get(key, default)
        if value is _MISSING:
            raise IndicatorConfigError(
                f"{self._indicator}: {key} is required ({expected})", field=key
            )
        return value

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int = 1) -> int:
        """An int >= ``minimum`` (bools and floats such as 14.0 are rejected)."""
        expected = f"an integer >= {minimum}"
        value = self._take(key, default, expected)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
            raise self.fail(key, expected, value)
        self._values[key] = int(value)
        return int(value)

    def number(
        self, key: str, default: Any = _MISSING, *, minimum: float = 0.0, strict: bool = True
    ) -> float:
        """A finite real number > ``minimum`` (or >= when ``strict`` is False)."""
        expected = f"a finite number {'>' if strict else '>='} {minimum:g}"
        value = self._take(key, default, expected)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.fail(key, expected, value)
        number = float(value)
        if not math.isfinite(number) or number < minimum or (strict and number == minimum):
            raise self.fail(key, expected, value)
        self._values[key] = number
        return number

    def choice(self, key: str, default: Any, choices: tuple[str, ...]) -> str:
        """One of ``choices`` (used for ``source``)."""
        expected = f"one of {', '.join(choices)}"
        value = self._take(key, default, expected)
        if not isinstance(value, str) or value not in choices:
            raise self.fail(key, expected, value)
        self._values[key] = value
        return value

    def source(self, default: str = "close") -> str:
        """The candle field a single-input indicator reads."""
        return self.choice("source", default, CANDLE_FIELDS)

    def finish(self) -> dict[str, Any]:
        """The validated config; raises on unknown keys."""
        unknown = sorted(set(self._raw) - set(self._values))
        if unknown:
            known = ", ".join(self._values) or "none"
            raise IndicatorConfigError(
                f"{self._indicator}: unknown config field {unknown[0]!r} (accepted: {known})",
                field=unknown[0],
            )
        return dict(self._values)


def _dump(value: Any) -> Any:
    """Encode one state value as JSON-safe data (NaN becomes None)."""
    if isinstance(value, BaseIndicator):
        return value.get_state()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, deque | list | tuple):
        return [_dump(item) for item in value]
    raise TypeError(f"cannot serialise indicator state value of type {type(value).__name__}")


def _load_float(raw: Any) -> float:
    return math.nan if raw is None else float(raw)


def _load(current: Any, raw: Any) -> Any:
    """Decode ``raw`` using the type of the freshly reset attribute ``current``."""
    if isinstance(current, BaseIndicator):
        current.set_state(raw)
        return current
    if isinstance(current, deque):
        return deque((_load_float(item) for item in raw), maxlen=current.maxlen)
    if isinstance(current, list):
        return [_load_float(item) for item in raw]
    if isinstance(current, bool):
        return bool(raw)
    if isinstance(current, int):
        return int(raw)
    if isinstance(current, float):
        return _load_float(raw)
    return raw


class BaseIndicator(abc.ABC):
    """Streaming + vectorised technical indicator (see the module docstring)."""

    name: ClassVar[str]
    # Not a ClassVar on purpose: single-input indicators narrow it per instance from the
    # ``source`` config (``self.inputs = (source,)``); the class value is the default.
    inputs: tuple[str, ...] = ("close",)
    outputs: ClassVar[tuple[str, ...]] = ("result",)
    # Private attributes that make up the streaming state (saved by get_state).
    _state_fields: ClassVar[tuple[str, ...]] = ()
    panel: ClassVar[Panel] = "price"
    """Charts draw the outputs over the candles (a moving average) or, for values on
    another scale (RSI, MACD, ATR, OBV), in an oscillator panel under them."""
    output_styles: ClassVar[Mapping[str, OutputStyle]] = {}
    """Outputs not drawn as a plain line (default ``line``)."""

    def __init__(self, **config: Any) -> None:
        reader = ConfigReader(self.name, config)
        self._configure(reader)
        self._config: dict[str, Any] = reader.finish()
        self.reset()

    # -- hooks for subclasses -------------------------------------------------------------

    def _configure(self, cfg: ConfigReader) -> None:  # noqa: B027 - optional hook
        """Read and validate parameters from ``cfg``; store what ``update`` needs on self."""

    def _reset_state(self) -> None:  # noqa: B027 - optional hook
        """Put the private streaming fields back to their initial values."""

    @abc.abstractmethod
    def update(self, *values: float) -> None:
        """Consume one new value per input (in ``inputs`` order) and refresh the outputs."""

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        """Vectorised implementation behind ``compute``; arrays are validated float64."""
        raise NotImplementedError(f"{type(self).__name__} must implement _compute")

    # -- public API -----------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The validated config, defaults included (a copy, JSON-serialisable)."""
        return dict(self._config)

    def reset(self) -> None:
        """Forget all streamed values."""
        for output in self.outputs:
            setattr(self, output, math.nan)
        self._reset_state()

    def is_ready(self) -> bool:
        """True once the outputs hold values (the last output is the last to warm up)."""
        return not math.isnan(getattr(self, self.outputs[-1]))

    def compute(self, *arrays: np.ndarray) -> dict[str, np.ndarray]:
        """Whole-array version of ``update``: one array per input -> one array per output.

        Outputs have the input length and are NaN during warm-up. Streaming state is not
        read or modified.
        """
        if len(arrays) != len(self.inputs):
            raise ValueError(
                f"{self.name}: compute expects {len(self.inputs)} array(s) "
                f"({', '.join(self.inputs)}), got {len(arrays)}"
            )
        converted = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
        for field, array in zip(self.inputs, converted, strict=True):
            if array.ndim != 1:
                raise ValueError(f"{self.name}: {field} must be 1-D, got shape {array.shape}")
        if len({array.shape[0] for array in converted}) > 1:
            raise ValueError(f"{self.name}: input arrays must have the same length")
        return dict(self._compute(*converted))

    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of the streaming state (NaN stored as None)."""
        return {
            "name": self.name,
            "config": self.config,
            "outputs": {output: _dump(getattr(self, output)) for output in self.outputs},
            "fields": {field: _dump(getattr(self, field)) for field in self._state_fields},
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore a ``get_state`` snapshot taken from an identically configured indicator."""
        if state.get("name") != self.name:
            raise ValueError(f"{self.name}: state belongs to indicator {state.get('name')!r}")
        if state.get("config") != self._config:
            raise ValueError(
                f"{self.name}: state was saved with config {state.get('config')!r}, "
                f"this indicator has {self._config!r}"
            )
        try:
            fields = state["fields"]
            outputs = state["outputs"]
            self.reset()
            for field in self._state_fields:
                setattr(self, field, _load(getattr(self, field), fields[field]))
            for output in self.outputs:
                setattr(self, output, _load_float(outputs[output]))
        except (KeyError, TypeError, ValueError) as exc:
            self.reset()
            raise ValueError(f"{self.name}: malformed state ({exc!r})") from exc

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self._config.items())
        return f"{type(self).__name__}({params})"
