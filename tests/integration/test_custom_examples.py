"""The worked examples in custom_modules/ load through the plugin loader and work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import talib

from ats.data.candle_readers import load_candles
from ats.demo import DEMO_DATA
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.utils.plugins import PluginLoader

CUSTOM = Path(__file__).parents[2] / "custom_modules"


@pytest.fixture(scope="module")
def loader() -> PluginLoader:
    return PluginLoader(CUSTOM)


def test_every_example_loads(loader: PluginLoader) -> None:
    for kind, name in [
        ("strategies", "bollinger_breakout"),
        ("indicators", "roc"),
        ("fees", "fixed_plus_rate"),
        ("exchanges", "back_trading_liquid"),
    ]:
        assert loader.is_custom(kind, name)
        assert loader.available(kind)[name] is None


def test_roc_matches_talib_streaming_and_vectorised(loader: PluginLoader) -> None:
    close = load_candles(DEMO_DATA).close
    roc = loader.indicator_class("roc")(N=12)
    expected = talib.ROC(close, timeperiod=12)
    np.testing.assert_allclose(roc.compute(close)["result"], expected, rtol=1e-9)
    streamed = []
    for value in close:
        roc.update(value)
        streamed.append(roc.result if roc.is_ready() else np.nan)
    np.testing.assert_allclose(np.array(streamed), expected, rtol=1e-9)


def test_examples_run_together_in_one_job(loader: PluginLoader) -> None:
    config = parse_job_config(
        {
            "name": "custom",
            "exchange": {"name": "back_trading_liquid", "params": {"data": str(DEMO_DATA)}},
            "strategy": {"name": "bollinger_breakout", "params": {"N": 40}},
            "fees": {"name": "fixed_plus_rate", "params": {"fixed": 0.5, "rate": 0.0005}},
        }
    )

    async def run() -> object:
        manager = JobManager(loader=loader)
        job = manager.create(config)
        manager.start(job.id)
        await job.wait()
        return job

    job = asyncio.run(run())
    assert job.status is JobStatus.FINISHED, job.error  # type: ignore[attr-defined]
    fills = job.exchange.get_fills()  # type: ignore[attr-defined]
    assert fills and all(
        fill.fee == pytest.approx(0.5 + fill.amount * fill.price * 0.0005) for fill in fills
    )
    assert job.strategy.state.breakouts > 0  # type: ignore[attr-defined]
