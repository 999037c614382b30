"""The shared order/fill model used by every exchange (back_trading, paper, live).

Vocabulary follows ccxt's unified API: symbols like ``BTC/USDT``, ``side`` buy/sell,
``type`` market/limit/..., ``amount`` in base currency, ``price`` in quote currency,
timestamps in integer milliseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ats.utils.symbols import split_symbol


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        return self not in _OPEN_STATUSES


_OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


def ms_to_datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)


_NUMPY_ISO_RANGE = (0, 2**33 * 1000)
"""Milliseconds that numpy formats exactly as ``ms_to_datetime(t).isoformat()``: from
1970 until float seconds get too coarse for ``fromtimestamp`` to round to the right
microsecond (the year 2242)."""


def isoformat_many(timestamps: Sequence[int]) -> list[str]:
    """``ms_to_datetime(t).isoformat()`` of each timestamp, formatted by numpy in one call:
    the report of bench/backtest_speed.py lists thousands of trades, and formatting
    their times one datetime at a time was a third of building it."""
    import numpy as np

    stamps = np.asarray(timestamps, dtype=np.int64)
    low, high = _NUMPY_ISO_RANGE
    if not stamps.size or stamps.min() < low or stamps.max() >= high:
        return [ms_to_datetime(int(stamp)).isoformat() for stamp in timestamps]
    moments = stamps.astype("datetime64[ms]")
    texts: list[str] = np.datetime_as_string(moments, unit="s").tolist()
    fractional = np.flatnonzero(stamps % 1000)  # isoformat shows microseconds, if any
    precise = np.datetime_as_string(moments[fractional], unit="us").tolist()
    for index, text in zip(fractional.tolist(), precise, strict=True):
        texts[index] = text
    return [text + "+00:00" for text in texts]


@dataclass(slots=True)
class Candle:
    """One closed OHLCV candle.

    During a backtest the exchange reuses a single Candle object and overwrites its
    fields for every bar (no per-candle allocation); call :meth:`copy` to keep one.
    """

    symbol: str
    timestamp: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @property
    def datetime(self) -> datetime:
        return ms_to_datetime(self.timestamp)

    def copy(self) -> Candle:
        return Candle(
            self.symbol, self.timestamp, self.open, self.high, self.low, self.close, self.volume
        )

    def to_row(self) -> list[Any]:
        """``[symbol, timestamp, open, high, low, close, volume]``: how snapshots keep it."""
        return [
            self.symbol, self.timestamp, self.open, self.high, self.low, self.close, self.volume,
        ]  # fmt: skip

    @classmethod
    def from_row(cls, row: list[Any]) -> Candle:
        """The candle :meth:`to_row` wrote (numbers from JSON made ints and floats)."""
        symbol, timestamp, *values = row
        return cls(symbol, int(timestamp), *map(float, values))


@dataclass(slots=True)
class Order:
    """An order and its lifecycle; exchanges mutate it in place as it fills."""

    id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    amount: float
    price: float | None = None
    stop_price: float | None = None
    quote_amount: float | None = None
    """For a market buy: spend this much quote (fees included) instead of a fixed amount."""
    status: OrderStatus = OrderStatus.OPEN
    filled: float = 0.0
    cost: float = 0.0
    """Quote value of what has filled so far (sum of amount * price), excluding fees."""
    fee: float = 0.0
    fee_currency: str | None = None
    timestamp: int = 0
    """When the order was placed: the close time of the candle the strategy saw."""
    last_update: int = 0
    expires_at: int | None = None
    triggered: bool = False
    reason: str | None = None
    """Why the order was rejected, canceled or expired."""

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled, 0.0)

    @property
    def average(self) -> float | None:
        return self.cost / self.filled if self.filled > 0 else None

    @property
    def is_open(self) -> bool:
        # Not via status.is_final: asked several times per order (bench/backtest_speed.py).
        return self.status in _OPEN_STATUSES

    def copy(self) -> Order:
        """A detached copy for events (``dataclasses.replace`` is several times slower)."""
        return Order(
            self.id,
            self.client_order_id,
            self.symbol,
            self.side,
            self.type,
            self.amount,
            self.price,
            self.stop_price,
            self.quote_amount,
            self.status,
            self.filled,
            self.cost,
            self.fee,
            self.fee_currency,
            self.timestamp,
            self.last_update,
            self.expires_at,
            self.triggered,
            self.reason,
        )

    def to_dict(self) -> dict[str, Any]:
        """Spelled out: ``dataclasses.asdict`` is ~10x slower, and snapshots of jobs with
        thousands of orders are written while the user waits for a quit. Enums stay as
        they are: they are ``str`` subclasses, so JSON writes their value."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "amount": self.amount,
            "price": self.price,
            "stop_price": self.stop_price,
            "quote_amount": self.quote_amount,
            "status": self.status,
            "filled": self.filled,
            "cost": self.cost,
            "fee": self.fee,
            "fee_currency": self.fee_currency,
            "timestamp": self.timestamp,
            "last_update": self.last_update,
            "expires_at": self.expires_at,
            "triggered": self.triggered,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Order:
        values = dict(data)
        values["side"] = OrderSide(values["side"])
        values["type"] = OrderType(values["type"])
        values["status"] = OrderStatus(values["status"])
        return cls(**values)


@dataclass(slots=True, frozen=True)
class Fill:
    """One execution of (part of) an order. Fees are charged once, here.

    ``fee`` is in ``fee_currency`` as the exchange booked it: the quote or base asset, or a
    third one (Binance charges BNB when asked to). ``fee_in_quote`` is its value in the
    symbol's quote currency at the fill; it is only stored for a third asset, whose price
    comes from the exchange at fill time (see :attr:`fee_value`).
    """

    order_id: str
    symbol: str
    side: OrderSide
    amount: float
    price: float
    fee: float
    fee_currency: str
    timestamp: int
    taker: bool
    fee_in_quote: float | None = None

    @property
    def cost(self) -> float:
        return self.amount * self.price

    @property
    def fee_value(self) -> float:
        """The fee in quote: as booked, at the fill price for the base asset, or as valued
        at fill time for a third asset."""
        if self.fee_in_quote is not None:
            return self.fee_in_quote
        if self.fee_currency == split_symbol(self.symbol)[0]:
            return self.fee * self.price
        return self.fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "symbol": self.symbol,
            "side": self.side,
            "amount": self.amount,
            "price": self.price,
            "fee": self.fee,
            "fee_currency": self.fee_currency,
            "timestamp": self.timestamp,
            "taker": self.taker,
            "fee_in_quote": self.fee_in_quote,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fill:
        return cls(**{**data, "side": OrderSide(data["side"])})


def _fill_init_through_slots() -> None:
    """Give :class:`Fill` an ``__init__`` that stores through its slots directly.

    A frozen dataclass' generated ``__init__`` goes through ``object.__setattr__`` once
    per field, which made a Fill cost as much as the rest of its fill's bookkeeping in
    bench/backtest_speed.py. The slot descriptors' own setters do the same stores (the
    instance stays frozen: ``fill.x = ...`` still raises) in half the time.
    """
    (
        set_order_id, set_symbol, set_side, set_amount, set_price,
        set_fee, set_fee_currency, set_timestamp, set_taker, set_fee_in_quote,
    ) = [getattr(Fill, field.name).__set__ for field in fields(Fill)]  # fmt: skip

    def __init__(
        self: Fill,
        order_id: str,
        symbol: str,
        side: OrderSide,
        amount: float,
        price: float,
        fee: float,
        fee_currency: str,
        timestamp: int,
        taker: bool,
        fee_in_quote: float | None = None,
    ) -> None:
        set_order_id(self, order_id)
        set_symbol(self, symbol)
        set_side(self, side)
        set_amount(self, amount)
        set_price(self, price)
        set_fee(self, fee)
        set_fee_currency(self, fee_currency)
        set_timestamp(self, timestamp)
        set_taker(self, taker)
        set_fee_in_quote(self, fee_in_quote)

    __init__.__qualname__ = "Fill.__init__"
    Fill.__init__ = __init__  # type: ignore[method-assign]


_fill_init_through_slots()


@dataclass(slots=True)
class Trade:
    """A long round trip: entry fills until the position is flat again.

    ``exit_time``/``exit_price`` are None while the position is still open; ``pnl`` is then
    marked at the last price seen.
    """

    symbol: str
    entry_time: int
    entry_price: float
    amount: float
    exit_time: int | None = None
    exit_price: float | None = None
    fees: float = 0.0
    """Every fill's fee, valued in quote (see :attr:`Fill.fee_value`)."""
    pnl: float = 0.0
    fee_assets: dict[str, float] = field(default_factory=dict)
    """The fees as charged: amount per currency (e.g. ``{"BNB": 0.0213}``)."""

    @property
    def is_open(self) -> bool:
        return self.exit_time is None

    @property
    def return_pct(self) -> float:
        invested = self.entry_price * self.amount
        return 100.0 * self.pnl / invested if invested else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "entry_time": ms_to_datetime(self.entry_time).isoformat(),
            "entry_price": self.entry_price,
            "exit_time": None
            if self.exit_time is None
            else ms_to_datetime(self.exit_time).isoformat(),
            "exit_price": self.exit_price,
            "amount": self.amount,
            "fees": self.fees,
            "fee_assets": dict(self.fee_assets),
            "pnl": self.pnl,
            "return_pct": self.return_pct,
        }


def trade_dicts(trades: Sequence[Trade]) -> list[dict[str, Any]]:
    """``[trade.to_dict() for trade in trades]``, with the times formatted in one call."""
    entries = isoformat_many([trade.entry_time for trade in trades])
    exits = iter(isoformat_many([t.exit_time for t in trades if t.exit_time is not None]))
    return [
        {
            "symbol": trade.symbol,
            "entry_time": entry,
            "entry_price": trade.entry_price,
            "exit_time": None if trade.exit_time is None else next(exits),
            "exit_price": trade.exit_price,
            "amount": trade.amount,
            "fees": trade.fees,
            "fee_assets": dict(trade.fee_assets),
            "pnl": trade.pnl,
            "return_pct": trade.return_pct,
        }
        for trade, entry in zip(trades, entries, strict=True)
    ]


@dataclass(slots=True)
class Position:
    """The open long position in ``symbol``.

    ``dust`` is what the account holds of the base asset but cannot sell: below the
    market's lot step, minimum amount or minimum notional (typically left by fees taken
    from what was bought). A position whose sellable holding is nothing is flat.
    """

    symbol: str
    amount: float = 0.0
    entry_price: float = 0.0
    mark_price: float = 0.0
    held: float = 0.0
    """The account's whole holding of the base asset (free and held by orders)."""
    dust: float = 0.0
    """The part of ``held`` that no order could sell."""
    sellable: float = 0.0
    """How much a sell can take now: the free holding, floored to the lot step."""

    @property
    def is_flat(self) -> bool:
        """Nothing that could be sold: no holding, or only dust."""
        return not self.held - self.dust > 0

    @property
    def value(self) -> float:
        return self.amount * self.mark_price

    @property
    def unrealized_pnl(self) -> float:
        return (self.mark_price - self.entry_price) * self.amount


@dataclass(slots=True)
class Balance:
    asset: str
    free: float = 0.0
    used: float = 0.0

    @property
    def total(self) -> float:
        return self.free + self.used


@dataclass(slots=True)
class FeeQuote:
    """What a fee plugin charges for one fill. ``currency`` may be an asset code, or
    ``"quote"``/``"base"`` meaning the traded symbol's quote or base asset."""

    amount: float
    currency: str = "quote"
    value: float | None = None
    """The fee's value in quote, required when ``currency`` is a third asset (e.g. BNB)."""


@dataclass(slots=True)
class Progress:
    """How far a finite data feed has got."""

    done: int = 0
    total: int | None = None
    timestamp: int | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(self.done / self.total, 1.0)


@dataclass(slots=True)
class OrderRequest:
    """What a strategy asks for; the exchange turns it into an :class:`Order`."""

    symbol: str
    side: OrderSide
    type: OrderType
    amount: float
    price: float | None = None
    stop_price: float | None = None
    quote_amount: float | None = None
    client_order_id: str | None = None
    expires_at: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
