"""Data model of the fake Binance spot exchange: markets, orders, trades, faults, errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any, Literal

Number = Decimal | float | int | str

ZERO = Decimal(0)

#: Kline intervals with a fixed length (Binance also has "1M", which is calendar based and
#: not supported here).
INTERVAL_MS: dict[str, int] = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}

#: Binance weekly klines open on Monday 00:00 UTC; the Unix epoch was a Thursday.
WEEK_OFFSET_MS = 4 * 86_400_000

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})

FaultKind = Literal["429", "418", "400", "403", "404", "500", "503", "-1007", "timeout", "drop"]
FAULT_KINDS: frozenset[str] = frozenset(
    {"429", "418", "400", "403", "404", "500", "503", "-1007", "timeout", "drop"}
)
PLAIN_FAULTS: dict[str, str] = {
    "400": "Bad Request",
    "403": "Forbidden",  # what Binance's web application firewall answers
    "404": "Not Found",
    "500": "Internal Server Error",
    "503": "Service Unavailable.",
}


def dec(value: Number) -> Decimal:
    """Convert a number to Decimal without float noise (floats go through ``str``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def fmt(value: Decimal, places: int = 8) -> str:
    """Format like Binance does: fixed point with ``places`` decimals (e.g. ``"0.00100000"``)."""
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` down to a multiple of ``step``."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is an exact multiple of ``step`` (a zero step accepts anything)."""
    return step <= 0 or (value % step) == 0


def interval_start(ts_ms: int, interval: str) -> int:
    """Open time of the ``interval`` candle containing ``ts_ms``."""
    size = INTERVAL_MS[interval]
    offset = WEEK_OFFSET_MS if interval == "1w" else 0
    return (ts_ms - offset) // size * size + offset


class BinanceError(Exception):
    """A Binance JSON error: ``{"code": code, "msg": msg}`` sent with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status

    def payload(self) -> dict[str, Any]:
        """The JSON body Binance sends."""
        return {"code": self.code, "msg": self.msg}


def mandatory(name: str) -> BinanceError:
    """-1102 for a missing parameter."""
    return BinanceError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_value(name: str) -> BinanceError:
    """-1130 for a parameter with an invalid value."""
    return BinanceError(-1130, f"Data sent for parameter '{name}' is not valid.")


@dataclass
class MarketSpec:
    """One spot symbol and its filters, as published by ``/api/v3/exchangeInfo``."""

    symbol: str
    base: str
    quote: str
    tick_size: Decimal = Decimal("0.01")
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    step_size: Decimal = Decimal("0.00001")
    min_qty: Decimal = Decimal("0.00001")
    max_qty: Decimal = Decimal("9000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    status: str = "TRADING"
    base_precision: int = 8
    quote_precision: int = 8
    #: Reference price used when no klines are loaded and no price override is set.
    default_price: Decimal = Decimal("100")
    order_types: tuple[str, ...] = ("LIMIT", "LIMIT_MAKER", "MARKET")

    def to_exchange_info(self) -> dict[str, Any]:
        """The symbol entry of ``exchangeInfo``, with documented fields only."""
        return {
            "symbol": self.symbol,
            "status": self.status,
            "baseAsset": self.base,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_precision,
            "quoteCommissionPrecision": self.quote_precision,
            "orderTypes": list(self.order_types),
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": fmt(self.min_price),
                    "maxPrice": fmt(self.max_price),
                    "tickSize": fmt(self.tick_size),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": fmt(self.min_qty),
                    "maxQty": fmt(self.max_qty),
                    "stepSize": fmt(self.step_size),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": fmt(self.min_notional),
                    "applyMinToMarket": True,
                    "maxNotional": fmt(self.max_notional),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": [
                "NONE",
                "EXPIRE_TAKER",
                "EXPIRE_MAKER",
                "EXPIRE_BOTH",
            ],
        }


def default_markets() -> dict[str, MarketSpec]:
    """BTCUSDT and ETHUSDT with the filters Binance publishes for them."""
    return {
        "BTCUSDT": MarketSpec(
            "BTCUSDT",
            "BTC",
            "USDT",
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.00001"),
            min_qty=Decimal("0.00001"),
            max_qty=Decimal("9000"),
            min_notional=Decimal("5"),
            default_price=Decimal("60000"),
        ),
        "ETHUSDT": MarketSpec(
            "ETHUSDT",
            "ETH",
            "USDT",
            tick_size=Decimal("0.01"),
            step_size=Decimal("0.0001"),
            min_qty=Decimal("0.0001"),
            max_qty=Decimal("9000"),
            min_notional=Decimal("5"),
            default_price=Decimal("3000"),
        ),
    }


@dataclass(frozen=True)
class Candle:
    """One kline as loaded by a test."""

    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def of(cls, row: Any) -> Candle:
        """Build from a ``(ts_ms, o, h, l, c, v)`` sequence or a Candle."""
        if isinstance(row, Candle):
            return row
        ts, o, h, low, c, v = row
        return cls(int(ts), dec(o), dec(h), dec(low), dec(c), dec(v))


@dataclass
class Balance:
    """Free and locked amounts of one asset."""

    free: Decimal = ZERO
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """free + locked."""
        return self.free + self.locked


@dataclass
class Fill:
    """One execution of an order (a ``fills`` entry and a ``myTrades`` row)."""

    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool

    @property
    def quote_qty(self) -> Decimal:
        """price * qty."""
        return self.price * self.qty

    def to_fill(self) -> dict[str, Any]:
        """The ``fills`` entry of a FULL order response."""
        return {
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }

    def to_my_trade(self) -> dict[str, Any]:
        """A ``/api/v3/myTrades`` row."""
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": fmt(self.price),
            "qty": fmt(self.qty),
            "quoteQty": fmt(self.quote_qty),
            "commission": fmt(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time,
            "isBuyer": self.side == "BUY",
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


@dataclass
class Order:
    """An order of the account."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cummulative_quote_qty: Decimal = ZERO
    orig_quote_order_qty: Decimal = ZERO
    update_time: int = 0
    fills: list[Fill] = field(default_factory=list)
    #: Asset and amount locked while the order rests on the book.
    reserved_asset: str = ""
    reserved: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        """NEW or PARTIALLY_FILLED."""
        return self.status in OPEN_STATUSES

    def to_result(self) -> dict[str, Any]:
        """Fields shared by the RESULT response and the order query."""
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "price": fmt(self.price),
            "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed_qty),
            "origQuoteOrderQty": fmt(self.orig_quote_order_qty),
            "cummulativeQuoteQty": fmt(self.cummulative_quote_qty),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side,
            "workingTime": self.time,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def to_query(self) -> dict[str, Any]:
        """A ``GET /api/v3/order`` (and openOrders / allOrders) entry."""
        out = self.to_result()
        out.update(
            {
                "stopPrice": fmt(ZERO),
                "icebergQty": fmt(ZERO),
                "time": self.time,
                "updateTime": self.update_time,
                "isWorking": True,
            }
        )
        return out

    def to_new_order(self, resp_type: str) -> dict[str, Any]:
        """The ``POST /api/v3/order`` response for ``newOrderRespType`` ACK, RESULT or FULL."""
        ack = {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": self.time,
        }
        if resp_type == "ACK":
            return ack
        out = {**ack, **self.to_result()}
        if resp_type == "FULL":
            out["fills"] = [f.to_fill() for f in self.fills]
        return out


@dataclass
class Fault:
    """An injected failure; ``remaining`` < 0 means it never runs out."""

    kind: str
    path: str | None = None
    method: str | None = None
    remaining: int = 1
    after_processing: bool = False
    delay: float | None = None
    payload: Mapping[str, Any] | None = None
    retry_after: float = 1.0
    """Seconds of the Retry-After window (429) or ban (418) the fault opens."""
    fired: int = 0

    def matches(self, method: str, path: str, after: bool) -> bool:
        """Whether this fault applies to the request at this stage."""
        if self.remaining == 0 or self.after_processing != after:
            return False
        if self.path is not None and self.path != path:
            return False
        return self.method is None or self.method == method


@dataclass
class LoggedRequest:
    """One request as received by the server."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    time: float
