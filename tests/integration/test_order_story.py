"""The job's log tells the story of its orders (issue 10, item 3): placed, filled with
price and fee, canceled and rejected with the reason, from the one callback path that
back_trading, paper and live share."""

from __future__ import annotations

import pytest
from job_configs import backtest_config

from ats.exchanges.data_classes import Fill, Order, OrderSide, OrderStatus, OrderType
from ats.trading_job.events import Filled
from ats.trading_job.job_manager import JobManager
from ats.trading_job.order_story import fill_line, order_line


async def test_a_backtest_log_shows_every_order_and_fill() -> None:
    manager = JobManager()
    watching = manager.bus.subscribe(kinds=(Filled,))  # as the console and --no-ui do
    job = manager.create(backtest_config(name="story"))
    manager.start(job.id)
    await manager.wait(job.id)
    watching.close()
    assert job.exchange is not None
    messages = [line.message for line in job.logs if line.level == "INFO"]
    placed = [m for m in messages if " placed: " in m]
    filled = [m for m in messages if m.startswith("filled #")]
    assert len(filled) == job.exchange.fill_count() > 0
    assert len(placed) >= len({m.split(":")[0] for m in filled})
    assert all(" @ " in m and ", fee " in m and "USDT" in m for m in filled)


async def test_no_story_when_nobody_follows_the_orders() -> None:
    """Sweeps and ``ats backtest`` read no order events: they pay nothing for it."""
    manager = JobManager()
    job = manager.create(backtest_config(name="quiet"))
    manager.start(job.id)
    await manager.wait(job.id)
    assert not [line for line in job.logs if "order " in line.message]


def test_lines_for_each_order_event() -> None:
    order = Order("7", "7", "BTC/USDT", OrderSide.BUY, OrderType.LIMIT, 0.5, 28_000.0)
    assert order_line(order) == ("INFO", "order #7 placed: buy limit 0.5 BTC @ 28,000.00")
    order.status, order.reason = OrderStatus.REJECTED, "insufficient USDT: need 14,000"
    level, text = order_line(order) or ("", "")
    assert level == "WARNING" and text.endswith(": insufficient USDT: need 14,000")
    order.status, order.reason = OrderStatus.CANCELED, "by the strategy"
    assert order_line(order) == (
        "INFO",
        "order #7 canceled (by the strategy): buy limit 0.5 BTC @ 28,000.00",
    )
    order.status, order.filled = OrderStatus.PARTIALLY_FILLED, 0.2
    fill = Fill("7", "BTC/USDT", OrderSide.BUY, 0.2, 27_990.5, 5.5981, "USDT", 1, False)
    assert order_line(order) is None  # the fill line says it
    assert fill_line(fill, order) == (
        "filled #7: buy 0.2 BTC @ 27,990.50, fee 5.5981 USDT (partial, 0.3 left)"
    )


def test_a_flood_of_orders_is_told_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast backtest's thousands of orders a second do not push a job's restore notes
    and errors out of its bounded log: a burst, then a rate, then a count of the rest."""
    from ats.trading_job import order_story

    now = [100.0]
    monkeypatch.setattr(order_story.time, "monotonic", lambda: now[0])
    told: list[tuple[str, str]] = []
    story = order_story.OrderStory(lambda level, message: told.append((level, message)))
    order = Order("1", "1", "BTC/USDT", OrderSide.BUY, OrderType.MARKET, 0.1)
    for _ in range(1_000):
        story.order(order)
    assert len(told) == order_story.STORY_BURST
    order.status, order.reason = OrderStatus.REJECTED, "too small"
    story.order(order)  # a warning always gets through
    assert told[-1][0] == "WARNING" and "800" in told[-2][1]
    now[0] += 1.0  # a second later: STORY_RATE more
    order.status = OrderStatus.OPEN
    for _ in range(100):
        story.order(order)
    story.flush()
    assert len(told) == order_story.STORY_BURST + 2 + int(order_story.STORY_RATE) + 1
    assert told[-1][1].startswith(f"… {100 - int(order_story.STORY_RATE)} order and fill")
