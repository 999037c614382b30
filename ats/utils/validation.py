"""Turn pydantic validation errors into one line that names the field."""

from __future__ import annotations

from pydantic import ValidationError


def format_validation_error(exc: ValidationError, *, prefix: str = "", source: str = "") -> str:
    """``"job.yaml: strategy.params.fast: Input should be a valid integer (got 'x')"``.

    Only the first error is shown so the message stays one line; the rest usually follow
    from it.
    """
    first = exc.errors()[0]
    location = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    message = first["msg"]
    if first["type"] not in ("missing", "extra_forbidden") and "input" in first:
        message += f" (got {first['input']!r})"
    elif first["type"] == "extra_forbidden":
        message = "unknown field"
    head = f"{source}: " if source else ""
    more = len(exc.errors()) - 1
    tail = f" (+{more} more)" if more else ""
    return f"{head}{location or '<root>'}: {message}{tail}"
