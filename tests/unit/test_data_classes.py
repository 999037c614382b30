"""The hand-written Order/Fill serialisers stay complete and round-trip exactly."""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ats.exchanges.data_classes import Fill, Order, OrderSide, OrderStatus, OrderType

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
maybe_float = st.none() | finite
text = st.text(max_size=12)

orders = st.builds(
    Order,
    id=text,
    client_order_id=text,
    symbol=text,
    side=st.sampled_from(OrderSide),
    type=st.sampled_from(OrderType),
    amount=finite,
    price=maybe_float,
    stop_price=maybe_float,
    quote_amount=maybe_float,
    status=st.sampled_from(OrderStatus),
    filled=finite,
    cost=finite,
    fee=finite,
    fee_currency=st.none() | text,
    timestamp=st.integers(0, 2**53),
    last_update=st.integers(0, 2**53),
    expires_at=st.none() | st.integers(0, 2**53),
    triggered=st.booleans(),
    reason=st.none() | text,
)
fills = st.builds(
    Fill,
    order_id=text,
    symbol=text,
    side=st.sampled_from(OrderSide),
    amount=finite,
    price=finite,
    fee=finite,
    fee_currency=text,
    timestamp=st.integers(0, 2**53),
    taker=st.booleans(),
)


def test_every_field_is_serialised() -> None:
    order = Order("o1", "c1", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, 1.0, 100.0)
    fill = Fill("o1", "BTC/USDT", OrderSide.SELL, 1.0, 100.0, 0.1, "USDT", 5, True)
    assert list(order.to_dict()) == [f.name for f in fields(Order)]
    assert list(fill.to_dict()) == [f.name for f in fields(Fill)]


@given(orders)
def test_order_round_trips_through_json(order: Order) -> None:
    data = json.loads(json.dumps(order.to_dict()))
    assert Order.from_dict(data) == order
    assert type(data["side"]) is str and type(data["status"]) is str


@given(fills)
def test_fill_round_trips_through_json(fill: Fill) -> None:
    assert Fill.from_dict(json.loads(json.dumps(fill.to_dict()))) == fill


def test_a_fill_is_built_field_by_field_and_stays_frozen() -> None:
    names = [field.name for field in dataclasses.fields(Fill)]
    assert list(inspect.signature(Fill).parameters) == names
    values = ["7", "BTC/USDT", OrderSide.SELL, 0.5, 30_000.0, 0.25, "BNB", 60_000, False, 15.0]
    by_position, by_name = Fill(*values), Fill(**dict(zip(names, values, strict=True)))
    assert by_position == by_name and [getattr(by_name, n) for n in names] == values
    assert Fill(*values[:-1]).fee_in_quote is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        by_name.fee = 0.0  # type: ignore[misc]
    assert dataclasses.replace(by_name, fee=1.0).fee == 1.0
