"""The report of a run: final equity, metrics and round trips, as JSON-ready data.

Built once a job ends (in a worker thread: metrics over a long equity curve take tens
of ms) and kept with the job; front ends show its metrics, ``--json`` writes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ats.exchanges.base_exchange import BaseExchange
from ats.exchanges.capabilities import Replayable
from ats.exchanges.data_classes import trade_dicts
from ats.trading_job.metrics import compute_metrics

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob

DEFAULT_TIMEFRAME_MS = 60_000
"""Annualises the metrics of a job whose exchange never said its candle length."""


def build_report(job: TradingJob) -> dict[str, Any]:
    """Final equity, metrics and round-trip trades of ``job``'s run so far."""
    exchange = job.exchange
    assert exchange is not None
    timestamps, equity = job.equity_curve()
    trades = exchange.get_trades()
    report: dict[str, Any] = {
        "job": job.config.name,
        "strategy": job.config.strategy.name,
        "params": job.config.strategy.params,
        "symbol": job.config.symbol,
        "mode": job.mode,
        "status": str(job.status),
        "candles": len(equity),
        "final_equity": exchange.equity(),
        "metrics": None,
        "trades": trade_dicts(trades),
    }
    if len(equity):
        closes = _closes(exchange, job.capabilities.replay, len(equity))
        quote = _quote(exchange)
        fees = sum(
            fill.fee * (fill.price if fill.fee_currency != quote else 1.0)
            for fill in exchange.get_fills()
        )
        report["metrics"] = compute_metrics(
            timestamps=timestamps,
            equity=equity,
            trades=trades,
            fees_paid=fees,
            timeframe_ms=int(exchange.timeframe_ms or DEFAULT_TIMEFRAME_MS),
            first_price=closes[0],
            last_price=closes[1],
        ).to_dict()
    return report


def _quote(exchange: BaseExchange) -> str:
    return exchange.symbol.split("/")[1]


def _closes(exchange: BaseExchange, replay: Replayable | None, count: int) -> tuple[float, float]:
    """First and last close of the replayed/streamed period, for buy-and-hold."""
    if replay is not None and replay.data is not None:
        return float(replay.data.close[0]), float(replay.data.close[count - 1])
    first = exchange.first_close or exchange.last_price(exchange.symbol) or 0.0
    return float(first), float(exchange.last_price(exchange.symbol) or 0.0)
