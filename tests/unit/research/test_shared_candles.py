"""Workers read the parent's candles from one shared-memory block, never a copy of the file."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np

from ats.data.candles import CandleData
from ats.research.shared_candles import CandleHandle, SharedCandles, attach
from ats.utils.synthetic_candles import make_candles


def _read_in_child(handle: CandleHandle, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    data, memory = attach(handle)
    writable = data.close.flags.writeable
    queue.put((len(data), float(data.close.sum()), int(data.timestamps[-1]), writable))
    del data
    memory.close()


def test_a_process_attaches_to_the_same_candles_read_only() -> None:
    data = CandleData(path=Path("x.csv"), timeframe_ms=60_000, **make_candles(1_000))
    shared = SharedCandles(data)
    try:
        context = multiprocessing.get_context("spawn")  # nothing inherited: only the handle
        queue = context.Queue()
        child = context.Process(target=_read_in_child, args=(shared.handle, queue))
        child.start()
        count, total, last, writable = queue.get(timeout=60)
        child.join(30)
        assert (count, total, last) == (1_000, float(data.close.sum()), int(data.timestamps[-1]))
        assert writable is False
        here, memory = attach(shared.handle)
        for name in ("timestamps", "open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(here, name), getattr(data, name))
        assert here.timeframe_ms == 60_000 and here.path == Path("x.csv")
        del here
        memory.close()
    finally:
        shared.close()
