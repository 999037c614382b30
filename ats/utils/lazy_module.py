"""A module imported on its first attribute access, for the imports most runs never need.

``pd = LazyModule("pandas")`` reads like ``import pandas as pd`` but costs nothing until
``pd.something`` is used (pandas is ~0.15 s of an ``ats backtest`` on cached candles,
which never parse a file: bench/whole_process.py). Declare the real module for type
checkers under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(importlib.import_module(self._name), attribute)
        setattr(self, attribute, value)  # found directly next time
        return value

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
