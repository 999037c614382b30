"""Fixtures shared by the whole suite."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


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
