"""The text a snapshot's checksum covers: compact JSON, keys in insertion order, NaN refused.

Byte for byte ``json.dumps(payload, separators=(",", ":"), allow_nan=False)``
(tests/integration/test_history_json.py checks it), so checksums and readers are unchanged, but the
history an exchange has encoded already (:class:`~ats.utils.encoded_history.EncodedHistory`)
is spliced in as text instead of being encoded again.

Why the standard library's encoder and not orjson or msgspec: neither gives this text
(they write ``1e-5`` for ``1e-05``, raw UTF-8 for ``\\u00e9``, ``null`` for NaN), and the
checksum of every snapshot already on disk covers it.
"""

from __future__ import annotations

import uuid
from typing import Any

from ats.utils.encoded_history import EncodedHistory, EncodedText, compact_json

Encoded = EncodedHistory | EncodedText


def canonical_json(payload: Any) -> str:
    """Compact JSON with keys in insertion order and NaN refused, reusing the text of
    every :class:`EncodedHistory` or :class:`EncodedText` found as a value in (nested)
    dicts."""
    marker = f"\x00ats-history-{uuid.uuid4().hex}-"
    found: list[Encoded] = []
    light = _swap(payload, marker, found)
    text = compact_json(light)
    for index, history in enumerate(found):
        text = text.replace(compact_json(f"{marker}{index}"), history.to_json(), 1)
    return text


def _swap(value: Any, marker: str, found: list[Encoded]) -> Any:
    """``value`` with each EncodedHistory under a dict key replaced by a unique string
    (dicts on the way are copied, nothing else is touched or walked)."""
    if not isinstance(value, dict):
        return value
    swapped: dict[Any, Any] | None = None
    for key, item in value.items():
        if isinstance(item, EncodedHistory | EncodedText):
            replacement: Any = f"{marker}{len(found)}"
            found.append(item)
        elif isinstance(item, dict):
            replacement = _swap(item, marker, found)
        else:
            continue
        if swapped is None:
            swapped = dict(value)
        swapped[key] = replacement
    return value if swapped is None else swapped
