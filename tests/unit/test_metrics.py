"""Tests for ats.trading_job.metrics: hand-computed examples, edge cases, properties, and a
cross-check against backtesting.py's own statistics."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.exchanges.data_classes import Trade
from ats.trading_job.metrics import METRIC_LABELS, Metrics, compute_metrics

nan = float("nan")
inf = float("inf")
DAY = 86_400_000


def _metrics(
    timestamps: list[int] | np.ndarray,
    equity: list[float] | np.ndarray,
    trades: list[Trade] | None = None,
    *,
    timeframe_ms: int = 1,
    fees_paid: float = 0.0,
    first_price: float = 1.0,
    last_price: float = 1.0,
) -> Metrics:
    return compute_metrics(
        timestamps=np.asarray(timestamps, dtype=np.int64),
        equity=np.asarray(equity, dtype=np.float64),
        trades=trades or [],
        fees_paid=fees_paid,
        timeframe_ms=timeframe_ms,
        first_price=first_price,
        last_price=last_price,
    )


def _trade(
    entry: int, exit_: int | None, pnl: float = 0.0, price: float = 100.0, amount: float = 1.0
) -> Trade:
    return Trade(
        "BTC/USDT", entry, price, amount, exit_, None if exit_ is None else price, 0.0, pnl
    )


# --------------------------------------------------------------------------------------------
# A fully hand-computed example
# --------------------------------------------------------------------------------------------

# Candle = a quarter of a 365-day year, so periods_per_year P = 4 and sqrt(P) = 2, and the
# 4 candles between the first and last sample span exactly one year (CAGR == total return).
QUARTER = 365 * DAY // 4  # 7_884_000_000 ms
TS = [i * QUARTER for i in range(5)]
EQ = [100.0, 110.0, 99.0, 108.9, 130.68]
TRADES = [
    # A: closed winner, invested 100 * 1 = 100 -> +10 %, lasts 1 candle
    Trade("BTC/USDT", TS[0], 100.0, 1.0, TS[1], 110.5, fees=0.5, pnl=10.0),
    # B: closed loser, invested 50 * 2 = 100 -> -5 %, lasts 2 candles
    Trade("BTC/USDT", TS[1], 50.0, 2.0, TS[3], 47.75, fees=0.5, pnl=-5.0),
    # C: still open at the end (marked pnl), entered on the last candle
    Trade("BTC/USDT", TS[4], 120.0, 1.0, None, None, fees=0.25, pnl=20.0),
]


@pytest.fixture
def example() -> Metrics:
    return _metrics(
        TS, EQ, TRADES, timeframe_ms=QUARTER, fees_paid=1.25, first_price=200.0, last_price=250.0
    )


def test_example_equity_fields(example: Metrics) -> None:
    assert example.start == 0
    assert example.end == 31_536_000_000  # 4 * 7_884_000_000
    assert example.duration_days == pytest.approx(365.0)
    assert example.initial_equity == 100.0
    assert example.final_equity == 130.68
    assert example.peak_equity == 130.68
    # 130.68 / 100 - 1 = 30.68 %
    assert example.total_return_pct == pytest.approx(30.68)
    # exactly one year elapsed: (1.3068) ** (365 / 365) - 1 = 30.68 %
    assert example.cagr_pct == pytest.approx(30.68)
    # peak 110 (t1) -> trough 99 (t2): 99 / 110 - 1 = -10 %
    assert example.max_drawdown_pct == pytest.approx(-10.0)
    # below 110 at t2 (99) and t3 (108.9), back above at t4: t4 - t1 = 3 quarters
    assert example.max_drawdown_duration_ms == 3 * QUARTER
    assert example.fees_paid == 1.25
    # 250 / 200 - 1 = 25 %
    assert example.buy_and_hold_return_pct == pytest.approx(25.0)


def test_example_risk_ratios(example: Metrics) -> None:
    # returns r = 110/100-1, 99/110-1, 108.9/99-1, 130.68/108.9-1 = 0.1, -0.1, 0.1, 0.2
    # mean = 0.3 / 4 = 0.075
    # deviations 0.025, -0.175, 0.025, 0.125 -> squares 0.000625, 0.030625, 0.000625, 0.015625
    # sum = 0.0475 -> sample variance (ddof=1) = 0.0475 / 3 = 0.0158333 -> std = 0.1258306
    # sharpe = 0.075 / 0.1258306 * sqrt(4) = 1.1920791
    assert example.sharpe == pytest.approx(1.1920791, rel=1e-6)
    # downside: min(r, 0)^2 = 0, 0.01, 0, 0 -> mean 0.0025 -> sqrt = 0.05
    # sortino = 0.075 / 0.05 * sqrt(4) = 3.0
    assert example.sortino == pytest.approx(3.0)
    # calmar = 30.68 / |-10| = 3.068
    assert example.calmar == pytest.approx(3.068)


def test_example_trade_fields(example: Metrics) -> None:
    assert example.num_trades == 3  # A, B and the open C
    assert example.num_closed_trades == 2
    # closed: A (+10), B (-5) -> 1 of 2 wins
    assert example.win_rate_pct == pytest.approx(50.0)
    # gross profit 10 / gross loss 5
    assert example.profit_factor == pytest.approx(2.0)
    # (10 - 5) / 2
    assert example.expectancy == pytest.approx(2.5)
    # return_pct: A 10 / 100 = 10 %, B -5 / 100 = -5 % -> mean 2.5 %, best 10, worst -5
    assert example.avg_trade_pct == pytest.approx(2.5)
    assert example.best_trade_pct == pytest.approx(10.0)
    assert example.worst_trade_pct == pytest.approx(-5.0)
    # durations 1 and 2 quarters -> 1.5 * 7_884_000_000
    assert example.avg_trade_duration_ms == pytest.approx(11_826_000_000.0)
    # exposed candles: t0 (A), t1 + t2 (B), t4 (C, open until the end); t3 is not
    # (B exits at t3) -> 4 of 5 samples
    assert example.exposure_pct == pytest.approx(80.0)


def test_example_to_dict_and_labels(example: Metrics) -> None:
    data = example.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(Metrics)]
    assert data["num_trades"] == 3 and isinstance(data["num_trades"], int)
    assert data["max_drawdown_duration_ms"] == 3 * QUARTER
    json.dumps(data, allow_nan=False)
    assert set(METRIC_LABELS) == set(data)
    assert METRIC_LABELS["max_drawdown_pct"] == "Max drawdown [%]"
    assert all(isinstance(label, str) and label for label in METRIC_LABELS.values())


def test_metrics_is_frozen(example: Metrics) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        example.sharpe = 0.0  # type: ignore[misc]


def test_cagr_two_years() -> None:
    # 100 -> 121 over 730 days: 1.21 ** (365 / 730) - 1 = 1.1 - 1 = 10 %
    m = _metrics([0, 730 * DAY], [100.0, 121.0], timeframe_ms=DAY)
    assert m.cagr_pct == pytest.approx(10.0)
    assert m.total_return_pct == pytest.approx(21.0)
    # r = [0.21]: one return, no sample std -> sharpe nan; no negative return -> sortino inf
    assert math.isnan(m.sharpe)
    assert m.sortino == inf
    assert m.max_drawdown_pct == 0.0
    assert math.isnan(m.calmar)


def test_sharpe_daily_hand_formula() -> None:
    # r = 0.01, -0.02, 0.03 ; mean = 0.02 / 3 = 0.0066667
    # deviations 0.0033333, -0.0266667, 0.0233333 -> squares 1.1111e-5, 7.1111e-4, 5.4444e-4
    # sum = 1.26667e-3 -> var = 6.33333e-4 -> std = 0.0251661
    # sharpe = 0.0066667 / 0.0251661 * sqrt(365) = 5.0610
    eq = np.array([100.0, 101.0, 101.0 * 0.98, 101.0 * 0.98 * 1.03])
    m = _metrics(np.arange(4) * DAY, eq, timeframe_ms=DAY)
    assert m.sharpe == pytest.approx(5.0610, rel=1e-4)
    # downside: mean(0, 0.0004, 0) = 0.00013333 -> sqrt = 0.0115470
    # sortino = 0.0066667 / 0.0115470 * sqrt(365) = 11.0303
    assert m.sortino == pytest.approx(11.0303, rel=1e-4)


def test_hourly_annualisation() -> None:
    # P = 365 * 24 = 8760 candles per year for a 1 h timeframe
    hour = 3_600_000
    eq = [100.0, 102.0, 100.98, 103.0]
    m = _metrics(np.arange(4) * hour, eq, timeframe_ms=hour)
    r = [102 / 100 - 1, 100.98 / 102 - 1, 103 / 100.98 - 1]
    expected = statistics.mean(r) / statistics.stdev(r) * math.sqrt(8760)
    assert m.sharpe == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# Drawdown edge cases
# --------------------------------------------------------------------------------------------


def test_drawdown_never_recovers() -> None:
    # peak 100 at t=0, trough 70: 70 / 100 - 1 = -30 %; still under water at the end (t=4)
    m = _metrics([0, 1, 2, 3, 4], [100.0, 80.0, 90.0, 70.0, 75.0])
    assert m.max_drawdown_pct == pytest.approx(-30.0)
    assert m.max_drawdown_duration_ms == 4
    # CAGR over 4 ms is astronomically negative -> -100 % after rounding; calmar ~ -3.33
    assert m.cagr_pct == pytest.approx(-100.0)
    assert m.calmar == pytest.approx(-100.0 / 30.0)


def test_drawdown_longest_is_not_deepest() -> None:
    # dip 1: peak t0 (100) -> 90 -> back to 100 at t2 (equal counts as recovered): 2 ms, -10 %
    # dip 2: peak t2 (100) -> 99, 99, 99 -> 101 at t6: 4 ms, -1 %
    m = _metrics([0, 1, 2, 3, 4, 5, 6], [100.0, 90.0, 100.0, 99.0, 99.0, 99.0, 101.0])
    assert m.max_drawdown_pct == pytest.approx(-10.0)
    assert m.max_drawdown_duration_ms == 4


def test_drawdown_dip_on_last_sample() -> None:
    # peak 101 at t=10, last sample 100.5 at t=20 is below it: 10 ms under water
    m = _metrics([0, 10, 20], [100.0, 101.0, 100.5])
    assert m.max_drawdown_pct == pytest.approx((100.5 / 101 - 1) * 100)
    assert m.max_drawdown_duration_ms == 10


def test_equity_to_zero() -> None:
    m = _metrics([0, DAY, 2 * DAY], [100.0, 50.0, 0.0], timeframe_ms=DAY)
    assert m.max_drawdown_pct == pytest.approx(-100.0)
    assert m.total_return_pct == pytest.approx(-100.0)
    assert m.cagr_pct == -100.0
    assert m.max_drawdown_duration_ms == 2 * DAY


# --------------------------------------------------------------------------------------------
# Other edge cases
# --------------------------------------------------------------------------------------------


def test_single_sample() -> None:
    m = _metrics([5], [100.0], timeframe_ms=60_000)
    assert (m.start, m.end, m.duration_days) == (5, 5, 0.0)
    assert m.total_return_pct == 0.0
    assert math.isnan(m.cagr_pct)
    assert m.max_drawdown_pct == 0.0
    assert m.max_drawdown_duration_ms == 0
    assert math.isnan(m.sharpe) and math.isnan(m.sortino) and math.isnan(m.calmar)
    assert m.exposure_pct == 0.0
    assert m.to_dict()["cagr_pct"] is None


def test_constant_equity() -> None:
    m = _metrics(np.arange(10) * 60_000, np.full(10, 1000.0), timeframe_ms=60_000)
    assert m.total_return_pct == 0.0
    assert m.cagr_pct == 0.0
    assert m.max_drawdown_pct == 0.0
    assert m.max_drawdown_duration_ms == 0
    # std == 0 -> sharpe is nan (documented choice); downside 0 and mean 0 -> sortino nan
    assert math.isnan(m.sharpe)
    assert math.isnan(m.sortino)
    assert math.isnan(m.calmar)
    data = m.to_dict()
    assert data["sharpe"] is None and data["sortino"] is None and data["calmar"] is None


def test_no_trades() -> None:
    m = _metrics([0, 1, 2], [100.0, 101.0, 102.0], first_price=10.0, last_price=9.0)
    assert m.num_trades == 0 and m.num_closed_trades == 0
    for name in (
        "win_rate_pct",
        "profit_factor",
        "expectancy",
        "avg_trade_pct",
        "best_trade_pct",
        "worst_trade_pct",
        "avg_trade_duration_ms",
    ):
        assert math.isnan(getattr(m, name)), name
        assert m.to_dict()[name] is None
    assert m.exposure_pct == 0.0
    assert m.buy_and_hold_return_pct == pytest.approx(-10.0)
    json.dumps(m.to_dict(), allow_nan=False)


def test_only_open_trade() -> None:
    m = _metrics([0, 1, 2, 3], [100.0] * 4, [_trade(2, None, pnl=5.0)])
    assert m.num_trades == 1 and m.num_closed_trades == 0
    assert math.isnan(m.win_rate_pct)
    assert m.exposure_pct == pytest.approx(50.0)  # t2, t3


def test_all_winning_trades() -> None:
    trades = [_trade(0, 1, pnl=3.0), _trade(1, 2, pnl=1.0)]
    m = _metrics([0, 1, 2, 3], [100.0, 103.0, 104.0, 104.0], trades)
    assert m.win_rate_pct == 100.0
    assert m.profit_factor == inf
    assert m.to_dict()["profit_factor"] is None
    assert m.expectancy == pytest.approx(2.0)
    assert m.exposure_pct == pytest.approx(50.0)  # t0, t1


def test_breakeven_trades() -> None:
    m = _metrics([0, 1], [100.0, 100.0], [_trade(0, 1, pnl=0.0)])
    assert m.win_rate_pct == 0.0
    assert math.isnan(m.profit_factor)  # neither profit nor loss


def test_all_losing_trades() -> None:
    m = _metrics([0, 1, 2], [100.0, 99.0, 97.0], [_trade(0, 1, -1.0), _trade(1, 2, -2.0)])
    assert m.win_rate_pct == 0.0
    assert m.profit_factor == 0.0


def test_exposure_overlapping_and_off_grid_trades() -> None:
    ts = np.arange(10) * 10  # 0, 10, ..., 90
    trades = [
        _trade(10, 50),  # t = 10..40
        _trade(30, 70),  # t = 30..60 (overlaps; counted once)
        _trade(-100, 5),  # entered before the data: t = 0
        _trade(85, 87),  # between two candles: no candle
    ]
    m = _metrics(ts, np.full(10, 1.0), trades)
    # exposed candles: 0, 10, 20, 30, 40, 50, 60 -> 7 of 10
    assert m.exposure_pct == pytest.approx(70.0)


def test_cagr_overflow_is_inf() -> None:
    m = _metrics([0, 1], [1.0, 1e6])
    assert m.cagr_pct == inf
    assert m.to_dict()["cagr_pct"] is None


@pytest.mark.parametrize(
    ("timestamps", "equity", "timeframe_ms"),
    [
        ([], [], 1),
        ([0, 1], [1.0], 1),
        ([1, 0], [1.0, 1.0], 1),
        ([0, 1], [1.0, 1.0], 0),
    ],
)
def test_invalid_input(timestamps: list[int], equity: list[float], timeframe_ms: int) -> None:
    with pytest.raises(ValueError):
        _metrics(timestamps, equity, timeframe_ms=timeframe_ms)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

_equity_lists = st.lists(
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_equity_lists, st.integers(min_value=1, max_value=DAY))
def test_equity_properties(values: list[float], step: int) -> None:
    eq = np.array(values)
    ts = np.arange(eq.size, dtype=np.int64) * step
    m = _metrics(ts, eq, timeframe_ms=step)
    assert -100.0 <= m.max_drawdown_pct <= 0.0
    assert 0 <= m.max_drawdown_duration_ms <= m.end - m.start
    assert m.final_equity / m.initial_equity == pytest.approx(1 + m.total_return_pct / 100)
    assert m.peak_equity >= max(m.initial_equity, m.final_equity)
    assert (m.max_drawdown_pct == 0.0) == (m.max_drawdown_duration_ms == 0)
    if eq.size >= 3 and not np.isnan(m.sharpe):
        r = eq[1:] / eq[:-1] - 1
        expected = r.mean() / r.std(ddof=1) * math.sqrt(365 * DAY / step)
        assert m.sharpe == pytest.approx(expected, rel=1e-9, abs=1e-9)
    json.dumps(m.to_dict(), allow_nan=False)


@st.composite
def _trades_on_grid(draw: st.DrawFn) -> tuple[np.ndarray, list[Trade]]:
    n = draw(st.integers(min_value=1, max_value=40))
    ts = np.arange(n, dtype=np.int64) * 10
    trades = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        entry = draw(st.integers(min_value=-20, max_value=10 * n + 20))
        exit_ = draw(st.one_of(st.none(), st.integers(min_value=entry, max_value=10 * n + 20)))
        trades.append(_trade(entry, exit_))
    return ts, trades


@settings(max_examples=300, deadline=None)
@given(_trades_on_grid())
def test_exposure_matches_brute_force(case: tuple[np.ndarray, list[Trade]]) -> None:
    ts, trades = case
    m = _metrics(ts, np.ones(ts.size), trades)
    exposed = [
        any(tr.entry_time <= t and (tr.exit_time is None or t < tr.exit_time) for tr in trades)
        for t in ts.tolist()
    ]
    assert 0.0 <= m.exposure_pct <= 100.0
    assert m.exposure_pct == pytest.approx(100.0 * sum(exposed) / ts.size)


# --------------------------------------------------------------------------------------------
# Cross-check against backtesting.py
# --------------------------------------------------------------------------------------------

HOUR = 3_600_000


def _ms(index: pd.Index) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(index).as_unit("ms").asi8, dtype=np.int64)


def _ts_ms(value: pd.Timestamp) -> int:
    # (Timestamp.value is always in ns, whatever the unit, so go through a Timedelta)
    return int((pd.Timestamp(value) - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1))


def _ohlc(seed: int = 0, n: int = 600) -> pd.DataFrame:
    """A noisy sine-ish random walk: SMA crossovers win some and lose some."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    close = 100 * np.exp(0.04 * np.sin(2 * np.pi * i / 90) + np.cumsum(rng.normal(0, 0.008, n)))
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.003, n)))
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": 1000.0}, index=index
    )


def _bt_trades(trades_df: pd.DataFrame) -> list[Trade]:
    """backtesting.py's trade table -> our Trade records (all long, all closed)."""
    return [
        Trade(
            "X/USD",
            entry_time=_ts_ms(row["EntryTime"]),
            entry_price=float(row["EntryPrice"]),
            amount=float(row["Size"]),
            exit_time=_ts_ms(row["ExitTime"]),
            exit_price=float(row["ExitPrice"]),
            fees=float(row["Commission"]),
            pnl=float(row["PnL"]),
        )
        for row in trades_df.to_dict("records")
    ]


def _sma(values: np.ndarray, n: int) -> np.ndarray:
    return pd.Series(values).rolling(n).mean().to_numpy()


def _run_sma_cross(df: pd.DataFrame, fast: int, slow: int) -> pd.Series:
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(_sma, self.data.Close, fast)
            self.slow = self.I(_sma, self.data.Close, slow)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()

    bt = Backtest(df, SmaCross, cash=10_000, commission=0.002, finalize_trades=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bt.run()


@pytest.mark.parametrize("seed", [0, 2, 4])
def test_matches_backtesting_py(seed: int) -> None:
    pytest.importorskip("backtesting")
    df = _ohlc(seed)
    fast, slow = 10, 30
    stats = _run_sma_cross(df, fast, slow)
    curve = stats._equity_curve
    trades_df = stats._trades
    trades = _bt_trades(trades_df)
    assert len(trades) >= 5
    assert 0 < stats["Win Rate [%]"] < 100  # a meaningful mix of winners and losers

    # backtesting.py's buy & hold starts at the first bar after the indicators' warm-up
    # (Close[slow - 1] here, the first non-NaN slow SMA), not at Close[0].
    warmup = int(np.argmax(~np.isnan(_sma(df.Close.to_numpy(), slow))))
    assert warmup == slow - 1
    m = compute_metrics(
        timestamps=_ms(curve.index),
        equity=curve["Equity"].to_numpy(),
        trades=trades,
        fees_paid=float(trades_df["Commission"].sum()),
        timeframe_ms=HOUR,
        first_price=float(df.Close.iloc[warmup]),
        last_price=float(df.Close.iloc[-1]),
    )

    assert m.start == _ms(df.index)[0] and m.end == _ms(df.index)[-1]
    assert m.final_equity == pytest.approx(stats["Equity Final [$]"])
    assert m.peak_equity == pytest.approx(stats["Equity Peak [$]"])
    assert m.total_return_pct == pytest.approx(stats["Return [%]"])
    assert m.max_drawdown_pct == pytest.approx(stats["Max. Drawdown [%]"])
    assert m.buy_and_hold_return_pct == pytest.approx(stats["Buy & Hold Return [%]"])
    assert m.fees_paid == pytest.approx(stats["Commissions [$]"])
    assert m.num_trades == m.num_closed_trades == stats["# Trades"]
    assert m.win_rate_pct == pytest.approx(stats["Win Rate [%]"])
    # Trade.return_pct = pnl / (entry_price * amount) == backtesting.py's ReturnPct (net of
    # commissions), so best/worst agree.
    assert m.best_trade_pct == pytest.approx(stats["Best Trade [%]"])
    assert m.worst_trade_pct == pytest.approx(stats["Worst Trade [%]"])
    # backtesting.py's "Expectancy [%]" is the arithmetic mean of ReturnPct == our avg_trade_pct
    # (its "Avg. Trade [%]" is a geometric mean instead).
    assert m.avg_trade_pct == pytest.approx(stats["Expectancy [%]"])
    # Same underwater-period definition (peak sample -> recovery sample, or the end).
    assert m.max_drawdown_duration_ms == stats["Max. Drawdown Duration"] // pd.Timedelta(
        milliseconds=1
    )
    # backtesting.py rounds the mean trade duration up to the bar resolution.
    avg_duration_bt = stats["Avg. Trade Duration"] // pd.Timedelta(milliseconds=1)
    assert avg_duration_bt - HOUR < m.avg_trade_duration_ms <= avg_duration_bt

    # Profit factor: ours is sum(PnL>0)/|sum(PnL<0)| in quote; backtesting.py's divides sums of
    # ReturnPct instead (equal only when every trade invests the same amount -- see below).
    pnl = trades_df["PnL"]
    assert m.profit_factor == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())

    # Exposure: backtesting.py marks bars EntryBar..ExitBar *inclusive* (the exit bar too);
    # we count entry_time <= t < exit_time. Extending every exit by one bar makes the two
    # definitions coincide.
    assert m.exposure_pct < stats["Exposure Time [%]"]
    shifted = [dataclasses.replace(t, exit_time=t.exit_time + HOUR) for t in trades]  # type: ignore[operator]
    m_shifted = compute_metrics(
        timestamps=_ms(curve.index),
        equity=curve["Equity"].to_numpy(),
        trades=shifted,
        fees_paid=0.0,
        timeframe_ms=HOUR,
        first_price=1.0,
        last_price=1.0,
    )
    assert m_shifted.exposure_pct == pytest.approx(stats["Exposure Time [%]"])
    expected_bars = np.zeros(len(df), dtype=bool)
    for row in trades_df.itertuples(index=False):
        expected_bars[row.EntryBar : row.ExitBar] = True  # our half-open definition
    assert m.exposure_pct == pytest.approx(100.0 * expected_bars.mean())


def test_profit_factor_matches_backtesting_py_with_equal_stakes() -> None:
    """With every trade entering 10 units at an Open of exactly 100, backtesting.py's
    return-based profit factor equals our PnL-based one."""
    pytest.importorskip("backtesting")
    from backtesting import Backtest, Strategy

    df = _ohlc(seed=1, n=200)
    entry_bars = np.arange(1, 200, 20)  # orders placed on bar i fill at bar i + 1's Open
    df.loc[df.index[entry_bars], "Open"] = 100.0
    df["High"] = df[["Open", "High", "Close"]].max(axis=1)
    df["Low"] = df[["Open", "Low", "Close"]].min(axis=1)

    class Periodic(Strategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if i % 20 == 0:
                self.buy(size=10)
            elif i % 20 == 7:
                self.position.close()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = Backtest(df, Periodic, cash=10_000, commission=0.001).run()
    trades_df = stats._trades
    assert (trades_df["EntryPrice"] == 100.0).all() and (trades_df["Size"] == 10).all()
    returns = trades_df["ReturnPct"]
    assert (returns > 0).any() and (returns < 0).any()

    curve = stats._equity_curve
    m = compute_metrics(
        timestamps=_ms(curve.index),
        equity=curve["Equity"].to_numpy(),
        trades=_bt_trades(trades_df),
        fees_paid=float(trades_df["Commission"].sum()),
        timeframe_ms=HOUR,
        first_price=float(df.Close.iloc[0]),
        last_price=float(df.Close.iloc[-1]),
    )
    assert m.profit_factor == pytest.approx(stats["Profit Factor"])
    assert m.win_rate_pct == pytest.approx(stats["Win Rate [%]"])
    # no indicators -> no warm-up: buy & hold from Close[0]
    assert m.buy_and_hold_return_pct == pytest.approx(stats["Buy & Hold Return [%]"])
    assert m.total_return_pct == pytest.approx(stats["Return [%]"])
    assert m.max_drawdown_pct == pytest.approx(stats["Max. Drawdown [%]"])


# --------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------


def test_one_million_samples_and_10k_trades() -> None:
    """How fast is bench/metrics_speed.py's."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    ts = np.arange(n, dtype=np.int64) * 60_000
    eq = 10_000 * np.cumprod(1 + rng.normal(0, 1e-3, n))
    entries = np.arange(10_000) * 100  # 10k non-overlapping 5-candle trades
    trades = [
        _trade(int(ts[i]), int(ts[i + 5]), pnl=float(p))
        for i, p in zip(entries, rng.normal(size=entries.size), strict=True)
    ]
    kwargs = {
        "timestamps": ts,
        "equity": eq,
        "trades": trades,
        "fees_paid": 0.0,
        "timeframe_ms": 60_000,
        "first_price": 1.0,
        "last_price": 1.0,
    }
    m = compute_metrics(**kwargs)  # type: ignore[arg-type]
    assert m.num_trades == 10_000
    assert m.exposure_pct == pytest.approx(5.0)  # 10k * 5 candles / 1M
