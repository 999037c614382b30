"""Typed, JSON-serialisable key/value state for strategies.

Strategies declare their state as annotated class attributes of a SimpleState subclass::

    class State(SimpleState):
        in_position: bool = False
        last_cross: float | None = None

Reading and writing are plain attribute accesses (fast in the per-candle hot loop); the
annotations are used to validate a snapshot when it is loaded, so a hand-edited or
corrupt file is refused with the offending key named instead of being misread.
"""

from __future__ import annotations

import copy
import math
import types
import typing
from typing import Any, ClassVar, Self, Union

from ats.exceptions import StateError

_JSON_SCALARS = (str, int, float, bool, type(None))


class SimpleState:
    """Base class: subclass it and annotate the fields with JSON-compatible types."""

    _fields: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass is object or not issubclass(klass, SimpleState):
                continue
            hints = typing.get_type_hints(klass)
            for name in getattr(klass, "__annotations__", {}):
                if name.startswith("_") or typing.get_origin(hints[name]) is ClassVar:
                    continue
                if name not in klass.__dict__:
                    raise TypeError(f"{klass.__name__}.{name} needs a default value")
                fields[name] = hints[name]
        cls._fields = fields

    def __init__(self, **values: Any) -> None:
        for name in self._fields:
            setattr(self, name, copy.deepcopy(getattr(type(self), name)))
        for name, value in values.items():
            if name not in self._fields:
                raise StateError(f"{type(self).__name__}: unknown state key {name!r}")
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; NaN/inf floats are encoded as strings so the JSON stays valid."""
        return {name: _encode(getattr(self, name)) for name in self._fields}

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Validate ``data`` against the annotations; raise StateError naming the key."""
        if not isinstance(data, dict):
            raise StateError(f"{cls.__name__}: state must be an object, got {type(data).__name__}")
        state = cls()
        for name, value in data.items():
            if name not in cls._fields:
                raise StateError(f"{cls.__name__}: unknown state key {name!r}")
            decoded = _decode(value)
            if not _matches(decoded, cls._fields[name]):
                raise StateError(
                    f"{cls.__name__}.{name}: {value!r} is not a valid {cls._fields[name]}"
                )
            setattr(state, name, float(decoded) if cls._fields[name] is float else decoded)
        return state

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SimpleState)
            and type(other) is type(self)
            and (self.to_dict() == other.to_dict())
        )

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"


_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _encode(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, _JSON_SCALARS):
        return value
    raise StateError(f"state value {value!r} of type {type(value).__name__} is not JSON data")


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[value]
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    return value


def _matches(value: Any, annotation: Any) -> bool:
    """A small runtime check of JSON values against typing annotations."""
    if annotation is Any:
        return True
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(annotation))
    if annotation is type(None) or annotation is None:
        return value is None
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation in (str, bool):
        return isinstance(value, annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation) or (Any,)
        return isinstance(value, list) and all(_matches(item, item_type) for item in value)
    if origin is dict:
        _key_type, item_type = typing.get_args(annotation) or (str, Any)
        return isinstance(value, dict) and all(_matches(item, item_type) for item in value.values())
    if annotation in (list, dict):
        return isinstance(value, annotation)
    return False
