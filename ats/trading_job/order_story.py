"""One log line per order event, so a job's log tells its story: placed, filled (price and
fee), canceled, expired, rejected (with the reason).

The job writes them from its exchange's order and fill callbacks, which back_trading,
paper and live all call the same way: one code path for the three modes. A fast backtest
places thousands of orders a second: :class:`OrderStory` tells the first
:data:`STORY_BURST` lines, then :data:`STORY_RATE` a second, and counts the rest. Fills of an
order log the fill; the order's own "filled" status adds nothing and is not logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ats.exchanges.base_exchange import LOCAL_REJECT_PREFIX
from ats.exchanges.data_classes import Fill, Order, OrderStatus


def _amount(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def _price(value: float) -> str:
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.8g}"


def _describe(order: Order) -> str:
    """``buy limit 0.5 BTC @ 28,000.00`` (the amount in base, or the quote to spend)."""
    base = order.symbol.split("/")[0]
    if order.quote_amount is not None and not order.amount:
        size = f"for {_amount(order.quote_amount)} {order.symbol.split('/')[-1]}"
    else:
        size = f"{_amount(order.amount)} {base}"
    text = f"{order.side} {order.type} {size}"
    if order.price is not None:
        text += f" @ {_price(order.price)}"
    if order.stop_price is not None:
        text += f" stop {_price(order.stop_price)}"
    return text


def order_line(order: Order) -> tuple[str, str] | None:
    """(level, message) for an order's new status, None when a fill line says it all."""
    status = order.status
    if status is OrderStatus.OPEN and not order.filled:
        verb = "triggered" if order.triggered else "placed"
        return "INFO", f"order #{order.id} {verb}: {_describe(order)}"
    if status is OrderStatus.CANCELED:
        why = f" ({order.reason})" if order.reason else ""
        return "INFO", f"order #{order.id} canceled{why}: {_describe(order)}"
    if status is OrderStatus.EXPIRED:
        return "INFO", f"order #{order.id} expired: {_describe(order)}"
    if status is OrderStatus.REJECTED:
        if order.id.startswith(LOCAL_REJECT_PREFIX):
            return None  # refused before sending: the exchange logged it, with the reason
        reason = order.reason or "no reason given"
        return "WARNING", f"order #{order.id} rejected: {_describe(order)}: {reason}"
    return None


def fill_line(fill: Fill, order: Order) -> str:
    """``filled #7: sell 0.5 BTC @ 28,010.00, fee 14.005 USDT (partial, 0.5 left)``: short
    enough to fit on one line of the log at 80 columns."""
    base = fill.symbol.split("/")[0]
    text = (
        f"filled #{fill.order_id}: {fill.side} {_amount(fill.amount)} {base} "
        f"@ {_price(fill.price)}, fee {fill.fee:,.5g} {fill.fee_currency}"
    )
    if order.status is OrderStatus.PARTIALLY_FILLED or (
        order.status is OrderStatus.OPEN and order.remaining > 0
    ):
        text += f" (partial, {_amount(order.remaining)} left)"
    return text


STORY_BURST = 200
"""Order lines a job may log at once (a whole short backtest's story)..."""
STORY_RATE = 20.0
"""...then this many a second: a long fast backtest does not flood the job's bounded log
and journal, pushing out its restore notes and errors. Warnings (rejects) always pass."""


class OrderStory:
    """Tells a job's orders and fills into its log, within a token bucket of lines."""

    __slots__ = ("_checked", "_log", "_skipped", "_tokens")

    def __init__(self, log: Callable[[str, str], None]) -> None:
        self._log = log
        self._tokens = float(STORY_BURST)
        self._checked = time.monotonic()
        self._skipped = 0

    def order(self, order: Order) -> None:
        line = order_line(order)
        if line is not None:
            self._tell(*line)

    def fill(self, fill: Fill, order: Order) -> None:
        self._tell("INFO", fill_line(fill, order))

    def _tell(self, level: str, message: str) -> None:
        now = time.monotonic()
        self._tokens = min(self._tokens + (now - self._checked) * STORY_RATE, STORY_BURST)
        self._checked = now
        if level == "INFO" and self._tokens < 1:
            self._skipped += 1
            return
        self._tokens = max(self._tokens - 1, 0.0)
        self.flush()
        self._log(level, message)

    def flush(self) -> None:
        """Say how many lines were left out (at the next line told, and when a run ends)."""
        if self._skipped:
            skipped, self._skipped = self._skipped, 0
            self._log("INFO", f"… {skipped:,} order and fill lines not logged (too many)")
