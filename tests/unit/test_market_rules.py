"""MarketRules: rounding the safe way, the exchange's filters, dust; and the matching engine
applying them (a refused order is never held, a quote-budget buy gets the exchange's
amount)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import OrderSide, OrderStatus, OrderType
from ats.exchanges.fees.flat_rate import FlatRate
from ats.exchanges.market_rules import MarketRules, floor_to_step
from ats.exchanges.matching import MatchingEngine
from ats.exchanges.wallet import Wallet

BINANCE_BTC = MarketRules(
    amount_step=0.00001,
    price_tick=0.01,
    cost_step=0.01,
    min_amount=0.00001,
    max_amount=9000,
    min_notional=5,
    max_notional=9_000_000,
    fee_step=1e-8,
)

amounts = st.floats(1e-6, 1e4, allow_nan=False)
prices = st.floats(0.5, 1e6, allow_nan=False)


def test_floors_on_decimals_not_binary_floats() -> None:
    assert floor_to_step(0.1 + 0.2, 0.1) == 0.3
    assert floor_to_step(0.3358841221114075, 0.00001) == 0.33588
    assert floor_to_step(5.0, None) == 5.0


@given(amounts)
def test_amounts_never_round_up_and_land_on_the_step(amount: float) -> None:
    rounded = BINANCE_BTC.round_amount(amount)
    assert rounded <= amount
    assert Decimal(repr(rounded)) % Decimal("0.00001") == 0


@given(prices)
def test_prices_round_the_safe_way(price: float) -> None:
    buy = BINANCE_BTC.round_price(price, OrderSide.BUY)
    sell = BINANCE_BTC.round_price(price, OrderSide.SELL)
    assert buy <= price <= sell
    assert sell - buy <= 0.01 + 1e-9


@given(st.floats(1.0, 1e6), prices)
def test_a_budget_buys_no_more_than_it_can_pay(budget: float, price: float) -> None:
    cost = BINANCE_BTC.budget_cost(budget, 0.001)
    amount = BINANCE_BTC.budget_amount(cost, price)
    # In decimals, as the exchange computes: 0.398 * 5.0 is 1.9900000000000002 in floats.
    assert Decimal(repr(cost)) * Decimal("1.001") <= Decimal(repr(budget))
    assert Decimal(repr(amount)) * Decimal(repr(price)) <= Decimal(repr(cost))


def test_min_notional_is_checked_for_base_sized_orders() -> None:
    """Issue 9, item 1: 0.0001 BTC at 14,890.76 is 1.49 USDT, under Binance's 5 USDT."""
    reason = BINANCE_BTC.check(OrderType.LIMIT, 0.0001, 14_890.76, 14_900.0)
    assert reason is not None and "NOTIONAL" in reason and "1.489076" in reason
    reason = BINANCE_BTC.check(OrderType.MARKET, 0.0001, None, 14_900.0)
    assert reason is not None and "NOTIONAL" in reason
    assert BINANCE_BTC.check(OrderType.LIMIT, 0.001, 14_890.76, 14_900.0) is None


def test_other_filters_are_named() -> None:
    assert "LOT_SIZE" in (BINANCE_BTC.check(OrderType.LIMIT, 0.0, 100.0, 100.0) or "")
    assert "LOT_SIZE" in (BINANCE_BTC.check(OrderType.MARKET, 9001.0, None, 1.0) or "")
    assert "NOTIONAL" in (BINANCE_BTC.check(OrderType.MARKET, 0, None, 1.0, cost=4.99) or "")


def test_dust_is_not_sellable() -> None:
    assert BINANCE_BTC.sellable(0.000003, 30_000.0) == 0.0  # below the lot step
    assert BINANCE_BTC.sellable(0.00009, 30_000.0) == 0.0  # 2.70 USDT, under min notional
    assert BINANCE_BTC.sellable(0.01232766, 30_000.0) == 0.01232


def test_fees_are_rounded_half_up_like_the_exchange_books_them() -> None:
    # 0.01234 BTC at 40,123.45 with 0.1 %: 0.495123373 USDT -> 0.49512337
    assert BINANCE_BTC.round_fee(0.01234 * 40_123.45 * 0.001) == 0.49512337
    # an exact half, 9.549474545, which the float product misses by a hair (...4999...)
    assert 0.6019 * 15_865.55 * 0.001 < 9.549474545
    assert BINANCE_BTC.round_fee(0.6019 * 15_865.55 * 0.001) == 9.54947455


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"exchange.params.market.amount_step"):
        MarketRules.from_config({"amount_step": -1})
    with pytest.raises(ConfigError, match=r"exchange.params.market.lot"):
        MarketRules.from_config({"lot": 1})
    assert MarketRules.from_config(BINANCE_BTC.to_dict()) == BINANCE_BTC


def engine(balances: dict[str, float]) -> MatchingEngine:
    return MatchingEngine(Wallet(balances), FlatRate(rate=0.001), rules=BINANCE_BTC)


def test_the_engine_refuses_without_holding_and_rounds_what_it_accepts() -> None:
    sim = engine({"USDT": 100.0, "BTC": 0.01})
    refused = sim.submit(
        "BTC/USDT", "buy", "limit", 0.0001, 14_890.76, now=0, reference_price=14_900.0
    )
    assert refused.status is OrderStatus.REJECTED and "NOTIONAL" in (refused.reason or "")
    assert sim.wallet.used("USDT") == 0 and not sim.open_orders
    order = sim.submit(
        "BTC/USDT", "sell", "limit", 0.0099999, 30_000.004, now=0, reference_price=30_000.0
    )
    assert order.status is OrderStatus.OPEN
    assert (order.amount, order.price) == (0.00999, 30_000.01)
    assert sim.wallet.used("BTC") == 0.00999


def test_a_budget_buy_gets_the_exchanges_amount_and_fee() -> None:
    sim = engine({"USDT": 1_000.0})
    order = sim.submit(
        "BTC/USDT", "buy", "market", 0.0, quote_amount=1_000.0, now=0, reference_price=40_000.0
    )
    sim.match(60_000, 40_123.45, 40_200.0, 40_000.0)
    fill = sim.fills[-1]
    cost = floor_to_step(1_000.0 / 1.001, 0.01)  # 999.0, as ccxt truncates quoteOrderQty
    assert fill.amount == floor_to_step(cost / 40_123.45, 0.00001) == 0.02489
    assert fill.fee == BINANCE_BTC.round_fee(0.02489 * 40_123.45 * 0.001)
    assert order.status is OrderStatus.FILLED
    assert sim.wallet.free("USDT") == pytest.approx(1_000.0 - fill.cost - fill.fee, abs=1e-9)


def test_a_fee_plugin_refuses_a_param_it_does_not_take() -> None:
    with pytest.raises(ConfigError, match=r"fees.params.rat: unknown parameter of flat_rate"):
        FlatRate(rat=0.1)
