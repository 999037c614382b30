"""Each shortcut taken for bench/backtest_speed.py gives the very figures of the plain code."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ats.exchanges.data_classes import (
    Fill,
    OrderSide,
    OrderType,
    isoformat_many,
    ms_to_datetime,
)
from ats.exchanges.fees.flat_rate import FlatRate
from ats.exchanges.fees.maker_taker import MakerTaker
from ats.exchanges.matching import MatchingEngine, _largest_affordable_at_rate
from ats.exchanges.trade_ledger import TradeLedger
from ats.exchanges.wallet import Wallet
from ats.indicators import _kernels as k
from ats.trading_job.metrics import MS_PER_YEAR, _ratio, compute_metrics

positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)


class SameFlatRate(FlatRate):
    """FlatRate by way of its own calculate(): the engine takes the generic path."""

    def calculate(self, size, price, order_type, side):  # type: ignore[no-untyped-def]
        return super().calculate(size, price, order_type, side)


@given(
    budget=positive,
    price=positive,
    rate=st.sampled_from([0.0, 0.00075, 0.001, 0.002, 0.0099]),
)
@settings(max_examples=300, deadline=None)
def test_an_all_in_buy_is_sized_as_the_generic_search_sizes_it(
    budget: float, price: float, rate: float
) -> None:
    generic = MatchingEngine(Wallet(), SameFlatRate(rate=rate))
    order = generic.submit(
        "BTC/USDT", "buy", "market", 0.0, now=0, reference_price=price, quote_amount=budget
    )
    assert generic.fees.linear_quote_rate(OrderType.MARKET, OrderSide.BUY) is None
    expected = generic._largest_affordable(budget, order, price)
    assert _largest_affordable_at_rate(budget, price, rate) == expected


@given(
    size=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    price=positive,
    kind=st.sampled_from(list(OrderType)),
    side=st.sampled_from(list(OrderSide)),
    charged_in=st.sampled_from(["quote", "received"]),
)
@settings(max_examples=300, deadline=None)
def test_a_linear_quote_rate_is_exactly_what_calculate_says(
    size: float, price: float, kind: OrderType, side: OrderSide, charged_in: str
) -> None:
    for fees in (
        FlatRate(rate=0.00075, charged_in=charged_in),
        MakerTaker(maker=0.0002, taker=0.0011, charged_in=charged_in),
    ):
        rate = fees.linear_quote_rate(kind, side)
        quote = fees.calculate(size, price, kind, side)
        if rate is None:
            assert quote.currency == "base"
        else:
            assert (quote.amount, quote.currency) == (abs(size) * price * rate, "quote")
    assert SameFlatRate().linear_quote_rate(kind, side) is None


def _reference_ratios(equity: np.ndarray) -> tuple[float, float, float]:
    """Max drawdown, Sharpe and Sortino as numpy's own functions compute them."""
    running_max = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(running_max > 0, equity / running_max - 1.0, 0.0)
        returns = equity[1:] / equity[:-1] - 1.0
    periods = math.sqrt(MS_PER_YEAR / 60_000)
    std = float(returns.std(ddof=1))
    mean = float(returns.mean())
    sharpe = math.nan if std == 0 else mean / std * periods
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    sortino = _ratio(mean, downside) * periods
    return float(drawdown.min()) * 100.0, sharpe, sortino


@given(
    steps=st.lists(st.floats(min_value=-0.05, max_value=0.05), min_size=3, max_size=400),
    start=st.sampled_from([10_000.0, 1.0, 0.0, -5.0]),
    flat=st.integers(min_value=0, max_value=50),
)
@settings(max_examples=200, deadline=None)
def test_drawdown_sharpe_and_sortino_are_numpys_to_the_bit(
    steps: list[float], start: float, flat: int
) -> None:
    equity = start + np.cumsum([0.0] * flat + steps) * max(abs(start), 1.0)
    timestamps = np.arange(equity.size, dtype=np.int64) * 60_000
    with np.errstate(all="ignore"):
        metrics = compute_metrics(
            timestamps=timestamps,
            equity=equity,
            trades=[],
            fees_paid=0.0,
            timeframe_ms=60_000,
            first_price=1.0,
            last_price=1.0,
        )
        expected = _reference_ratios(equity)
    got = (metrics.max_drawdown_pct, metrics.sharpe, metrics.sortino)
    assert repr(got) == repr(expected)  # repr: NaN equals NaN, -0.0 differs from 0.0


def test_times_are_formatted_as_datetime_isoformat_does() -> None:
    rng = np.random.default_rng(5)
    stamps = [int(t) for t in rng.integers(0, 2**33 * 1000, 3_000)]
    stamps += [t - t % 60_000 for t in stamps[:1_000]] + [0, 1, 999, 1_000, 2**33 * 1000 - 1]
    assert isoformat_many(stamps) == [ms_to_datetime(t).isoformat() for t in stamps]
    outside = [-86_400_001, 2**33 * 1000, 5]
    assert isoformat_many(outside) == [ms_to_datetime(t).isoformat() for t in outside]
    assert isoformat_many([]) == []


def test_column_wise_row_sums_are_the_cumsums() -> None:
    rng = np.random.default_rng(9)
    for rows, width in [(64, 1), (64, 7), (300, 50), (1_000, 200), (70, 1_024), (10, 5)]:
        grid = rng.normal(100.0, 30.0, (rows, width)) * 10.0 ** rng.integers(-3, 6, (rows, 1))
        grid[rows // 2, width // 2] = np.nan
        assert np.array_equal(k.row_sums(grid), np.cumsum(grid, axis=1)[:, -1], equal_nan=True)
        accumulated = grid.copy()
        k.accumulate_rows(accumulated)
        assert np.array_equal(accumulated, np.cumsum(grid, axis=1), equal_nan=True)


@st.composite
def _order_runs(draw: st.DrawFn) -> list[tuple[str, float, float, float]]:
    """(kind, size, price at the next open, low of that candle) for a run of orders:
    market buys of a share of the free quote, market sells of a share of the base,
    limit buys that may or may not be reached."""
    count = draw(st.integers(1, 12))
    return [
        (
            draw(st.sampled_from(["buy", "sell", "limit"])),
            draw(st.sampled_from([1.0, 0.5, 0.999])),
            draw(st.floats(min_value=0.01, max_value=1e6)),
            draw(st.floats(min_value=0.9, max_value=1.1)),
        )
        for _ in range(count)
    ]


@given(
    runs=_order_runs(),
    rate=st.sampled_from([0.0, 0.00075, 0.001]),
    slippage=st.sampled_from([0.0, 5.0]),
)
@settings(max_examples=150, deadline=None)
def test_signal_replay_orders_and_linear_fills_are_the_generic_ones(
    runs: list[tuple[str, float, float, float]], rate: float, slippage: float
) -> None:
    """place_market/fill_market and the linear-fee fill give the very orders, fills and
    balances of submit/match through a fee plugin's own calculate()."""
    quick = MatchingEngine(Wallet({"USDT": 1000.0}), FlatRate(rate=rate), slippage_bps=slippage)
    plain = MatchingEngine(Wallet({"USDT": 1000.0}), SameFlatRate(rate=rate), slippage_bps=slippage)
    for step, (kind, share, price, low) in enumerate(runs):
        now, next_open = step * 60_000, step * 60_000 + 60_000
        if kind == "limit":
            for engine in (quick, plain):
                free = engine.wallet.free("USDT") * share / price / 2
                if free > 0:
                    engine.submit(
                        "BTC/USDT", "buy", "limit", free, price, now=now, reference_price=price
                    )
                    engine.match(next_open, price, price, price * low)
            continue
        side = OrderSide.BUY if kind == "buy" else OrderSide.SELL
        asset = "USDT" if kind == "buy" else "BTC"
        size = plain.wallet.free(asset) * share
        assert size == quick.wallet.free(asset) * share
        if not size > 0:
            continue
        budget, amount = (size, 0.0) if kind == "buy" else (None, size)
        order = quick.place_market("BTC/USDT", side, amount, budget, now)
        if len(quick.open_orders) == 1:
            quick.fill_market(order, next_open, price)
        else:
            quick.match(next_open, price, price, price * low)
        plain.submit(
            "BTC/USDT", side, "market", amount, None, now=now, reference_price=price,
            quote_amount=budget,
        )  # fmt: skip
        plain.match(next_open, price, price, price * low)
    assert [o.to_dict() for o in quick.orders.values()] == [
        o.to_dict() for o in plain.orders.values()
    ]
    assert [f.to_dict() for f in quick.fills] == [f.to_dict() for f in plain.fills]
    assert quick.wallet.balances() == plain.wallet.balances()
    assert quick.wallet.holds() == plain.wallet.holds()
    assert quick.fees_paid == plain.fees_paid


@st.composite
def _fill_runs(draw: st.DrawFn) -> list[Fill]:
    """Round trips as a signal replay makes them (a buy, then a sell of just that), now
    and then broken: a partial sell, a fee in base, another symbol, an unpaired buy."""
    fills: list[Fill] = []
    time = 1_600_000_000_000
    for number in range(draw(st.integers(0, 40))):
        amount = draw(st.floats(min_value=1e-6, max_value=1e4))
        buy_price, sell_price = draw(positive), draw(positive)
        rate = draw(st.sampled_from([0.0, 0.001, 0.00075]))
        flaw = draw(st.sampled_from(["none"] * 40 + ["partial", "base fee", "symbol", "open"]))
        symbol = "ETH/USDT" if flaw == "symbol" else "BTC/USDT"
        fee_currency = "BTC" if flaw == "base fee" else "USDT"
        time += 60_000
        buy_fee = amount * buy_price * rate if fee_currency == "USDT" else amount * rate
        fills.append(
            Fill(str(2 * number), symbol, OrderSide.BUY, amount, buy_price, buy_fee,
                 fee_currency, time, True)
        )  # fmt: skip
        if flaw == "open":
            break
        sold = amount / 2 if flaw == "partial" else amount
        time += draw(st.integers(60_000, 6_000_000))
        fills.append(
            Fill(str(2 * number + 1), symbol, OrderSide.SELL, sold, sell_price,
                 sold * sell_price * rate, "USDT", time, True)
        )  # fmt: skip
    return fills


@given(fills=_fill_runs(), split=st.integers(0, 40))
@settings(max_examples=200, deadline=None)
def test_fills_booked_together_are_the_trades_booked_one_by_one(
    fills: list[Fill], split: int
) -> None:
    """TradeLedger.on_fills (one numpy step per step of on_fill over whole round trips)
    leaves the very trades, open trade, dust and marks that on_fill leaves, in two calls
    too (the second starting where the first left a trade open or dust)."""
    one_by_one, together = TradeLedger(), TradeLedger()
    for fill in fills:
        one_by_one.on_fill(fill)
    together.on_fills(fills[:split])
    together.on_fills(fills[split:])
    assert together.trades == one_by_one.trades
    assert together._open == one_by_one._open
    assert together._dust == one_by_one._dust
    assert together._marks == one_by_one._marks
