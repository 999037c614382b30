"""Reproducible synthetic candles for benchmarks and tests (no network, no files)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

SEED = 20221105


def make_candles(count: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """A reproducible geometric random walk of 1-minute OHLCV candles."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, count)))
    open_ = np.concatenate(([30_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0008, (2, count)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.gamma(2.0, 5.0, count)
    start = 1_577_836_800_000  # 2020-01-01T00:00:00Z
    timestamps = start + 60_000 * np.arange(count, dtype=np.int64)
    return {
        "timestamps": timestamps,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
    }


def save_parquet(path: Path, count: int, seed: int = SEED) -> Path:
    """Write :func:`make_candles` as a Parquet candle file (fast to write and to load)."""
    import pandas as pd

    columns = make_candles(count, seed)
    frame = pd.DataFrame({"timestamp": columns.pop("timestamps"), **columns})
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    frame.to_parquet(temporary)
    temporary.replace(path)
    return path


def cached_parquet(count: int, seed: int = SEED) -> Path:
    """One shared file per size and seed in the temp directory (benchmarks reuse it)."""
    path = Path(tempfile.gettempdir()) / "ats-bench" / f"candles-{count}-{seed}.parquet"
    return path if path.exists() else save_parquet(path, count, seed)
