"""How a job's strategy gets its candles, with its indicators current.

On a replayed file (back_trading) every indicator output is computed in one vectorised
pass and bound to the exchange, which sets each value before the strategy sees its
candle. On streamed candles (paper, live) the indicators are updated candle by candle,
and the job keeps the recent candles, indicator values and equity for charts
(:class:`~ats.trading_job.stream_history.StreamHistory`).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ats.exchanges.base_exchange import CandleHandler
from ats.exchanges.data_classes import Candle
from ats.indicators.base_indicator import BaseIndicator
from ats.strategies.base_strategy import BaseStrategy
from ats.trading_job.events import CandleClosed
from ats.trading_job.stream_history import overlay_label

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob

Series = tuple[BaseIndicator, str, np.ndarray]
"""(indicator, output name, one value per candle)."""


def bind_strategy(job: TradingJob, series: list[Series] | None = None) -> None:
    """Point the exchange at the job's current strategy, with its indicators kept current:
    bound to precomputed ``series`` on a candle file, else updated candle by candle."""
    exchange, strategy = job.exchange, job.strategy
    assert exchange is not None and strategy is not None
    replay = job.capabilities.replay
    if replay is not None and replay.data is not None:
        replay.clear_series()
        for indicator, output, values in series or compute_series(strategy, replay.data):
            replay.bind_series(indicator, output, values)
        exchange.set_on_candle(_with_daily_loss_check(job, strategy.on_candle))
    else:
        exchange.set_on_candle(_streaming_handler(job, strategy))


async def bind_strategy_off_loop(job: TradingJob) -> None:
    """:func:`bind_strategy` with the indicators computed in a worker thread: over a
    million candles that is tens of ms the console's loop would otherwise freeze for
    (``compute`` reads only the input arrays, never the indicator's state)."""
    strategy, replay = job.strategy, job.capabilities.replay
    assert strategy is not None
    if replay is None or replay.data is None:
        bind_strategy(job)
        return
    bind_strategy(job, await asyncio.to_thread(compute_series, strategy, replay.data))


def compute_series(strategy: BaseStrategy, data: Any) -> list[Series]:
    """Every output of the strategy's indicators over the whole of ``data``."""
    return [
        (indicator, output, values)
        for indicator in strategy.indicators
        for output, values in indicator.compute(
            *[getattr(data, source) for source in indicator.inputs]
        ).items()
    ]


def _with_daily_loss_check(job: TradingJob, handler: CandleHandler) -> CandleHandler:
    """Value the account every candle only when a daily loss limit asks for it."""
    if job.config.risk.max_daily_loss is None:
        return handler
    exchange, check_equity = job.exchange, job.risk.check_equity
    assert exchange is not None

    def handle(candle: Candle) -> None:
        check_equity(candle.timestamp, exchange.equity())
        handler(candle)

    return handle


def _streaming_handler(job: TradingJob, strategy: BaseStrategy) -> CandleHandler:
    indicators = [(ind, ind.inputs) for ind in strategy.indicators]
    on_candle = strategy.on_candle
    check_daily_loss = job.risk.check_equity
    exchange = job.exchange
    assert exchange is not None
    history, publish, job_id = job.history, job.bus.publish, job.id
    outputs = [
        (indicator, output, history.overlay(overlay_label(indicator, output)))
        for indicator, _ in indicators
        for output in indicator.outputs
    ]

    def handle(candle: Candle) -> None:
        for indicator, sources in indicators:
            indicator.update(*[getattr(candle, source) for source in sources])
        for indicator, output, values in outputs:
            values.append(getattr(indicator, output))
        on_candle(candle)
        equity = exchange.equity()
        check_daily_loss(candle.timestamp, equity)
        kept = candle.copy()
        job.last_candle_at = time.time()  # how fresh the feed is (the console's header)
        history.record(kept, equity)
        publish(CandleClosed(job_id, kept))

    return handle
