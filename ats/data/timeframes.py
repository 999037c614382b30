"""Candle lengths: ccxt's timeframe strings (``"3s"``, ``"5m"``, ``"1d"``) and milliseconds.

The one place that converts between them, for candle files, feeds, the downloader,
research and every front end (which shows ``""`` for a length not known yet).
"""

from __future__ import annotations

import re

_UNIT_MS: dict[str, int] = {
    "w": 7 * 24 * 3_600_000,
    "d": 24 * 3_600_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
}
_TIMEFRAME_RE = re.compile(r"^\s*(\d+)\s*(ms|[smhdwMy])\s*$")


def timeframe_to_ms(tf: str) -> int:
    """Convert a ccxt timeframe such as ``"3s"``, ``"5m"`` or ``"1d"`` to milliseconds.

    Months and years are rejected because they have no fixed length; ``"250ms"`` is
    accepted so that :func:`ms_to_timeframe` output always converts back.
    """
    match = _TIMEFRAME_RE.match(tf)
    if match is None:
        raise ValueError(f"invalid timeframe {tf!r} (expected e.g. '3s', '1m', '4h', '1d')")
    amount, unit = int(match.group(1)), match.group(2)
    if unit in ("M", "y"):
        raise ValueError(f"timeframe {tf!r} has no fixed length in milliseconds")
    if amount <= 0:
        raise ValueError(f"timeframe {tf!r} must be positive")
    return amount if unit == "ms" else amount * _UNIT_MS[unit]


def ms_to_timeframe(ms: int) -> str:
    """Convert milliseconds to the largest exact ccxt timeframe (``180000`` -> ``"3m"``).

    Durations that are not a whole number of seconds fall back to ``f"{ms}ms"``.
    """
    ms = int(ms)
    if ms < 0:
        raise ValueError(f"timeframe must not be negative, got {ms} ms")
    for unit, size in _UNIT_MS.items():
        if ms > 0 and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def format_timeframe(ms: int | None) -> str:
    """For display: ``3000`` -> ``"3s"``, ``3_600_000`` -> ``"1h"``; empty when unknown."""
    if not ms or ms <= 0:
        return ""
    return ms_to_timeframe(ms)
