"""Textual's strips and cleared LRU caches stay out of reference cycles (ats.ui.textual_cycles),
so drawing frames leaves no garbage for a full GC to find."""

from __future__ import annotations

import gc

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.strip import Strip

from ats.ui import textual_cycles


@pytest.fixture
def patched(no_gc: None) -> None:
    textual_cycles.install()


def _strip() -> Strip:
    return Strip([Segment("BTC/USDT ", Style(bold=True)), Segment("30,012.5")])


def test_whole_width_divide_and_crop_extend_leave_no_cycle(patched: None) -> None:
    for _ in range(100):
        strip = _strip()
        assert strip.divide([strip.cell_length]) == [strip]
        assert strip.crop_extend(0, strip.cell_length, None) is strip
    del strip
    assert gc.collect() == 0


def test_other_results_are_unchanged(patched: None) -> None:
    strip = _strip()
    parts = strip.divide([4, 9, strip.cell_length])
    assert [part.text for part in parts] == ["BTC/", "USDT ", "30,012.5"]
    assert strip.crop_extend(4, 20, None).text == "USDT 30,012.5   "
    assert strip.crop_extend(-3, 6, None).text == "BTC/US"
    assert strip.divide([4]) is strip.divide([4])  # still cached by Textual


def test_a_cleared_lru_cache_leaves_no_cycle(patched: None) -> None:
    cache: LRUCache[int, Strip] = LRUCache(8)
    for _round in range(50):
        for key in range(20):  # full, with evictions, then cleared
            cache[key] = _strip()
        assert cache.get(19) is not None and cache.get(0) is None
        cache.clear()
        assert len(cache) == 0 and cache.get(19) is None
    cache[1] = _strip()
    assert cache.get(1) is not None  # still a working cache after clears
    cache.clear()
    del cache
    assert gc.collect() == 0
