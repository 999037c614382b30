"""``ccxt.async_support``, imported on first use.

Importing ccxt costs ~0.5 s and ~100 MB; ``ats --help`` and backtests must never pay
that (tests/e2e/test_lazy_imports.py). Modules that talk to ccxt write ``ccxt.BaseError``,
``ccxt.OperationFailed``… through :data:`ccxt`, which imports the real module the first
time one of its names is looked up.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from types import ModuleType
from typing import Any


@functools.cache
def ccxt_module() -> ModuleType:
    return importlib.import_module("ccxt.async_support")


async def load_ccxt() -> ModuleType:
    """Import ccxt in a worker thread, so the event loop keeps running meanwhile: on a
    loaded machine the import took over 2 s, and a live job's loop watchdog (2 s) failed
    the job in ``connect`` (tests/e2e/ccxt/test_live_kill9.py, its ``ats run`` case, on main
    under load)."""
    return await asyncio.to_thread(ccxt_module)


class _LazyCcxt:
    def __getattr__(self, name: str) -> Any:
        return getattr(ccxt_module(), name)


ccxt: Any = _LazyCcxt()
"""Stands for ``ccxt.async_support``: exception classes, client classes, ``exchanges``."""
