"""``json.dumps`` for worker threads that run next to the console's event loop.

The C encoder holds the GIL for a whole call: one ``json.dumps`` of a finished backtest's
6,000 orders is ~35 ms during which the event loop cannot run, even though the work is
"off the loop" in a thread. :func:`sliced_dumps` gives the same text, byte for byte, but
encodes long lists ``SLICE`` items per call, so the thread lets the loop in between.

Justified by bench/encode_stall.py: the loop's worst lag while a thread encodes a 10,000-
order snapshot is about 4x shorter than with one ``json.dumps`` call. orjson would be
faster still, but it does not write the same text (``1e-5``, raw UTF-8, NaN as ``null``),
and snapshot checksums and tests/integration/test_history_json.py hold ATS to ``json.dumps``'s.
"""

from __future__ import annotations

import json
from typing import Any

SLICE = 250
"""List items per C encoder call: ~1-2 ms of holding the GIL."""


def sliced_dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)`` with long lists (at any depth of dicts and lists)
    encoded a slice at a time. Options: ``separators`` and ``allow_nan``."""
    item_separator, key_separator = options.get("separators") or (", ", ": ")
    return _encode(value, item_separator, key_separator, options)


def _encode(value: Any, item_separator: str, key_separator: str, options: dict[str, Any]) -> str:
    if isinstance(value, list) and len(value) > SLICE:
        if any(isinstance(item, dict | list) and len(item) > SLICE for item in value):
            parts = [_encode(item, item_separator, key_separator, options) for item in value]
        else:
            parts = [
                json.dumps(value[start : start + SLICE], **options)[1:-1]
                for start in range(0, len(value), SLICE)
            ]
        return "[" + item_separator.join(parts) + "]"
    if (
        isinstance(value, dict)
        and all(type(key) is str for key in value)
        and any(isinstance(item, dict | list) for item in value.values())
    ):
        fields = [
            json.dumps(key, **options)
            + key_separator
            + _encode(item, item_separator, key_separator, options)
            for key, item in value.items()
        ]
        return "{" + item_separator.join(fields) + "}"
    return json.dumps(value, **options)
