"""Acceptance: walk-forward on candles whose regime changes half-way.

The first half trends in long smooth swings (a moving-average cross thrives), the second
is noise around a level (it whipsaws and pays fees). Optimising on the past and trading
the next window must show the in-sample objective above the out-of-sample one, and the
stitched out-of-sample equity must be exactly the test-window backtests chained.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from research_helpers import optimize

from ats.data.candle_readers import load_candles
from ats.exceptions import ConfigError
from ats.research.walk_forward import WalkForwardPlan, parse_walk_forward, plan_windows
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config

TRAIN, TEST, COUNT = 2_000, 1_000, 6_000


def _regime_change(path: Path) -> Path:
    rng = np.random.default_rng(3)
    t = np.arange(COUNT)
    trend = 0.04 * np.sin(2 * np.pi * t / 400)
    noise = np.where(t < COUNT // 2, 0.0005, 0.003) * rng.normal(size=COUNT)
    close = 30_000 * np.exp(np.where(t < COUNT // 2, trend, 0.0) + noise)
    open_ = np.concatenate(([close[0]], close[:-1]))
    frame = pd.DataFrame(
        {
            "timestamp": 1_600_000_000_000 + 60_000 * t,
            "open": open_,
            "high": np.maximum(open_, close) * 1.0005,
            "low": np.minimum(open_, close) * 0.9995,
            "close": close,
            "volume": 1.0,
        }
    )
    frame.to_parquet(path)
    return path


def test_in_sample_beats_out_of_sample_and_the_curve_is_the_tests_chained(
    tmp_path: Path, state_dir: Path
) -> None:
    data_path = _regime_change(tmp_path / "regimes.parquet")
    result = optimize(
        tmp_path / "wf.json",
        "--strategy",
        "sma_cross",
        "--data",
        str(data_path),
        "--param",
        "fast=5,10,20",
        "--param",
        "slow=40,80,160",
        "--objective",
        "total_return",
        "--walk-forward",
        f"train={TRAIN},test=1000",
        "--workers",
        "2",
        "--csv",
        str(tmp_path / "wf.csv"),
    )
    windows = result["windows"]
    rows = list(csv.DictReader((tmp_path / "wf.csv").open()))
    assert [float(row["oos_total_return_pct"]) for row in rows] == [
        w["out_of_sample"]["metrics"]["total_return_pct"] for w in windows
    ]
    assert len(windows) == 4
    in_sample = [w["in_sample"]["metrics"]["total_return_pct"] for w in windows]
    out_of_sample = [w["out_of_sample"]["metrics"]["total_return_pct"] for w in windows]
    assert np.mean(in_sample) > np.mean(out_of_sample)
    # Trained on the trend, traded in the noise: the fit does not carry over.
    assert in_sample[1] > 0 > out_of_sample[1]

    data = load_candles(data_path)
    cash, curve = 10_000.0, []
    for index, window in enumerate(windows):
        start = TRAIN + index * TEST
        config = parse_job_config(
            {
                "name": "test-window",
                "balances": {"USDT": cash},
                "exchange": {"name": "back_trading", "params": {"data": str(data_path)}},
                "strategy": {"name": "sma_cross", "params": window["params"]},
            }
        )
        job = asyncio.run(run_backtest(config, data=data.slice(start, start + TEST)))
        assert job.report is not None
        assert job.report["metrics"] == window["out_of_sample"]["metrics"]
        curve.append(job.equity_curve()[1])
        cash = job.report["final_equity"]
    stitched = result["stitched_equity"]
    assert np.array_equal(np.concatenate(curve), np.array(stitched["equity"]))
    assert stitched["timestamps"] == data.timestamps[TRAIN:COUNT].tolist()
    assert result["out_of_sample"]["final_equity"] == cash


def test_windows_in_candles_or_durations() -> None:
    assert parse_walk_forward("train=7d,test=1d", 3_600_000) == WalkForwardPlan(168, 24)
    assert parse_walk_forward(" test=10 , train=30 ", 60_000) == WalkForwardPlan(30, 10)
    windows = plan_windows(WalkForwardPlan(30, 10), 75)
    assert [(w.train.start, w.train.stop, w.test.start, w.test.stop) for w in windows] == [
        (0, 30, 30, 40),
        (10, 40, 40, 50),
        (20, 50, 50, 60),
        (30, 60, 60, 70),
    ]
    for bad in ("train=30", "train=0,test=5", "train=3x,test=1", "size=3,test=1"):
        with pytest.raises(ConfigError, match="--walk-forward"):
            parse_walk_forward(bad, 60_000)
    with pytest.raises(ConfigError, match="fewer than one training window"):
        plan_windows(WalkForwardPlan(30, 10), 39)
