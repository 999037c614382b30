"""Keep Textual's render caches out of reference cycles, so the console rarely needs a
full GC.

Two spots in Textual (8.2) turn what every frame draws into cyclic garbage, which only
a full collection frees; at 160x48 with jobs running that was ~5,000 objects a second
(strips, their segments and seven caches each), and the full collections that free
them stopped the event loop for 100-300 ms (bench/ui_latency.py):

- ``Strip.divide`` and ``Strip.crop_extend`` cache their result on the strip, and when
  the result is the strip itself (the compositor divides most lines at their own width,
  log widgets crop most lines to their own width) the strip holds itself;
- ``LRUCache`` keeps its entries in a ring of ``[prev, next, key, value]`` links;
  ``clear()`` (DataTable and Log call it on every update) drops the dict but leaves the
  ring, with every cached line in it, to the collector.

:func:`install` wraps those three methods. Results are unchanged: a strip is still
returned as itself (just not cached on itself), and a cleared cache is still empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

_INSTALLED = "_ats_no_cycles"


def install() -> None:
    """Patch Textual once per process (idempotent)."""
    if getattr(Strip, _INSTALLED, False):
        return
    divide: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
    crop_extend: Callable[[Strip, int, int, Style | None], Strip] = Strip.crop_extend
    clear: Callable[[LRUCache[Any, Any]], None] = LRUCache.clear

    def divide_without_self_cycle(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        kept = [cut for cut in cuts if cut <= self.cell_length]
        if kept == [self.cell_length]:
            return [self]
        return divide(self, kept)

    def crop_extend_without_self_cycle(
        self: Strip, start: int, end: int, style: Style | None
    ) -> Strip:
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    def clear_without_ring(self: LRUCache[Any, Any]) -> None:
        for link in self._cache.values():
            link.clear()  # cut the ring: the entries are then freed by reference counting
        clear(self)

    for cls, name, function in (
        (Strip, "divide", divide_without_self_cycle),
        (Strip, "crop_extend", crop_extend_without_self_cycle),
        (LRUCache, "clear", clear_without_ring),
    ):
        function.__doc__ = getattr(cls, name).__doc__
        setattr(cls, name, function)
    setattr(Strip, _INSTALLED, True)
