"""Shared fixtures for the indicator tests: the real BTC candles and a streaming runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ats.indicators import BaseIndicator

DATA_FILE = Path(__file__).resolve().parents[2] / "data" / "BTC_USDT_3s_2022-05-12.csv"

Candles = dict[str, np.ndarray]
StreamRunner = Callable[[BaseIndicator, Sequence[np.ndarray]], dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def candles() -> Candles:
    """9,999 three-second BTC/USDT candles as float64 arrays keyed by field name."""
    frame = pd.read_csv(DATA_FILE)
    return {
        field: frame[field].to_numpy(dtype=np.float64)
        for field in ("open", "high", "low", "close", "volume")
    }


def stream_outputs(indicator: BaseIndicator, arrays: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Feed the arrays through ``update`` one candle at a time, recording every output."""
    size = len(arrays[0]) if arrays else 0
    recorded = {output: np.empty(size) for output in indicator.outputs}
    columns = [np.asarray(array, dtype=np.float64).tolist() for array in arrays]
    for i, values in enumerate(zip(*columns, strict=True)):
        indicator.update(*values)
        for output in indicator.outputs:
            recorded[output][i] = getattr(indicator, output)
    return recorded


@pytest.fixture(scope="session")
def stream() -> StreamRunner:
    """The ``stream_outputs`` helper, as a fixture (test modules cannot import conftest)."""
    return stream_outputs
