"""Cross-checks of a restored simulated account, so hand-edited numbers are refused.

A snapshot's checksum catches accidental damage; these invariants catch a file that was
edited and re-checksummed (or produced by a bug): every balance must equal the starting
balance plus the effect of the fills, every order's filled amount the sum of its fills,
and exactly the open orders may hold funds.
"""

from __future__ import annotations

import math
from collections import defaultdict

from ats.exceptions import StateError
from ats.exchanges.data_classes import OrderSide, split_symbol
from ats.exchanges.simulated_exchange import SimulatedExchange

_RELATIVE = 1e-9
"""The wallet forgives float dust of this relative size per fill (see wallet._is_dust)."""


def check_simulated_account(exchange: SimulatedExchange) -> None:
    """Raise StateError naming the first inconsistency between wallet, orders and fills."""
    base, quote = split_symbol(exchange.symbol)
    fills = exchange.get_fills()
    orders = {order.id: order for order in exchange.get_orders()}
    expected: dict[str, float] = defaultdict(float)
    flow: dict[str, float] = defaultdict(float)
    for asset, amount in exchange.initial_balances.items():
        expected[asset] += float(amount)
    filled: dict[str, float] = defaultdict(float)
    for index, fill in enumerate(fills):
        if fill.order_id not in orders:
            raise StateError(f"fill {index + 1} belongs to unknown order {fill.order_id!r}")
        if fill.fee_currency not in (base, quote):
            raise StateError(f"fill {index + 1} has fee currency {fill.fee_currency!r}")
        cost = fill.amount * fill.price
        sign = 1.0 if fill.side is OrderSide.BUY else -1.0
        expected[base] += sign * fill.amount
        expected[quote] -= sign * cost
        expected[fill.fee_currency] -= fill.fee
        flow[base] += fill.amount + (fill.fee if fill.fee_currency == base else 0.0)
        flow[quote] += cost + (fill.fee if fill.fee_currency == quote else 0.0)
        filled[fill.order_id] += fill.amount
    wallet = exchange.wallet
    for asset in sorted(set(expected) | set(wallet.assets())):
        actual = wallet.total(asset)
        want = expected.get(asset, 0.0)
        tolerance = _RELATIVE * (flow.get(asset, 0.0) + max(abs(want), 1.0)) * 4
        if not math.isfinite(actual) or abs(actual - want) > tolerance:
            raise StateError(
                f"wallet {asset} is {actual:.10g} but the starting balance and fills give "
                f"{want:.10g}"
            )
    for order in orders.values():
        total = filled.get(order.id, 0.0)
        if abs(order.filled - total) > _RELATIVE * max(abs(total), 1e-12) * 4 + 1e-15:
            raise StateError(
                f"order {order.id} says {order.filled:.10g} filled but its fills sum to "
                f"{total:.10g}"
            )
    holds = set(wallet.holds())
    open_ids = {order.id for order in orders.values() if order.is_open}
    if holds != open_ids:
        odd = sorted(holds ^ open_ids)[:3]
        raise StateError(f"wallet holds do not match the open orders (e.g. order {odd[0]})")
    open_book = set(exchange.engine.open_orders)
    if open_book != open_ids:
        raise StateError("open order book does not match the orders' statuses")
