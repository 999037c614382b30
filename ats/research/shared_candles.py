"""Candles in one shared-memory block, so every worker process reads the same pages.

The parent copies the six columns into a ``multiprocessing.shared_memory`` block once;
each worker attaches to it when it starts and wraps read-only numpy views around it. No
worker parses the candle file, and a sweep of any length costs one copy of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from ats.data.candles import CandleData

_COLUMNS: tuple[tuple[str, type[np.generic]], ...] = (
    ("timestamps", np.int64),
    ("open", np.float64),
    ("high", np.float64),
    ("low", np.float64),
    ("close", np.float64),
    ("volume", np.float64),
)
_ITEM = 8  # every column is 8 bytes a value


@dataclass(frozen=True, slots=True)
class CandleHandle:
    """What a worker needs to attach: the block's name and the data's shape."""

    block: str
    count: int
    path: str
    timeframe_ms: int


class SharedCandles:
    """Owns the block: create it from loaded candles, :meth:`close` frees it."""

    def __init__(self, data: CandleData) -> None:
        count = len(data)
        self._memory = shared_memory.SharedMemory(create=True, size=max(count, 1) * _ITEM * 6)
        for index, (name, dtype) in enumerate(_COLUMNS):
            target = np.ndarray((count,), dtype, self._memory.buf, index * count * _ITEM)
            target[:] = getattr(data, name)
            del target  # no view may outlive the block when it is closed
        self.handle = CandleHandle(self._memory.name, count, str(data.path), data.timeframe_ms)

    def close(self) -> None:
        self._memory.close()
        self._memory.unlink()


def attach(handle: CandleHandle) -> tuple[CandleData, shared_memory.SharedMemory]:
    """Read-only candles over the parent's block; keep the memory object alive with them."""
    memory = shared_memory.SharedMemory(name=handle.block)
    count = handle.count
    columns = {}
    for index, (name, dtype) in enumerate(_COLUMNS):
        column = np.ndarray((count,), dtype, memory.buf, index * count * _ITEM)
        column.flags.writeable = False
        columns[name] = column
    data = CandleData(path=Path(handle.path), timeframe_ms=handle.timeframe_ms, **columns)
    return data, memory
