"""Fee plugins: how much one fill costs, in which currency."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import FeeQuote, OrderSide, OrderType


class BaseFees(abc.ABC):
    """Computes the fee of a fill. Called once per fill, at the fill price."""

    name: ClassVar[str]
    parameters: ClassVar[tuple[str, ...] | None] = None
    """The params this plugin takes; any other key is a config error (a typo such as
    ``rat: 0.1`` must not run at the default rate). None accepts anything."""

    def __init__(self, **config: Any) -> None:
        if self.parameters is not None:
            unknown = sorted(set(config) - set(self.parameters))
            if unknown:
                takes = ", ".join(self.parameters) or "no params"
                raise ConfigError(
                    f"fees.params.{unknown[0]}: unknown parameter of {self.name} (takes {takes})"
                )
        self.config = config

    @abc.abstractmethod
    def calculate(
        self, size: float, price: float, order_type: OrderType, side: OrderSide
    ) -> FeeQuote:
        """Fee for filling ``size`` base units at ``price``."""

    def rate_for(self, order_type: OrderType, side: OrderSide) -> float:
        """Proportional rate used to size holds and all-in market buys.

        Plugins with non-proportional fees should override this with an upper bound.
        """
        return self.calculate(1.0, 1.0, order_type, side).amount

    def linear_quote_rate(self, order_type: OrderType, side: OrderSide) -> float | None:
        """``r`` when :meth:`calculate` is exactly ``FeeQuote(abs(size) * price * r,
        "quote")`` for this kind of fill, else None (the default, always safe).

        The engine then books a fill's fee, and sizes an all-in market buy, without a
        ``calculate`` call (and a FeeQuote) per fill and per step of its search: the same
        arithmetic, so the same figures to the last bit, in a third less time per order
        in bench/backtest_speed.py's vectorised run. A plugin that overrides ``calculate``
        must override this too, or leave it returning None.
        """
        return None

    def budget_rate(self) -> float:
        """The fee rate a market buy's quote budget must leave room for: the taker rate
        when buys pay their fee in quote, 0 when it is taken from what is bought (or paid
        in another asset). Back_trading, paper and live size all-in buys with it alike."""
        currency = self.calculate(1.0, 1.0, OrderType.MARKET, OrderSide.BUY).currency
        return self.rate_for(OrderType.MARKET, OrderSide.BUY) if currency == "quote" else 0.0

    @staticmethod
    def _charged_in(config: dict[str, Any]) -> str:
        """``charged_in``: ``quote`` (every fee in the quote asset) or ``received`` (the fee
        is taken from the asset the fill brings in, Binance's default: a buy pays in base)."""
        value = config.get("charged_in", "quote")
        if value not in ("quote", "received"):
            raise ConfigError(f"fees.charged_in must be 'quote' or 'received', got {value!r}")
        return str(value)

    @staticmethod
    def _rate(config: dict[str, Any], key: str, default: float) -> float:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(f"fees.{key} must be a number in [0, 1), got {value!r}")
        return float(value)
