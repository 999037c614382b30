"""Per-job risk limits, enforced in every mode before an order leaves the job.

A breach rejects the offending order, cancels the job's open orders and stops the job:
a strategy that misbehaves must not keep trading. Limits are in the quote currency.

The order-rate limits (``max_orders_per_candle``, ``max_orders_per_minute``) are set
here too but only refuse the orders over the limit (see ats.trading_job.order_rate).
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field

from ats.exchanges.data_classes import OrderSide, ms_to_datetime

_DAY_MS = 86_400_000


class RiskLimits(BaseModel):
    """``risk:`` in a job config; every limit is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_orders_per_candle: int = Field(
        100, ge=1, description="orders a strategy may place while handling one candle"
    )
    max_orders_per_minute: int = Field(
        600, ge=1, description="orders per minute of market (candle) time"
    )
    max_order_value: float | None = Field(None, gt=0, description="quote value of one order")
    max_position_value: float | None = Field(
        None, gt=0, description="quote value of the base held after an order fills"
    )
    max_daily_loss: float | None = Field(
        None, gt=0, description="equity drop since the UTC day's first candle"
    )

    @property
    def active(self) -> bool:
        """Whether any limit that stops the job is set (the rate limits always apply)."""
        return any(
            limit is not None
            for limit in (self.max_order_value, self.max_position_value, self.max_daily_loss)
        )


class RiskGuard:
    """Checks orders and equity against :class:`RiskLimits`; calls ``on_breach`` once."""

    def __init__(self, limits: RiskLimits, on_breach: Callable[[str], None]) -> None:
        self.limits = limits
        self._on_breach = on_breach
        self.breached: str | None = None
        self._day: int | None = None
        self._day_start_equity = 0.0

    def check_order(self, side: OrderSide, value: float, position_value: float) -> str | None:
        """Why an order of quote ``value`` must not be sent (None = allowed).

        ``position_value`` is the quote value of the base already held at the last price.
        """
        if self.breached:
            return f"trading halted: {self.breached}"
        limits = self.limits
        reason = None
        if limits.max_order_value is not None and value > limits.max_order_value:
            reason = (
                f"order value {value:,.2f} exceeds max_order_value {limits.max_order_value:,.2f}"
            )
        elif (
            limits.max_position_value is not None
            and side is OrderSide.BUY
            and position_value + value > limits.max_position_value
        ):
            reason = (
                f"position value {position_value + value:,.2f} would exceed "
                f"max_position_value {limits.max_position_value:,.2f}"
            )
        if reason:
            self._breach(reason)
        return reason

    def check_equity(self, timestamp: int, equity: float) -> None:
        """Track the day's starting equity and breach on a loss beyond the limit."""
        limit = self.limits.max_daily_loss
        if limit is None or self.breached:
            return
        day = timestamp // _DAY_MS
        if day != self._day:
            self._day, self._day_start_equity = day, equity
            return
        loss = self._day_start_equity - equity
        if loss > limit:
            date = ms_to_datetime(day * _DAY_MS).date().isoformat()
            self._breach(f"daily loss {loss:,.2f} on {date} exceeds max_daily_loss {limit:,.2f}")

    def _breach(self, reason: str) -> None:
        self.breached = reason
        self._on_breach(reason)
