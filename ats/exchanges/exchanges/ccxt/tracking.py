"""What the live exchange must remember about each order beyond :class:`Order` itself,
and the translation of ccxt's unified order/trade dicts into ATS terms.

The tracking state is what makes placement idempotent and restarts safe: whether the
exchange ever confirmed the order, when a send attempt may still be in flight, and which
of the exchange's trades were already turned into fills.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ats.exchanges.data_classes import Fill, Order, OrderStatus, split_symbol

STATUS_FROM_CCXT = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


@dataclass(slots=True)
class Tracking:
    """Live-only facts about one order (JSON round-trips through the snapshot)."""

    exchange_id: str | None = None
    confirmed: bool = False
    """The exchange acknowledged or reported this order at least once."""
    sending: bool = False
    """A create request is in progress: the exchange may or may not have it."""
    last_send_ms: int | None = None
    """Wall time (ms) a send attempt last ended; None if it was never sent."""
    send_attempts: int = 0
    trade_ids: list[str] = field(default_factory=list)
    cancel_reason: str | None = None
    """Why we asked for a cancel (e.g. "expired"), applied once the exchange confirms."""

    @property
    def maybe_sent(self) -> bool:
        return self.sending or self.last_send_ms is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tracking:
        known = {key: value for key, value in (data or {}).items() if key in cls.__slots__}
        return cls(**known)


def status_of(info: dict[str, Any], order: Order) -> OrderStatus:
    """The ccxt order's status as ours; open with fills counts as partially filled."""
    status = STATUS_FROM_CCXT.get(str(info.get("status") or "").lower(), OrderStatus.OPEN)
    if status is OrderStatus.OPEN and order.filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def filled_of(info: dict[str, Any]) -> float:
    return float(info.get("filled") or 0.0)


def fill_from_trade(order: Order, trade: dict[str, Any]) -> Fill:
    """A ccxt unified trade as a Fill: the exchange's own price, fee and maker/taker flag."""
    fee = trade.get("fee") or {}
    amount = float(trade["amount"])
    price = float(trade.get("price") or 0.0) or float(trade.get("cost") or 0.0) / amount
    return Fill(
        order.id,
        order.symbol,
        order.side,
        amount,
        price,
        float(fee.get("cost") or 0.0),
        str(fee.get("currency") or split_symbol(order.symbol)[1]),
        int(trade.get("timestamp") or 0),
        trade.get("takerOrMaker") != "maker",
    )


def client_id_of(info: dict[str, Any]) -> str | None:
    """The order's own client id (a cancel result carries the cancel's id at the top)."""
    raw = info.get("info") or {}
    value = raw.get("origClientOrderId") or info.get("clientOrderId")
    return str(value) if value else None
