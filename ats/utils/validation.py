"""Turn pydantic validation errors (and any error text) into one short line."""

from __future__ import annotations

import math
import reprlib
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

MAX_LINE = 300
"""Characters of one error line; longer messages are cut (a file's garbage can be long)."""

_short = reprlib.Repr()  # keyword arguments need Python 3.12
_short.maxlevel = 2
_short.maxdict = _short.maxlist = _short.maxtuple = _short.maxset = 4
_short.maxstring = _short.maxother = 60


def short_repr(value: Any) -> str:
    """``repr`` bounded in depth and length: a config value may be huge or deeply nested
    (a YAML alias bomb's full repr runs to gigabytes)."""
    return _short.repr(value)


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` as one printable line: control and non-printable characters escaped,
    whitespace runs collapsed, cut to ``limit`` characters."""
    escaped = "".join(
        char if char.isprintable() else _escape(char) for char in " ".join(text.split())
    )
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


def _escape(char: str) -> str:
    return repr(char)[1:-1] if char not in "\\'" else char


def format_validation_error(exc: ValidationError, *, prefix: str = "", source: str = "") -> str:
    """``"job.yaml: strategy.params.fast: Input should be a valid integer (got 'x')"``.

    Only the first error is shown so the message stays one line; the rest usually follow
    from it.
    """
    first = exc.errors()[0]
    location = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    message = first["msg"]
    if first["type"] not in ("missing", "extra_forbidden", "not_finite") and "input" in first:
        message += f" (got {short_repr(first['input'])})"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    head = f"{source}: " if source else ""
    more = len(exc.errors()) - 1
    tail = f" (+{more} more)" if more else ""
    return one_line(f"{head}{location or '<root>'}: {message}{tail}")


def require_finite(value: Any, path: str = "") -> Any:
    """``value`` unchanged if every number in it (nested lists and mappings too) is
    finite; a pydantic error naming the first NaN or infinity otherwise."""
    if isinstance(value, float) and not math.isfinite(value):
        where = f"{path} " if path else ""
        raise PydanticCustomError(
            "not_finite",
            "{where}must be a finite number, not {value}",
            {"where": where, "value": str(value)},
        )
    if isinstance(value, dict):
        for key, item in value.items():
            require_finite(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            require_finite(item, f"{path}[{index}]")
    return value
