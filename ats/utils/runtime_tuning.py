"""Process-wide settings for the interactive console next to CPU-heavy jobs, running for
days, made in two steps so that neither comes too late:

- :func:`tune_runtime`, at the start of ``ats`` (ats.ui.launch), before any thread exists
  (the watchdog's, Textual's input thread, the journal's), so the malloc arena limit
  applies to every thread;
- :func:`freeze_startup`, once the console is mounted and before it restores any job
  (``AtsApp.on_mount``): the permanent generation then holds what imports and the
  console's widgets made, never a job (whose cycles would live there forever).

Each setting names the bench that justifies it; drop one when its bench shows it no
longer pays.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading

from ats.utils import native_memory

logger = logging.getLogger(__name__)

SWITCH_INTERVAL = 0.001
FULL_GC_EVERY = 1000
MALLOC_ARENAS = 2


def tune_runtime() -> None:
    """- a full collection every ``FULL_GC_EVERY`` young (generation 1) ones instead of
      every 10: one costs ~0.5 us per live object (backtests keep tens of thousands of
      orders, fills and trades), 50-300 ms with the loop stopped, and Python's default
      ran one every second or two under load (bench/ui_latency.py). Rare full
      collections are safe because little cyclic garbage is left for them: finished
      runs are freed by reference counting (``BaseExchange.release``) and so are drawn
      lines (:mod:`ats.ui.textual_cycles`); bench/ui_memory.py checks that RSS stays flat;
    - a 1 ms thread switch interval: the chart's drawing thread and the jobs' worker
      threads hand the GIL back to the event loop quickly instead of after 5 ms
      (bench/ui_latency.py);
    - two malloc arenas instead of one per worker thread (the console also trims the C
      heap every minute, :mod:`ats.utils.native_memory`): RSS stays flat
      (bench/ui_memory.py).
    """
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:  # a caller's mistake, not the user's: the tuning still mostly works
        logger.warning("runtime tuned with threads already running: %s", ", ".join(others))
    native_memory.limit_arenas(MALLOC_ARENAS)
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_GC_EVERY)
    sys.setswitchinterval(SWITCH_INTERVAL)


def freeze_startup() -> None:
    """``gc.freeze()``: what start-up made (~60k objects of Textual, numpy and friends, and
    ~20k of the console's widgets) leaves the collector's sight, so each full collection
    walks only what jobs hold, about 12 ms less each (bench/ui_latency.py's loop lag p99).
    Call it before any job exists: a job frozen with them would never be freed."""
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
