"""How old something is, short enough for a header or a status line."""

from __future__ import annotations


def format_age(seconds: float) -> str:
    """``7s``, ``2m05s``, ``1h02m``, ``3d04h``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
