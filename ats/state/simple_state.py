"""Typed, JSON-serialisable key/value state for strategies.

Strategies declare their state as annotated class attributes of a SimpleState subclass::

    class State(SimpleState):
        in_position: bool = False
        last_cross: float | None = None

Reading is a plain attribute access. Every assignment is checked against the annotation,
so ``state.count = float("nan")`` into an ``int`` field raises :class:`StateValueError` at
the strategy's line that wrote it: the job goes to error there and then, instead of
saving a value that the next start cannot load (which would silently resume from an
older snapshot). A list or dict changed in place is checked when the state is saved.
Loading a snapshot checks the same annotations, naming the offending key.
"""

from __future__ import annotations

import copy
import math
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self, Union

from ats.exceptions import StateError

_JSON_SCALARS = (str, int, float, bool, type(None))

Predicate = Callable[[Any], bool]


class StateValueError(TypeError):
    """A strategy assigned a value its State's annotation does not allow.

    Deliberately not an ATSError: it is a bug in the strategy, and the job's log shows it
    with its traceback, like any other exception the strategy raises."""


class SimpleState:
    """Base class: subclass it and annotate the fields with JSON-compatible types."""

    _fields: ClassVar[dict[str, Any]] = {}
    """Field name -> annotation."""
    _checks: ClassVar[dict[str, Predicate]] = {}
    """Field name -> does a value fit the annotation (JSON data of the declared type)?"""

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
        checks = {}
        for name, annotation in fields.items():
            try:
                checks[name] = _predicate(annotation)
            except TypeError as exc:
                raise TypeError(f"{cls.__name__}.{name}: {exc}") from None
            default = getattr(cls, name)
            if not checks[name](default):
                raise TypeError(
                    f"{cls.__name__}.{name}: default {default!r} is not a valid "
                    f"{_type_name(annotation)}"
                )
        cls._fields, cls._checks = fields, checks
        cls.__setattr__ = _checked_setattr(cls)  # type: ignore[method-assign, assignment]

    def __init__(self, **values: Any) -> None:
        store = object.__setattr__
        for name in self._fields:
            store(self, name, copy.deepcopy(getattr(type(self), name)))
        for name, value in values.items():
            if name not in self._fields:
                raise StateError(f"{type(self).__name__}: unknown state key {name!r}")
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        # SimpleState itself has no fields; subclasses get a faster one (_checked_setattr).
        object.__setattr__(self, name, type(self)._checked(name, value))

    @classmethod
    def _checked(cls, name: str, value: Any) -> Any:
        """The value to store for ``name``, or StateValueError naming the caller's line."""
        check = cls._checks.get(name)
        if check is None:
            if name.startswith("_"):
                return value  # private helpers are allowed, and not saved
            raise StateValueError(
                f"{cls.__name__} has no field {name!r}: declare it with a type and a "
                f"default to keep it in the saved state{_caller()}"
            )
        if check(value):
            return value
        plain = _numpy_scalar_to_python(value)
        if plain is not value and check(plain):
            return plain
        raise StateValueError(
            f"{cls.__name__}.{name} = {value!r}: not a valid "
            f"{_type_name(cls._fields[name])}{_caller()}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data; NaN/inf floats are encoded as strings so the JSON stays valid.

        Raises StateError naming a field that no longer fits its annotation (a list or
        dict changed in place: assignments are checked as they happen)."""
        result = {}
        for name, check in self._checks.items():
            value = getattr(self, name)
            if not check(value):
                raise StateError(
                    f"{type(self).__name__}.{name}: {_short_repr(value)} is not a valid "
                    f"{_type_name(self._fields[name])} (changed in place?)"
                )
            result[name] = _encode(value)
        return result

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
            if not cls._checks[name](decoded):
                if not cls._checks[name](value):  # "NaN" is also a fine str
                    raise StateError(
                        f"{cls.__name__}.{name}: {value!r} is not a valid {cls._fields[name]}"
                    )
                decoded = value
            if cls._fields[name] is float:
                decoded = float(decoded)
            object.__setattr__(state, name, decoded)
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


def _checked_setattr(cls: type[SimpleState]) -> Callable[[SimpleState, str, Any], None]:
    """``cls.__setattr__``: a value of its field's plain type (a float into a float
    field) is stored after one type comparison; anything else takes the full check.

    A Python ``__setattr__`` still costs about 0.1 us per assignment against a few ns
    for a plain attribute (measured with bench/backtest_speed.py's sma_cross, which
    therefore writes its state only when it changes sign)."""
    fast_type = {name: _plain_type(annotation) for name, annotation in cls._fields.items()}.get
    checked = cls._checked
    store = object.__setattr__

    def __setattr__(self: SimpleState, name: str, value: Any) -> None:
        if type(value) is not fast_type(name):
            value = checked(name, value)
        store(self, name, value)

    return __setattr__


def _plain_type(annotation: Any) -> type | None:
    """The type whose instances always fit ``annotation`` (``float`` for ``float`` and
    ``float | None``), for the one-comparison path; None when every value needs a look."""
    if annotation in (float, int, bool, str):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg in (float, int, bool, str):
                return arg
    return None


def _predicate(annotation: Any) -> Predicate:
    """A check of JSON values against a typing annotation, built once per field.

    Raises TypeError for an annotation whose values cannot round-trip through JSON."""
    if annotation is Any:
        return _is_json_data
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        arms = [_predicate(arg) for arg in typing.get_args(annotation)]
        return lambda value: any(arm(value) for arm in arms)
    if annotation is type(None) or annotation is None:
        return lambda value: value is None
    if annotation is float:
        return _is_number
    if annotation is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if annotation in (str, bool):
        return lambda value: isinstance(value, annotation)
    if origin is list or annotation is list:
        (item_type,) = typing.get_args(annotation) or (Any,)
        item = _predicate(item_type)
        return lambda value: isinstance(value, list) and all(map(item, value))
    if origin is dict or annotation is dict:
        key_type, item_type = typing.get_args(annotation) or (str, Any)
        if key_type is not str:
            raise TypeError(f"dict keys must be str in JSON state, not {key_type!r}")
        item = _predicate(item_type)
        return lambda value: (
            isinstance(value, dict)
            and all(isinstance(key, str) and item(entry) for key, entry in value.items())
        )
    raise TypeError(
        f"{annotation!r} cannot be saved as JSON state (use float, int, bool, str, None, "
        "list[...], dict[str, ...] or a union of them)"
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_json_data(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, list | tuple):
        return all(map(_is_json_data, value))
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_json_data(item) for key, item in value.items())
    return False


def _numpy_scalar_to_python(value: Any) -> Any:
    """``numpy.int64(3)`` -> ``3`` (indicator arrays hand out numpy scalars); anything
    else unchanged. numpy is not imported for this."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _caller() -> str:
    """`` (at strategies/x/strategy.py:42)``: the first frame outside this module."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return ""
    path = Path(frame.f_code.co_filename)
    return f" (at {'/'.join(path.parts[-3:])}:{frame.f_lineno})"


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
