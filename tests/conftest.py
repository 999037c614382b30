"""Fixtures shared by the whole suite."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The suite is laid out by layer (unit, integration, e2e), each with topic folders; the
# fixtures a topic shares live in tests/support and are loaded for the whole suite.
pytest_plugins = ["api_fixtures", "indicator_fixtures", "research_fixtures", "ui_fixtures"]


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off (after one full pass): whatever the test frees is
    freed by reference counting, or not at all."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture(autouse=True, scope="session")
def candle_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Backtests in the suite (and the processes it starts) cache parsed candles in a temp
    directory, not in the checkout's saved_states/."""
    directory = tmp_path_factory.mktemp("candle-cache")
    previous = os.environ.get("ATS_CANDLE_CACHE_DIR")
    os.environ["ATS_CANDLE_CACHE_DIR"] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop("ATS_CANDLE_CACHE_DIR", None)
    else:
        os.environ["ATS_CANDLE_CACHE_DIR"] = previous
