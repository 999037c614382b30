"""Parameter spaces: which values each strategy parameter takes in a search.

A dimension is a range (``10:100:5``, both ends included, exact in decimal so
``0.1:0.5:0.1`` gives 0.1, 0.2, ... 0.5) or a list of choices (``10,20,50``). The same
text works on the command line (``--param fast=10:100:5``) and in a YAML spec, where a
list or a ``{low, high, step}`` mapping may be written instead.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ats.exceptions import ConfigError
from ats.utils.config_files import parse_yaml_value

Value = int | float | str | bool
Params = dict[str, Value]

MAX_GRID = 1_000_000
"""A grid larger than this is refused (use ``--method optuna``)."""


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched parameter: its values in grid order; ``low/high/step`` for ranges."""

    name: str
    values: tuple[Value, ...]
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None

    @property
    def is_range(self) -> bool:
        return self.step is not None

    def to_json(self) -> dict[str, Any]:
        if self.is_range:
            return {"low": self.low, "high": self.high, "step": self.step}
        return {"choices": list(self.values)}


@dataclass(frozen=True, slots=True)
class ParamSpace:
    """The searched parameters, in the order they were given."""

    dimensions: tuple[Dimension, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dimension.name for dimension in self.dimensions)

    @property
    def size(self) -> int:
        return math.prod(len(dimension.values) for dimension in self.dimensions)

    def grid(self) -> Iterator[Params]:
        """Every combination, the last parameter varying fastest."""
        names = self.names
        for combination in itertools.product(*(d.values for d in self.dimensions)):
            yield dict(zip(names, combination, strict=True))

    def to_json(self) -> dict[str, Any]:
        return {dimension.name: dimension.to_json() for dimension in self.dimensions}


def is_search_text(text: str) -> bool:
    """Whether a ``--param`` value asks for a search (a range or a list), not one value."""
    return ":" in text or "," in text


def parse_dimension(name: str, raw: Any) -> Dimension:
    """A dimension from CLI text (``10:100:5``, ``10,20,50``) or YAML (list, mapping)."""
    where = f"param {name}"
    if isinstance(raw, Mapping):
        unknown = set(raw) - {"low", "high", "step"}
        if unknown or not {"low", "high"} <= set(raw):
            raise ConfigError(f"{where}: a range mapping needs low and high (and maybe step)")
        return _range(name, str(raw["low"]), str(raw["high"]), str(raw.get("step", 1)))
    if isinstance(raw, list | tuple):
        return _choices(name, list(raw))
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: expected a range LOW:HIGH[:STEP] or a list, got {raw!r}")
    text = raw.strip()
    if ":" in text:
        parts = [part.strip() for part in text.split(":")]
        if len(parts) not in (2, 3) or not all(parts):
            raise ConfigError(f"{where}: a range is LOW:HIGH or LOW:HIGH:STEP, got {raw!r}")
        return _range(name, parts[0], parts[1], parts[2] if len(parts) == 3 else "1")
    items = [item.strip() for item in text.split(",")]
    return _choices(name, [_scalar(item) for item in items if item])


def _scalar(text: str) -> Value:
    value = parse_yaml_value(text, source="--param")
    return value if isinstance(value, int | float | str | bool) else text


def _choices(name: str, values: list[Any]) -> Dimension:
    if not values:
        raise ConfigError(f"param {name}: the list of values is empty")
    for value in values:
        if not isinstance(value, int | float | str | bool):
            raise ConfigError(f"param {name}: {value!r} is not a number, text or true/false")
    if len(set(values)) != len(values):
        raise ConfigError(f"param {name}: the list repeats a value")
    return Dimension(name, tuple(values))


def _range(name: str, low_text: str, high_text: str, step_text: str) -> Dimension:
    try:
        low, high, step = Decimal(low_text), Decimal(high_text), Decimal(step_text)
    except InvalidOperation:
        raise ConfigError(
            f"param {name}: range bounds must be numbers, got {low_text}:{high_text}:{step_text}"
        ) from None
    if not all(number.is_finite() for number in (low, high, step)):
        raise ConfigError(f"param {name}: range bounds must be finite numbers")
    if step <= 0:
        raise ConfigError(f"param {name}: the step must be positive, got {step_text}")
    if high < low:
        raise ConfigError(f"param {name}: the range {low_text}:{high_text} is empty")
    count = int((high - low) / step) + 1
    if count > MAX_GRID:
        raise ConfigError(f"param {name}: {count:,} values are too many (step {step_text})")
    integral = all(number == number.to_integral_value() for number in (low, high, step)) and not (
        any("." in text or "e" in text.lower() for text in (low_text, high_text, step_text))
    )
    convert = int if integral else float
    values = tuple(convert(low + k * step) for k in range(count))
    return Dimension(name, values, convert(low), convert(high), convert(step))
