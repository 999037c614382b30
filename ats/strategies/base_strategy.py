"""The strategy plugin contract. One code path for backtest, paper and live.

A strategy declares its parameters as a pydantic model (``Params``) and its persistent
state as a :class:`SimpleState` subclass (``State``). Indicators are declared in
:meth:`setup`; the job keeps them current (precomputed in backtests, streamed live), so
``on_candle`` only reads ``indicator.result``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    OrderType,
    Position,
    split_symbol,
)
from ats.state.simple_state import SimpleState
from ats.utils.plugins import load_plugin
from ats.utils.validation import format_validation_error

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange, LogFunction
    from ats.exchanges.exchanges.back_trading.candle_data import CandleData
    from ats.indicators.base_indicator import BaseIndicator


@dataclass(frozen=True, slots=True)
class Signals:
    """Per-candle decisions: enter long on ``entries``, leave on ``exits`` (next open)."""

    entries: np.ndarray
    exits: np.ndarray


class StrategyParams(BaseModel):
    """Base of strategy parameter models: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseStrategy(abc.ABC):
    """Subclass, set ``Params``/``State``, implement :meth:`on_candle`."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[StrategyParams]] = StrategyParams
    State: ClassVar[type[SimpleState]] = SimpleState

    def __init__(
        self,
        params: StrategyParams,
        exchange: BaseExchange,
        *,
        state: SimpleState | None = None,
        log: LogFunction | None = None,
    ) -> None:
        self.params = params
        self.exchange = exchange
        self.symbol: str = getattr(params, "symbol", None) or exchange.symbol
        self.base, self.quote = split_symbol(self.symbol)
        self.state = state if state is not None else self.State()
        self._log = log or (lambda level, message: None)
        self.indicators: list[BaseIndicator] = []
        self.setup()

    @classmethod
    def validate_config(cls, params: dict[str, Any]) -> StrategyParams:
        """Params model from raw config; ConfigError names the offending field."""
        try:
            return cls.Params.model_validate(params)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, prefix="strategy.params")) from None

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
        """An order changed status (filled, canceled, rejected, expired)."""

    def on_fill(self, fill: Fill, order: Order) -> None:  # noqa: B027 - optional hook
        """One of this strategy's orders (partially) filled."""

    def on_stop(self) -> None:  # noqa: B027 - optional hook
        """The job is stopping (finished, stopped or reloading)."""

    # -- helpers for strategy code ---------------------------------------------------------
    def indicator(self, name: str, **config: Any) -> Any:
        """Create an indicator (custom_modules first, then built-ins) the job keeps updated.

        Typed ``Any`` because the class is only known once the name is resolved (a custom
        module may replace a built-in); read its outputs, e.g. ``.result`` or ``.upper``.
        """
        indicator_class = load_plugin("indicators", name)
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
        return self._order(OrderSide.BUY, amount, price, stop_price, quote_amount, client_order_id)

    def sell(
        self,
        amount: float,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        return self._order(OrderSide.SELL, amount, price, stop_price, None, client_order_id)

    def _order(
        self,
        side: OrderSide,
        amount: float | None,
        price: float | None,
        stop_price: float | None,
        quote_amount: float | None,
        client_order_id: str | None,
    ) -> Order:
        if stop_price is not None:
            order_type = OrderType.STOP_LIMIT if price is not None else OrderType.STOP_MARKET
        else:
            order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
        return self.exchange.submit_order(
            self.symbol,
            side,
            order_type,
            amount or 0.0,
            price,
            stop_price=stop_price,
            quote_amount=quote_amount,
            client_order_id=client_order_id,
        )

    def sell_all(self, *, price: float | None = None) -> Order | None:
        """Sell everything that can be sold: the free holding, floored to the market's lot
        step. None when there is nothing to sell but dust (see :attr:`Position.is_flat`)."""
        amount = self.position.sellable
        if not amount > 0:
            return None
        return self.sell(amount, price=price)

    def cancel(self, order: Order) -> Order:
        return self.exchange.cancel_order(order.id)

    def balance(self, asset: str) -> Balance:
        return self.exchange.get_wallet_balance(asset)

    @property
    def position(self) -> Position:
        """The open position; ``position.is_flat`` is true when only dust (what the market
        will not let you sell) or nothing is held."""
        return self.exchange.get_position(self.symbol)

    def log(self, message: str, level: str = "INFO") -> None:
        self._log(level, message)
