"""Property tests: random order sequences against the wallet and matching engine.

Invariants checked after every step:
- no free or used balance is ever negative;
- each asset's used balance equals the holds of the open orders, and only open orders
  hold anything;
- the fees on fills add up to the engine's and the orders' recorded fees;
- equity rebuilt from the initial balances and the fills (as the metrics do) equals the
  wallet's actual cash plus position at the mark price.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ats.exceptions import InsufficientFunds
from ats.exchanges.data_classes import OrderSide, OrderStatus, OrderType
from ats.exchanges.equity_curve import equity_curve
from ats.exchanges.fees.maker_taker import MakerTaker
from ats.exchanges.matching import MatchingEngine
from ats.exchanges.wallet import Wallet

SYMBOL, BASE, QUOTE = "BTC/USDT", "BTC", "USDT"
INITIAL = {QUOTE: 10_000.0, BASE: 0.5}

prices = st.floats(min_value=100.0, max_value=1_000.0, allow_nan=False)
fractions = st.floats(min_value=0.0001, max_value=1.5, allow_nan=False)


class OrderBookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.wallet = Wallet(INITIAL)
        self.engine = MatchingEngine(
            self.wallet, MakerTaker(maker=0.0005, taker=0.002), slippage_bps=3.0
        )
        self.time = 0
        self.mark = 500.0

    # -- actions -------------------------------------------------------------------------
    @rule(
        side=st.sampled_from(list(OrderSide)),
        kind=st.sampled_from(list(OrderType)),
        fraction=fractions,
        offset=st.floats(min_value=-0.2, max_value=0.2),
        by_budget=st.booleans(),
    )
    def submit(
        self, side: OrderSide, kind: OrderType, fraction: float, offset: float, by_budget: bool
    ) -> None:
        price = self.mark * (1 + offset)
        if side is OrderSide.BUY:
            amount = fraction * self.wallet.free(QUOTE) / self.mark
        else:
            amount = fraction * self.wallet.free(BASE)
        quote_amount = None
        if by_budget and kind is OrderType.MARKET and side is OrderSide.BUY:
            quote_amount, amount = fraction * self.wallet.free(QUOTE), 0.0
            if quote_amount <= 0:
                return
        elif amount <= 0:
            return
        order = self.engine.submit(
            SYMBOL,
            side,
            kind,
            amount,
            price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            now=self.time + 1,
            reference_price=self.mark,
            stop_price=self.mark * (1 - offset / 2)
            if kind in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
            else None,
            quote_amount=quote_amount,
            expires_at=self.time + 5 if fraction > 1.2 else None,
        )
        if fraction > 1.0 and side is OrderSide.SELL:
            # Asked to sell more than the free balance: rejected at once, with a reason.
            assert order.status is OrderStatus.REJECTED and order.reason

    @precondition(lambda self: bool(self.engine.open_orders))
    @rule(pick=st.integers(min_value=0, max_value=1_000))
    def cancel(self, pick: int) -> None:
        order_ids = sorted(self.engine.open_orders)
        order = self.engine.cancel(order_ids[pick % len(order_ids)], self.time)
        assert order.status is OrderStatus.CANCELED
        assert self.wallet.hold_of(order.id) is None

    @rule(move=st.floats(min_value=-0.1, max_value=0.1), spread=st.floats(0.0, 0.05))
    def candle(self, move: float, spread: float) -> None:
        self.time += 1
        open_ = self.mark
        close = max(open_ * (1 + move), 1.0)
        high = max(open_, close) * (1 + spread)
        low = min(open_, close) * (1 - spread)
        self.engine.match(self.time, open_, high, low)
        self.mark = close

    # -- invariants ----------------------------------------------------------------------
    @invariant()
    def balances_never_negative(self) -> None:
        for balance in self.wallet.balances().values():
            assert balance.free >= 0, balance
            assert balance.used >= 0, balance

    @invariant()
    def holds_match_open_orders(self) -> None:
        holds = self.wallet.holds()
        assert set(holds) == set(self.engine.open_orders)
        for asset in (BASE, QUOTE):
            expected = sum(amount for held, amount in holds.values() if held == asset)
            assert self.wallet.used(asset) == pytest.approx(expected, rel=1e-9, abs=1e-9)
        for order in self.engine.open_orders.values():
            asset, amount = holds[order.id]
            assert asset == (QUOTE if order.side is OrderSide.BUY else BASE)
            assert amount >= 0

    @invariant()
    def fees_add_up(self) -> None:
        fill_fees = math.fsum(fill.fee for fill in self.engine.fills)
        order_fees = math.fsum(order.fee for order in self.engine.orders.values())
        recorded = math.fsum(self.engine.fees_paid.values())
        assert fill_fees == pytest.approx(recorded, rel=1e-12, abs=1e-12)
        assert order_fees == pytest.approx(recorded, rel=1e-12, abs=1e-12)
        for fill in self.engine.fills:
            rate = 0.0005 if self.engine.orders[fill.order_id].type is OrderType.LIMIT else 0.002
            assert fill.fee == pytest.approx(fill.amount * fill.price * rate, rel=1e-12)

    @invariant()
    def equity_is_cash_plus_position(self) -> None:
        rebuilt = equity_curve(
            np.array([self.time]), np.array([self.mark]), INITIAL, self.engine.fills, SYMBOL
        )[0]
        actual = self.wallet.total(QUOTE) + self.wallet.total(BASE) * self.mark
        assert rebuilt == pytest.approx(actual, rel=1e-9)


OrderBookMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderBook = OrderBookMachine.TestCase


def test_hold_rejects_more_than_free() -> None:
    wallet = Wallet({QUOTE: 100.0})
    with pytest.raises(InsufficientFunds, match="USDT"):
        wallet.hold("1", QUOTE, 100.01)
    assert wallet.free(QUOTE) == 100.0 and wallet.used(QUOTE) == 0.0


def test_release_on_cancel_restores_free_balance() -> None:
    wallet = Wallet({QUOTE: 100.0})
    engine = MatchingEngine(wallet, MakerTaker())
    order = engine.submit(SYMBOL, "buy", "limit", 0.1, 500.0, now=1, reference_price=510.0)
    assert wallet.free(QUOTE) == pytest.approx(100.0 - 0.1 * 500.0 * 1.001)
    engine.cancel(order.id, now=2)
    assert wallet.free(QUOTE) == 100.0 and wallet.used(QUOTE) == 0.0


def test_market_order_fills_on_next_candle_at_open_only() -> None:
    wallet = Wallet({QUOTE: 1_000.0})
    engine = MatchingEngine(wallet, MakerTaker(taker=0.001))
    order = engine.submit(SYMBOL, "buy", "market", 1.0, now=60, reference_price=100.0)
    engine.match(0, 100.0, 101.0, 99.0)  # the candle the order was placed on: no fill
    assert order.status is OrderStatus.OPEN
    engine.match(60, 102.0, 103.0, 101.0)
    assert order.status is OrderStatus.FILLED and order.average == 102.0
    assert order.fee == pytest.approx(0.102)
    assert wallet.free(QUOTE) == pytest.approx(1_000.0 - 102.0 - 0.102)
    assert wallet.used(QUOTE) == 0.0


@pytest.mark.parametrize(
    ("side", "kind", "limit", "stop", "candle", "expected"),
    [
        ("buy", "limit", 99.0, None, (100.0, 101.0, 98.5), 99.0),  # range reaches the limit
        ("buy", "limit", 99.0, None, (98.0, 99.5, 97.0), 98.0),  # open already through
        ("buy", "limit", 99.0, None, (100.0, 101.0, 99.5), None),  # not reached
        ("sell", "limit", 101.0, None, (100.0, 101.5, 99.0), 101.0),
        ("sell", "limit", 101.0, None, (102.0, 103.0, 101.5), 102.0),
        ("buy", "stop_market", None, 101.0, (100.0, 101.5, 99.0), 101.0),
        ("buy", "stop_market", None, 101.0, (102.0, 103.0, 101.5), 102.0),
        ("sell", "stop_market", None, 99.0, (100.0, 100.5, 98.0), 99.0),
        ("sell", "stop_market", None, 99.0, (98.0, 99.5, 97.0), 98.0),
        ("buy", "stop_limit", 101.5, 101.0, (100.0, 102.0, 99.0), 101.0),  # trigger <= limit
        ("buy", "stop_limit", 100.5, 101.0, (100.0, 102.0, 99.0), None),  # waits as a limit
    ],
)
def test_fill_price_rules(
    side: str,
    kind: str,
    limit: float | None,
    stop: float | None,
    candle: tuple[float, float, float],
    expected: float | None,
) -> None:
    wallet = Wallet({QUOTE: 1_000.0, BASE: 5.0})
    engine = MatchingEngine(wallet, MakerTaker())
    order = engine.submit(
        SYMBOL, side, kind, 1.0, limit, stop_price=stop, now=60, reference_price=100.0
    )
    engine.match(60, *candle)
    if expected is None:
        assert order.status is OrderStatus.OPEN
    else:
        assert order.status is OrderStatus.FILLED and order.average == expected


def test_slippage_moves_market_fills_against_the_trader() -> None:
    wallet = Wallet({QUOTE: 1_000.0, BASE: 1.0})
    engine = MatchingEngine(wallet, MakerTaker(taker=0.0), slippage_bps=10)
    buy = engine.submit(SYMBOL, "buy", "market", 1.0, now=0, reference_price=100.0)
    sell = engine.submit(SYMBOL, "sell", "market", 1.0, now=0, reference_price=100.0)
    engine.match(0, 100.0, 100.0, 100.0)
    assert buy.average == pytest.approx(100.1) and sell.average == pytest.approx(99.9)


def test_expired_order_releases_its_hold() -> None:
    wallet = Wallet({QUOTE: 1_000.0})
    engine = MatchingEngine(wallet, MakerTaker())
    order = engine.submit(
        SYMBOL, "buy", "limit", 1.0, 50.0, now=0, reference_price=100.0, expires_at=120
    )
    engine.match(60, 100.0, 101.0, 99.0)
    assert order.status is OrderStatus.OPEN
    engine.match(120, 100.0, 101.0, 49.0)
    assert order.status is OrderStatus.EXPIRED
    assert wallet.free(QUOTE) == 1_000.0 and wallet.used(QUOTE) == 0.0
