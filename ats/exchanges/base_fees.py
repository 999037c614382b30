"""Fee plugins: how much one fill costs, in which currency."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import FeeQuote, OrderSide, OrderType


class BaseFees(abc.ABC):
    """Computes the fee of a fill. Called once per fill, at the fill price."""

    name: ClassVar[str]

    def __init__(self, **config: Any) -> None:
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

    @staticmethod
    def _rate(config: dict[str, Any], key: str, default: float) -> float:
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise ConfigError(f"fees.{key} must be a number in [0, 1), got {value!r}")
        return float(value)
