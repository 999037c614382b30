"""The exchange plugin contract: one order API, whatever fills the orders.

Order methods are synchronous so that strategy code is identical in every mode: an order
comes back at once with status *open* (or *rejected* with a reason); a live exchange
sends it in the background and reports progress through order listeners.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Progress,
    Trade,
)
from ats.exchanges.market_rules import NO_RULES, MarketRules
from ats.exchanges.run_control import RunControl

CandleHandler = Callable[[Candle], None]
LogFunction = Callable[[str, str], None]
"""``log(level, message)`` supplied by the job; levels are logging's names."""
Mode = Literal["backtest", "paper", "live"]
OrderCheck = Callable[[str, OrderSide, float], str | None]
"""``check(symbol, side, quote_value) -> reason`` to refuse an order, None to allow."""


LOCAL_REJECT_PREFIX = "rejected-"
"""Ids of orders refused before sending (logged here, as a warning with the reason)."""


class BaseExchange(abc.ABC):
    """Feeds candles of one symbol to ``on_candle`` and executes the strategy's orders.

    What some exchanges can do besides (replay a file, snapshot, pace a replay) is
    declared by :mod:`ats.exchanges.capabilities`, and checked once by the job."""

    name: ClassVar[str]
    mode: ClassVar[Mode]
    timeframe_ms: int | None = None
    """The candle length in ms, once known (the data or the feed says so on connect)."""
    candle: Candle | None = None
    """The candle the strategy is handling (the latest closed one)."""
    first_close: float | None = None
    """The first close a streaming feed delivered (buy-and-hold of a paper/live run)."""

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
        self.balance_listeners: list[Callable[[], None]] = []
        """Told when balances change without an order event: a live account mirrored from
        the exchange after a sync. (Any order event may also move balances: holds are
        placed on submit, settled by fills and released when an order ends.)"""
        self.order_checks: list[OrderCheck] = []
        """Pre-trade checks run by :meth:`submit_order`; see ats.trading_job.risk."""
        self.market_rules: MarketRules = NO_RULES
        """The market's precision and limits, applied to every order before it is placed
        (loaded from the exchange in live and ccxt-fed paper jobs, from the job config's
        ``market:`` block otherwise)."""
        self.asset_prices: dict[str, float] = {}
        """Quote prices of other assets the account holds (fee assets such as BNB), as
        last seen; :meth:`equity` counts them."""
        self._local_rejects = 0

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:  # noqa: B027 - optional hook
        """Open connections and load markets/data; called before :meth:`run`."""

    async def load_inputs(self) -> None:  # noqa: B027 - optional hook
        """Read and check local input files (a candle file) and keep them for
        :meth:`connect`; raise DataError naming the file and line. Called before a job
        starts, so that bad input is refused before anything runs. No network here."""

    async def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Release connections; always called, also after errors."""

    def __bool__(self) -> bool:
        """Always true: ``if exchange`` must not mean "has candles loaded" because a
        replaying exchange's ``len`` is its number of candles (0 before it loads them)."""
        return True

    def release(self) -> None:
        """Cut the callbacks once the job is done with this exchange (a new run, an edit,
        a delete). The strategy and the listeners point back here, so without this a
        finished run's orders, fills and trades are cyclic garbage, and only a full
        collection frees them: hundreds of ms with the console's loop stopped."""
        self.on_candle = None
        self.order_listeners.clear()
        self.fill_listeners.clear()
        self.balance_listeners.clear()
        self.order_checks.clear()

    @abc.abstractmethod
    async def run(self, control: RunControl) -> None:
        """Feed candles to ``on_candle`` until the data ends or ``control`` stops it."""

    def set_on_candle(self, handler: CandleHandler) -> None:
        self.on_candle = handler

    @property
    def now(self) -> int:
        """Order time in ms: the close of the candle the strategy is handling (exchanges
        keep it in ``candle`` and ``timeframe_ms``), the wall clock before any candle."""
        candle = self.candle
        if candle is not None and candle.timestamp:
            return int(candle.timestamp + (self.timeframe_ms or 0))
        return int(time.time() * 1000)

    @property
    def progress(self) -> Progress:
        """How far the feed has got; ``total`` is None for endless live data."""
        return Progress()

    @property
    def connection_state(self) -> str | None:
        """A short note while the exchange connection is held back (e.g. "banned until
        12:03:00"); None when nothing is wrong or there is no connection."""
        return None

    # -- orders --------------------------------------------------------------------------
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
    ) -> Order:
        """Run the pre-trade checks (risk limits), then hand the order to the exchange.

        A failed check returns the order *rejected* with the reason; nothing is sent.
        """
        # Enum lookups only for plain strings: once per order, but a lookup costs what
        # a whole wallet hold does (bench/backtest_speed.py).
        if not isinstance(side, OrderSide):
            side = OrderSide(side)
        if not isinstance(type, OrderType):
            type = OrderType(type)
        for check in self.order_checks:
            reason = check(symbol, side, self._order_value(amount, price, stop_price, quote_amount))
            if reason:
                return self._reject_locally(symbol, side, type, amount, price, reason)
        return self._submit_order(
            symbol,
            side,
            type,
            amount,
            price,
            stop_price=stop_price,
            quote_amount=quote_amount,
            client_order_id=client_order_id,
            expires_at=expires_at,
        )

    def refuse_orders_on_history(self, feed: Any) -> None:
        """Refuse orders placed on candles replayed to catch up (warm-up, back-fill after
        an outage): they would execute at today's price, not the candle's."""

        def check(symbol: str, side: OrderSide, value: float) -> str | None:
            if not feed.catching_up:
                return None
            return (
                "candle is history (catching up after a gap or warm-up); "
                "orders are only sent on the latest closed candle"
            )

        self.order_checks.append(check)

    def _order_value(
        self,
        amount: float,
        price: float | None,
        stop_price: float | None,
        quote_amount: float | None,
    ) -> float:
        if quote_amount is not None:
            return quote_amount
        reference = price or stop_price or self.last_price(self.symbol) or 0.0
        return amount * reference

    def _reject_locally(
        self,
        symbol: str,
        side: OrderSide,
        type: OrderType,
        amount: float,
        price: float | None,
        reason: str,
    ) -> Order:
        self._local_rejects += 1
        order_id = f"{LOCAL_REJECT_PREFIX}{self._local_rejects}"
        order = Order(
            order_id, order_id, symbol, side, type, amount, price,
            status=OrderStatus.REJECTED, reason=reason,
        )  # fmt: skip
        self.log("WARNING", f"order rejected before sending: {reason}")
        self._notify(order)
        return order

    def _notify(self, order: Order) -> None:
        """Tell the order listeners (the job) that ``order`` changed."""
        for listener in self.order_listeners:
            listener(order)

    @abc.abstractmethod
    def _submit_order(
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
    def _balances_changed(self) -> None:
        for listener in self.balance_listeners:
            listener()

    @abc.abstractmethod
    def get_wallet_balance(self, asset: str) -> Balance: ...

    @abc.abstractmethod
    def get_balances(self) -> dict[str, Balance]: ...

    def get_fees(self) -> BaseFees:
        return self.fees

    def get_position(self, symbol: str) -> Position:
        """The ledger's open position, with the account's holding split into what can be
        sold and the dust that cannot (see :class:`Position`)."""
        position = self._ledger_position(symbol)
        base = symbol.split("/")[0]
        balance = self.get_wallet_balance(base)
        price = self.last_price(symbol)
        rules = self.market_rules
        position.held = balance.total
        position.dust = balance.total - rules.sellable(balance.total, price)
        position.sellable = rules.sellable(balance.free, price)
        return position

    @abc.abstractmethod
    def _ledger_position(self, symbol: str) -> Position:
        """The position as the trade ledger sees it (amount, entry and mark price)."""

    @abc.abstractmethod
    def get_trades(self) -> list[Trade]:
        """Round trips so far; an open one last, marked at the latest price."""

    @abc.abstractmethod
    def get_fills(self) -> list[Fill]: ...

    def fill_count(self) -> int:
        """``len(get_fills())`` without copying the fills (front ends show it live)."""
        return len(self.get_fills())

    def trade_count(self) -> int:
        """``len(get_trades())`` without copying the trades (a Trades pane page)."""
        return len(self.get_trades())

    def trade_slice(self, start: int, stop: int) -> list[Trade]:
        """``get_trades()[start:stop]`` without copying the others: the trades a page
        shows that the journal has not written yet."""
        return self.get_trades()[start:stop]

    def fill_slice(self, start: int, stop: int) -> list[Fill]:
        """``get_fills()[start:stop]`` without copying the others (see trade_slice)."""
        return self.get_fills()[start:stop]

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
        for asset, asset_price in self.asset_prices.items():
            if asset in balances and asset not in (base, quote):
                total += balances[asset].total * asset_price
        return total
