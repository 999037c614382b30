"""Where a process's resident memory is, by kind (Linux and glibc; empty elsewhere).

bench/ui_memory.py reports this at its baseline and at the end, so RSS growth can be
told apart: Python objects, the C heap (in use or free), SQLite, code and files.
"""

from __future__ import annotations

import ctypes
import re
import sys
from pathlib import Path

from ats.utils.native_memory import glibc

_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")
_THREAD_HEAP = 60 << 20
"""glibc reserves 64 MB per thread arena: anonymous mappings this large are those."""


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def memory_breakdown() -> dict[str, float]:
    """MB per kind of resident memory, plus malloc's and SQLite's own counts."""
    figures: dict[str, float] = {}
    smaps = Path("/proc/self/smaps")
    if smaps.exists():
        kinds = {"main C heap": 0, "thread C heaps": 0, "other anonymous": 0, "files": 0}
        kind = "files"
        for line in smaps.read_text().splitlines():
            if _MAPPING.match(line):
                fields = line.split()
                low, high = (int(part, 16) for part in fields[0].split("-"))
                name = fields[5] if len(fields) > 5 else ""
                if name == "[heap]":
                    kind = "main C heap"
                elif name.startswith("/"):
                    kind = "files"
                elif not name:
                    big = high - low >= _THREAD_HEAP
                    kind = "thread C heaps" if big else "other anonymous"
                else:
                    kind = "files"  # stack, vdso: negligible
            elif line.startswith("Rss:"):
                kinds[kind] += int(line.split()[1])
        figures.update({f"rss {name} MB": kb / 1024 for name, kb in kinds.items()})
    mallinfo2 = getattr(glibc(), "mallinfo2", None)  # glibc 2.33 and later
    if mallinfo2 is not None:
        mallinfo2.restype = _MallInfo2
        info = mallinfo2()
        figures["malloc in use MB"] = info.uordblks / 2**20
        figures["malloc free MB"] = info.fordblks / 2**20
    figures["python blocks (k)"] = sys.getallocatedblocks() / 1000
    sqlite = _sqlite_memory_used()
    if sqlite is not None:
        figures["sqlite MB"] = sqlite / 2**20
    return figures


def _sqlite_memory_used() -> int | None:
    try:
        import _sqlite3

        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
    except (ImportError, OSError, AttributeError):
        return None
    used.restype = ctypes.c_int64
    return int(used())
