"""Acceptance: sma_cross equals backtesting.py's FractionalBacktest on the same data.

Both engines run here, on the bundled real BTC/USDT candles: next-open market fills,
0.1% commission per side, 10,000 USDT, SMA(50)/SMA(200), long only.
"""

from __future__ import annotations

import asyncio
import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover

from ats.data.candle_readers import load_candles
from ats.demo import DEMO_DATA
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config

FAST, SLOW, CASH, FEE = 50, 200, 10_000.0, 0.001


def _sma(values: np.ndarray, period: int) -> np.ndarray:
    return pd.Series(values).rolling(period).mean().to_numpy()


class PeerSmaCross(Strategy):
    def init(self) -> None:
        self.fast = self.I(_sma, self.data.Close, FAST)
        self.slow = self.I(_sma, self.data.Close, SLOW)

    def next(self) -> None:
        if crossover(self.fast, self.slow) and not self.position:
            self.buy()
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()


def _peer_frame(data) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    index = pd.to_datetime(data.timestamps, unit="ms", utc=True).tz_localize(None)
    return pd.DataFrame(
        {
            "Open": data.open,
            "High": data.high,
            "Low": data.low,
            "Close": data.close,
            "Volume": data.volume,
        },
        index=index,
    )


@pytest.fixture(scope="module")
def both_runs() -> tuple[dict, pd.Series]:  # type: ignore[type-arg]
    data = load_candles(DEMO_DATA)
    config = parse_job_config(
        {
            "name": "parity",
            "balances": {"USDT": CASH},
            "exchange": {"name": "back_trading", "params": {"data": str(DEMO_DATA)}},
            "strategy": {"name": "sma_cross", "params": {"fast": FAST, "slow": SLOW}},
            "fees": {"name": "flat_rate", "params": {"rate": FEE}},
        }
    )
    job = asyncio.run(run_backtest(config, data=data))
    warnings.filterwarnings("ignore", message="Some trades remain open")
    assert job.report is not None, job.error
    peer = FractionalBacktest(
        _peer_frame(data), PeerSmaCross, cash=CASH, commission=FEE, finalize_trades=False
    ).run()
    return job.report, peer


def test_same_trades_and_times(both_runs) -> None:  # type: ignore[no-untyped-def]
    report, peer = both_runs
    peer_trades = peer._trades
    ours_closed = [t for t in report["trades"] if t["exit_time"] is not None]
    assert len(ours_closed) == len(peer_trades) > 10
    for ours, (_, theirs) in zip(ours_closed, peer_trades.iterrows(), strict=True):
        assert pd.Timestamp(ours["entry_time"]).tz_localize(None) == theirs.EntryTime
        assert pd.Timestamp(ours["exit_time"]).tz_localize(None) == theirs.ExitTime
        assert ours["entry_price"] == pytest.approx(theirs.EntryPrice, rel=1e-12)
        assert ours["exit_price"] == pytest.approx(theirs.ExitPrice, rel=1e-12)
        assert ours["amount"] == pytest.approx(theirs.Size, rel=1e-6)
        assert ours["pnl"] == pytest.approx(theirs.PnL, rel=1e-4, abs=1e-3)


def test_same_position_left_open(both_runs) -> None:  # type: ignore[no-untyped-def]
    report, peer = both_runs
    still_open = [t for t in report["trades"] if t["exit_time"] is None]
    satoshis = peer._strategy.position.size  # FractionalBacktest trades whole satoshis
    assert len(still_open) == (1 if satoshis else 0)
    if still_open:
        assert still_open[0]["amount"] == pytest.approx(satoshis * 1e-8, rel=1e-6)


def test_final_equity_within_one_basis_point(both_runs) -> None:  # type: ignore[no-untyped-def]
    report, peer = both_runs
    theirs = float(peer["Equity Final [$]"])
    assert report["final_equity"] == pytest.approx(theirs, rel=1e-4)  # measured: ~1e-9
    assert report["metrics"]["num_closed_trades"] == int(peer["# Trades"])
