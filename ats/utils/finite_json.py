"""Reports as JSON: metrics may be NaN or infinite (the Sharpe of a flat curve, the profit
factor of a run without a loss), which JSON cannot hold; they are stored as null.

The C encoder checks first: walking thousands of trades in Python is only needed when
something is not finite. Both run in worker threads, so long lists are encoded a slice
at a time (:mod:`ats.utils.json_slices`).
"""

from __future__ import annotations

import math
from typing import Any

from ats.utils.json_slices import sliced_dumps


def finite_json(value: Any) -> str:
    """``value`` as JSON text, NaN/inf written as null."""
    try:
        return sliced_dumps(value, allow_nan=False)
    except ValueError:
        return sliced_dumps(null_non_finite(value), allow_nan=False)


def finite(value: Any) -> Any:
    """``value`` itself when it is plain JSON, else a copy with NaN/inf as None."""
    try:
        sliced_dumps(value, allow_nan=False)
    except ValueError:
        return null_non_finite(value)
    return value


def null_non_finite(value: Any) -> Any:
    """A copy of JSON-like ``value`` with every NaN/inf float replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): null_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [null_non_finite(item) for item in value]
    return value
