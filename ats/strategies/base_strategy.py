"""The strategy plugin contract. One code path for backtest, paper and live.

A strategy declares its parameters as a pydantic model (``Params``) and its persistent
state as a :class:`SimpleState` subclass (``State``). Indicators are declared in
:meth:`setup`; the job keeps them current (precomputed in backtests, streamed live), so
``on_candle`` only reads ``indicator.result``.

What a strategy can do is this class's public surface: place and cancel orders
(:meth:`buy`, :meth:`sell`, :meth:`cancel`, :meth:`open_orders`, :meth:`get_order`),
read the account (:meth:`balance`, :attr:`position`, :meth:`last_price`), read its
candles and indicators, and :meth:`log`. It goes through a
:class:`~ats.strategies.broker.Broker`, never the exchange object, so it cannot touch
the wallet or the matching engine.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    Position,
    split_symbol,
)
from ats.state.simple_state import SimpleState
from ats.strategies.broker import Broker
from ats.utils.plugins import PluginLoader, default_loader, plugin_code
from ats.utils.validation import format_validation_error

if TYPE_CHECKING:
    from ats.data.candles import CandleData
    from ats.exchanges.base_exchange import BaseExchange, LogFunction
    from ats.indicators.base_indicator import BaseIndicator


@dataclass(frozen=True, slots=True)
class Signals:
    """Per-candle decisions: enter long on ``entries``, leave on ``exits`` (next open)."""

    entries: np.ndarray
    exits: np.ndarray


class StrategyParams(BaseModel):
    """Base of strategy parameter models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class BaseStrategy(abc.ABC):
    """Subclass, set ``Params``/``State``, implement :meth:`on_candle`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    State: ClassVar[type[SimpleState]] = SimpleState

    def __init__(
        self,
        params: StrategyParams,
        broker: Broker | BaseExchange,
        *,
        state: SimpleState | None = None,
        log: LogFunction | None = None,
        loader: PluginLoader | None = None,
    ) -> None:
        """``broker`` is what the job gives (an exchange is wrapped in one: tests,
        notebooks); ``loader`` finds indicators (the job's custom modules folder)."""
        self.params = params
        self.broker = broker if isinstance(broker, Broker) else Broker(broker)
        self.symbol: str = getattr(params, "symbol", None) or self.broker.symbol
        self.base, self.quote = split_symbol(self.symbol)
        self.state = state if state is not None else self.State()
        self._log = log or (lambda level, message: None)
        self._loader = loader or default_loader
        self.indicators: list[BaseIndicator] = []
        with plugin_code("strategy", type(self)):
            self.setup()

    @classmethod
    def validate_config(cls, params: dict[str, Any]) -> StrategyParams:
        """Params model from raw config; ConfigError names the offending field."""
        with plugin_code("strategy.params", cls):  # a validator's own bug: file and line
            try:
                return cls.Params.model_validate(params)
            except ValidationError as exc:
                raise ConfigError(format_validation_error(exc, prefix="strategy.params")) from None

    @property
    def exchange(self) -> NoReturn:
        """Gone: a strategy reaches the market only through its own methods."""
        raise AttributeError(
            "a strategy has no exchange object any more: use self.buy/sell/cancel, "
            "self.open_orders(), self.balance(asset), self.position, self.last_price() "
            "(README: Writing a strategy)"
        )

    # -- hooks ---------------------------------------------------------------------------
    def setup(self) -> None:  # noqa: B027 - optional hook
        """Declare indicators with :meth:`indicator`. Called once per instance."""

    @abc.abstractmethod
    def on_candle(self, candle: Candle) -> None:
        """Called once per closed candle, after its indicators were updated."""

    def populate_signals(self, data: CandleData) -> Signals | None:
        """Optional vectorised twin of :meth:`on_candle` (Freqtrade's populate_* style).

        Long-only all-in strategies may return entry/exit boolean arrays over the whole
        history; ``ats backtest --vectorised`` then skips the per-candle calls. It must
        decide exactly like ``on_candle`` (the tests compare both). None = not offered.
        """
        return None

    def on_order_update(self, order: Order) -> None:  # noqa: B027 - optional hook
        """An order changed status (filled, canceled, rejected, expired); a copy."""

    def on_fill(self, fill: Fill, order: Order) -> None:  # noqa: B027 - optional hook
        """One of this strategy's orders (partially) filled; ``order`` is a copy."""

    def on_stop(self) -> None:  # noqa: B027 - optional hook
        """The job is stopping (finished, stopped or reloading)."""

    # -- helpers for strategy code ---------------------------------------------------------
    def indicator(self, name: str, **config: Any) -> Any:
        """Create an indicator (custom_modules first, then built-ins) the job keeps updated.

        Typed ``Any`` because the class is only known once the name is resolved (a custom
        module may replace a built-in); read its outputs, e.g. ``.result`` or ``.upper``.
        """
        indicator_class = self._loader.indicator_class(name)
        indicator: BaseIndicator = indicator_class(**config)
        self.indicators.append(indicator)
        return indicator

    def buy(
        self,
        amount: float | None = None,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        quote_amount: float | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Buy ``amount`` base (or spend ``quote_amount`` quote by market order)."""
        return self.broker.submit(
            OrderSide.BUY,
            amount or 0.0,
            price=price,
            stop_price=stop_price,
            quote_amount=quote_amount,
            client_order_id=client_order_id,
        )

    def sell(
        self,
        amount: float,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        return self.broker.submit(
            OrderSide.SELL,
            amount or 0.0,
            price=price,
            stop_price=stop_price,
            client_order_id=client_order_id,
        )

    def sell_all(self, *, price: float | None = None) -> Order | None:
        """Sell everything that can be sold: the free holding, floored to the market's lot
        step. None when there is nothing to sell but dust (see :attr:`Position.is_flat`)."""
        amount = self.position.sellable
        if not amount > 0:
            return None
        return self.sell(amount, price=price)

    def cancel(self, order: Order | str) -> Order:
        return self.broker.cancel(order)

    def open_orders(self) -> list[Order]:
        """This job's open orders (copies: the current state at the time of the call)."""
        return self.broker.open_orders()

    def get_order(self, order_id: str) -> Order:
        """The current state of one of this job's orders (a copy)."""
        return self.broker.order(order_id)

    def balance(self, asset: str) -> Balance:
        return self.broker.balance(asset)

    @property
    def position(self) -> Position:
        """The open position; ``position.is_flat`` is true when only dust (what the market
        will not let you sell) or nothing is held."""
        return self.broker.position()

    def last_price(self) -> float | None:
        return self.broker.last_price()

    def log(self, message: str, level: str = "INFO") -> None:
        self._log(level, message)
