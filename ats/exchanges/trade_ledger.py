"""Positions and round-trip trades derived from fills (the same for every exchange)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ats.exchanges.data_classes import Fill, OrderSide, Position, Trade, split_symbol

# A position smaller than this fraction of what was bought counts as closed (float dust).
_DUST = 1e-9


@dataclass(slots=True)
class _OpenTrade:
    trade: Trade
    entry_cost: float = 0.0
    bought: float = 0.0
    exit_proceeds: float = 0.0
    sold: float = 0.0
    fees: float = 0.0
    held: float = 0.0


@dataclass(slots=True)
class TradeLedger:
    """Spot round trips: a trade opens when a flat position is bought into and closes
    when it is sold back to flat. Fees are valued in quote at the fill price."""

    trades: list[Trade] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)
    _open: dict[str, _OpenTrade] = field(default_factory=dict)

    def on_fill(self, fill: Fill) -> None:
        base, _quote = split_symbol(fill.symbol)
        fee_in_quote = fill.fee * fill.price if fill.fee_currency == base else fill.fee
        received_base = fill.amount - (fill.fee if fill.fee_currency == base else 0.0)
        open_trade = self._open.get(fill.symbol)
        position = self.positions.setdefault(fill.symbol, Position(fill.symbol))
        position.mark_price = fill.price
        if fill.side is OrderSide.BUY:
            if open_trade is None:
                trade = Trade(fill.symbol, fill.timestamp, fill.price, 0.0)
                open_trade = self._open[fill.symbol] = _OpenTrade(trade)
                self.trades.append(trade)
            open_trade.entry_cost += fill.cost
            open_trade.bought += fill.amount
            open_trade.held += received_base
            open_trade.fees += fee_in_quote
            open_trade.trade.entry_price = open_trade.entry_cost / open_trade.bought
            open_trade.trade.amount = open_trade.bought
        else:
            if open_trade is None:
                return  # selling an asset held before the job started: not a round trip
            open_trade.exit_proceeds += fill.cost
            open_trade.sold += fill.amount
            open_trade.held -= fill.amount
            open_trade.fees += fee_in_quote
        position.amount = max(open_trade.held, 0.0)
        position.entry_price = open_trade.trade.entry_price
        self._update_pnl(open_trade, fill.price)
        if open_trade.held <= _DUST * open_trade.bought:
            trade = open_trade.trade
            trade.exit_time = fill.timestamp
            trade.exit_price = open_trade.exit_proceeds / open_trade.sold
            position.amount = 0.0
            del self._open[fill.symbol]

    def mark(self, symbol: str, price: float) -> None:
        """Value the open position (and its trade's pnl) at ``price``."""
        position = self.positions.get(symbol)
        if position is not None:
            position.mark_price = price
        open_trade = self._open.get(symbol)
        if open_trade is not None:
            self._update_pnl(open_trade, price)

    @staticmethod
    def _update_pnl(open_trade: _OpenTrade, price: float) -> None:
        trade = open_trade.trade
        trade.fees = open_trade.fees
        trade.pnl = (
            open_trade.exit_proceeds
            + max(open_trade.held, 0.0) * price
            - open_trade.entry_cost
            - open_trade.fees
        )

    def open_trade(self, symbol: str) -> Trade | None:
        open_trade = self._open.get(symbol)
        return open_trade.trade if open_trade else None

    @property
    def closed_trades(self) -> list[Trade]:
        return [trade for trade in self.trades if not trade.is_open]
