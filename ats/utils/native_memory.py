"""Give the C heap's free memory back to the OS, for a process that runs for days.

glibc's malloc gives each thread that allocates its own arena (64 MB reserved each) and
keeps memory freed in the middle of a heap for reuse rather than returning it. The
console's worker threads (indicators, reports, snapshots, the chart, SQLite) each touch
several MB in bursts, so RSS ratchets up to the sum of every arena's high-water mark:
bench/ui_memory.py saw ~60 MB held in thread arenas after 15 minutes, and more whenever
the machine was busy (slower loop turns, bigger batches). Two remedies, both glibc-only
and no-ops elsewhere: :func:`limit_arenas` at start, :func:`trim` from time to time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from typing import Any

M_ARENA_MAX = -8
"""mallopt() parameter number, from glibc's malloc.h."""


@functools.cache
def glibc() -> Any | None:
    """glibc through ctypes, if this process runs on it (musl and macOS lack
    malloc_trim); None elsewhere."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim, libc.mallopt  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(count: int = 2) -> bool:
    """At most ``count`` malloc arenas from now on (call before threads start)."""
    libc = glibc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Return free heap pages of every arena to the OS. Takes a few ms with the arenas
    locked, and ctypes releases the GIL meanwhile: call it from a worker thread."""
    libc = glibc()
    return libc is not None and bool(libc.malloc_trim(0))
