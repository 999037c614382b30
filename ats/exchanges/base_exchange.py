"""The exchange plugin contract: one order API, whatever fills the orders.

Order methods are synchronous so that strategy code is identical in every mode: an order
comes back at once with status *open* (or *rejected* with a reason); a live exchange
sends it in the background and reports progress through order listeners.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    OrderType,
    Position,
    Progress,
    Trade,
)
from ats.exchanges.run_control import RunControl

CandleHandler = Callable[[Candle], None]
LogFunction = Callable[[str, str], None]
"""``log(level, message)`` supplied by the job; levels are logging's names."""
Mode = Literal["backtest", "paper", "live"]


class BaseExchange(abc.ABC):
    """Feeds candles of one symbol to ``on_candle`` and executes the strategy's orders."""

    name: ClassVar[str]
    mode: ClassVar[Mode]

    def __init__(
        self,
        *,
        symbol: str,
        fees: BaseFees,
        balances: dict[str, float],
        config: dict[str, Any],
        log: LogFunction | None = None,
    ) -> None:
        self.symbol = symbol
        self.fees = fees
        self.config = config
        self.log: LogFunction = log or (lambda level, message: None)
        self.initial_balances = dict(balances)
        self.on_candle: CandleHandler | None = None
        self.order_listeners: list[Callable[[Order], None]] = []
        self.fill_listeners: list[Callable[[Fill, Order], None]] = []

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:  # noqa: B027 - optional hook
        """Open connections and load markets/data; called before :meth:`run`."""

    async def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Release connections; always called, also after errors."""

    @abc.abstractmethod
    async def run(self, control: RunControl) -> None:
        """Feed candles to ``on_candle`` until the data ends or ``control`` stops it."""

    def set_on_candle(self, handler: CandleHandler) -> None:
        self.on_candle = handler

    @property
    def progress(self) -> Progress:
        """How far the feed has got; ``total`` is None for endless live data."""
        return Progress()

    # -- orders --------------------------------------------------------------------------
    @abc.abstractmethod
    def submit_order(
        self,
        symbol: str,
        side: OrderSide | str,
        type: OrderType | str,
        amount: float,
        price: float | None = None,
        *,
        stop_price: float | None = None,
        quote_amount: float | None = None,
        client_order_id: str | None = None,
        expires_at: int | None = None,
    ) -> Order: ...

    @abc.abstractmethod
    def cancel_order(self, order_id: str) -> Order: ...

    @abc.abstractmethod
    def get_order(self, order_id: str) -> Order: ...

    @abc.abstractmethod
    def get_open_orders(self, symbol: str | None = None) -> list[Order]: ...

    @abc.abstractmethod
    def get_orders(self) -> list[Order]:
        """Every order this job placed that the exchange still knows, oldest first."""

    # -- account -------------------------------------------------------------------------
    @abc.abstractmethod
    def get_wallet_balance(self, asset: str) -> Balance: ...

    @abc.abstractmethod
    def get_balances(self) -> dict[str, Balance]: ...

    def get_fees(self) -> BaseFees:
        return self.fees

    @abc.abstractmethod
    def get_position(self, symbol: str) -> Position: ...

    @abc.abstractmethod
    def get_trades(self) -> list[Trade]:
        """Round trips so far; an open one last, marked at the latest price."""

    @abc.abstractmethod
    def get_fills(self) -> list[Fill]: ...

    @abc.abstractmethod
    def last_price(self, symbol: str) -> float | None: ...

    def equity(self) -> float:
        """Account value in the symbol's quote currency at the latest price."""
        base, quote = self.symbol.split("/")
        price = self.last_price(self.symbol) or 0.0
        balances = self.get_balances()
        total = balances[quote].total if quote in balances else 0.0
        if base in balances:
            total += balances[base].total * price
        return total
