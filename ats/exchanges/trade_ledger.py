"""Positions and round-trip trades derived from fills (the same for every exchange).

Accounting, so that the trades' P&L adds up to the change in account value:

- A fee paid in the base asset is taken from what the account holds (Binance charges a
  buy's fee in the coin bought), so it shows in the holding's value and is not subtracted
  a second time. Fees in quote or a third asset (BNB) are subtracted at their value in
  quote at fill time (:attr:`Fill.fee_value`). Every fee is listed in the trade's
  ``fees`` (valued in quote) and ``fee_assets`` (as charged).
- A trade closes when what it still holds can no longer be sold (:meth:`MarketRules.
  sellable`): fee dust does not keep a round trip open forever. The dust stays in the
  account; the closing trade counts it at the closing price, and the next trade takes it
  over at that value, so no part of the account's value change is lost between trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ats.exchanges.data_classes import Fill, OrderSide, Position, Trade, split_symbol
from ats.exchanges.market_rules import NO_RULES, MarketRules

_BUY = OrderSide.BUY  # a module constant: an enum member lookup costs more

# Without market rules, a holding smaller than this fraction of what was bought counts as
# sold (float residue of selling "everything").
_FLOAT_RESIDUE = 1e-9


@dataclass(slots=True)
class _OpenTrade:
    trade: Trade
    entry_cost: float = 0.0
    bought: float = 0.0
    exit_proceeds: float = 0.0
    sold: float = 0.0
    charged: float = 0.0
    """Fees paid outside the base asset, in quote."""
    held: float = 0.0
    carried_cost: float = 0.0
    """Value of the dust taken over from the previous trade, as that trade counted it."""


@dataclass(slots=True)
class _Dust:
    amount: float
    value: float


@dataclass(slots=True)
class TradeLedger:
    """Spot round trips: a trade opens when a flat position is bought into and closes
    when it is sold back to flat (to dust, under ``rules``)."""

    rules: MarketRules = NO_RULES
    trades: list[Trade] = field(default_factory=list)
    _open: dict[str, _OpenTrade] = field(default_factory=dict)
    _dust: dict[str, _Dust] = field(default_factory=dict)
    _marks: dict[str, float] = field(default_factory=dict)

    def on_fill(self, fill: Fill) -> None:
        # Once per fill: fields and properties are read once into locals and the pnl
        # update is inline (bench/backtest_speed.py); the arithmetic is unchanged.
        symbol, price, fee, fee_currency = fill.symbol, fill.price, fill.fee, fill.fee_currency
        in_base = fee_currency == split_symbol(symbol)[0]
        fee_in_base = fee if in_base else 0.0
        fee_value = fill.fee_in_quote
        if fee_value is None:  # Fill.fee_value, spelled out
            fee_value = fee * price if in_base else fee
        open_trade = self._open.get(symbol)
        self._marks[symbol] = price
        buy = fill.side is _BUY
        if buy:
            if open_trade is None:
                open_trade = self._open_trade(fill)
            open_trade.entry_cost += fill.amount * price
            open_trade.bought += fill.amount
            open_trade.held += fill.amount - fee_in_base
            open_trade.trade.entry_price = open_trade.entry_cost / open_trade.bought
            open_trade.trade.amount = open_trade.bought
        else:
            if open_trade is None:
                return  # selling an asset held before the job started: not a round trip
            open_trade.exit_proceeds += fill.amount * price
            open_trade.sold += fill.amount
            open_trade.held -= fill.amount + fee_in_base
        trade = open_trade.trade
        trade.fees += fee_value
        fee_assets = trade.fee_assets
        fee_assets[fee_currency] = fee_assets.get(fee_currency, 0.0) + fee
        if not fee_in_base:
            open_trade.charged += fee_value
        held = open_trade.held
        trade.pnl = (  # _update_pnl()
            open_trade.exit_proceeds
            + max(held, 0.0) * price
            - open_trade.entry_cost
            - open_trade.carried_cost
            - open_trade.charged
        )
        if not buy and self._sold_out(open_trade, price):
            trade.exit_time = fill.timestamp
            trade.exit_price = open_trade.exit_proceeds / open_trade.sold
            held = max(held, 0.0)
            if held > 0:
                self._dust[symbol] = _Dust(held, held * price)
            del self._open[symbol]

    def on_fills(self, fills: Sequence[Fill]) -> None:
        """``on_fill`` of each fill in turn, the same trades and state to the bit.

        A signal replay's fills are mostly whole round trips: a buy, then a sell of
        exactly what it bought, fees in quote. Such a run, on a ledger with nothing open
        and no dust in the symbol, is booked with one numpy operation per step of
        :meth:`on_fill` over all its trades (elementwise IEEE arithmetic, as Python's):
        two calls per trade fewer (bench/backtest_speed.py, vectorised). Anything else
        goes fill by fill.
        """
        pairs = len(fills) // 2
        columns = self._round_trips(fills[: 2 * pairs]) if pairs >= 8 else None
        if columns is None:
            for fill in fills:
                self.on_fill(fill)
            return
        symbol = fills[0].symbol
        quote = split_symbol(symbol)[1]
        amounts, prices, fees = columns
        bought, sold_at = amounts[0::2], prices[1::2]
        entry_cost = bought * prices[0::2]
        exit_proceeds = bought * sold_at  # what was sold is what was bought
        fee_sums = fees[0::2] + fees[1::2]
        # on_fill's pnl: exit proceeds + max(held, 0) * price - entry cost - carried cost
        # - fees, where held is 0.0 once sold back and the cost carried with dust is 0.0
        pnl = exit_proceeds + 0.0 * sold_at - entry_cost - 0.0 - fee_sums
        trades, times = self.trades, [fill.timestamp for fill in fills]
        for k, (entry_price, amount, fee_sum, profit, exit_price) in enumerate(
            zip(
                (entry_cost / bought).tolist(),
                bought.tolist(),
                fee_sums.tolist(),
                pnl.tolist(),
                (exit_proceeds / bought).tolist(),
                strict=True,
            )
        ):
            trade = Trade(symbol, times[2 * k], entry_price, amount, times[2 * k + 1])
            trade.exit_price, trade.fees, trade.pnl = exit_price, fee_sum, profit
            trade.fee_assets[quote] = fee_sum
            trades.append(trade)
        self._marks[symbol] = fills[2 * pairs - 1].price
        for fill in fills[2 * pairs :]:  # an unpaired last buy: the open trade
            self.on_fill(fill)

    def _round_trips(self, fills: Sequence[Fill]) -> tuple[np.ndarray, ...] | None:
        """(amounts, prices, fees) of ``fills`` if they are buy/sell pairs of one symbol,
        each selling exactly what it bought, fees in quote at their face value, booked on
        a ledger with no trade open and no dust in that symbol; else None."""
        symbol = fills[0].symbol
        if symbol in self._open or symbol in self._dust or not self.rules.is_empty:
            return None
        quote = split_symbol(symbol)[1]
        if any(
            fill.symbol != symbol or fill.fee_currency != quote or fill.fee_in_quote is not None
            for fill in fills
        ):
            return None
        if any(fill.side is not _BUY for fill in fills[0::2]) or any(
            fill.side is _BUY for fill in fills[1::2]
        ):
            return None
        amounts = np.array([fill.amount for fill in fills], dtype=np.float64)
        if not (np.all(amounts > 0) and np.array_equal(amounts[0::2], amounts[1::2])):
            return None
        prices = np.array([fill.price for fill in fills], dtype=np.float64)
        fees = np.array([fill.fee for fill in fills], dtype=np.float64)
        return amounts, prices, fees

    def _open_trade(self, fill: Fill) -> _OpenTrade:
        trade = Trade(fill.symbol, fill.timestamp, fill.price, 0.0)
        open_trade = self._open[fill.symbol] = _OpenTrade(trade)
        dust = self._dust.pop(fill.symbol, None)
        if dust is not None:
            open_trade.held, open_trade.carried_cost = dust.amount, dust.value
        self.trades.append(trade)
        return open_trade

    def _sold_out(self, open_trade: _OpenTrade, price: float) -> bool:
        if self.rules.is_empty:
            return open_trade.held <= _FLOAT_RESIDUE * open_trade.bought
        return self.rules.sellable(open_trade.held, price) == 0.0

    def mark(self, symbol: str, price: float) -> None:
        """Value the open position (and its trade's pnl) at ``price``."""
        self._marks[symbol] = price
        open_trade = self._open.get(symbol)
        if open_trade is not None:
            self._update_pnl(open_trade, price)

    @staticmethod
    def _update_pnl(open_trade: _OpenTrade, price: float) -> None:
        open_trade.trade.pnl = (
            open_trade.exit_proceeds
            + max(open_trade.held, 0.0) * price
            - open_trade.entry_cost
            - open_trade.carried_cost
            - open_trade.charged
        )

    def position(self, symbol: str, price: float | None = None) -> Position:
        """A fresh view of the open position in ``symbol`` (zero when flat)."""
        mark = price if price is not None else self._marks.get(symbol, 0.0)
        open_trade = self._open.get(symbol)
        if open_trade is None:
            return Position(symbol, 0.0, 0.0, mark)
        return Position(symbol, max(open_trade.held, 0.0), open_trade.trade.entry_price, mark)

    def dust_revaluation(self, symbol: str, price: float) -> float:
        """How much the dust left by the last closed trade has gained (or lost) in value
        since that trade counted it; the next trade takes this over."""
        dust = self._dust.get(symbol)
        return 0.0 if dust is None else dust.amount * price - dust.value

    def open_trade(self, symbol: str) -> Trade | None:
        open_trade = self._open.get(symbol)
        return open_trade.trade if open_trade else None

    @property
    def closed_trades(self) -> list[Trade]:
        return [trade for trade in self.trades if not trade.is_open]
