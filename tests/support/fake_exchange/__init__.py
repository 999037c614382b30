"""Loopback fake of the Binance spot REST API for driving ccxt's real binance class."""

from .client import make_binance
from .models import Balance, BinanceError, Candle, Fault, Fill, LoggedRequest, MarketSpec, Order
from .server import FakeBinance

__all__ = [
    "Balance",
    "BinanceError",
    "Candle",
    "FakeBinance",
    "Fault",
    "Fill",
    "LoggedRequest",
    "MarketSpec",
    "Order",
    "make_binance",
]
