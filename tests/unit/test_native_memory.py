"""native_memory.trim hands freed C heap pages back to the OS (glibc; skipped elsewhere)."""

from __future__ import annotations

import threading

import psutil
import pytest

from ats.utils import native_memory

pytestmark = pytest.mark.skipif(native_memory.glibc() is None, reason="glibc only")


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def test_trim_returns_what_a_worker_thread_freed() -> None:
    kept: list[bytes] = []

    def burst() -> None:
        # 2 KB blocks come from malloc (not Python's small-object allocator); the one
        # block in 64 that is kept pins the heap's top, so free() alone returns nothing.
        blocks = [bytes(2048) for _ in range(100_000)]
        kept.extend(blocks[::64])
        del blocks

    worker = threading.Thread(target=burst)
    worker.start()
    worker.join()
    before = _rss_mb()
    assert native_memory.trim()
    after = _rss_mb()
    assert before - after > 50, (before, after)
    assert len(kept) == 1_563


def test_limit_arenas_is_accepted() -> None:
    assert native_memory.limit_arenas(8)  # glibc's default on one core: harmless here
