"""The periodic status of a job for ``ats --no-ui`` and ``ats run``: one line (or one
JSON record) per job every ``status_interval_s`` seconds, so nohup and systemd logs show
progress. Built from the read model's :class:`~ats.trading_job.views.JobView` only."""

from __future__ import annotations

from typing import Any

from ats.trading_job.views import JobView
from ats.utils.ages import format_age


def status_record(view: JobView, now: float) -> dict[str, Any]:
    """The job's state as JSON-ready data (what the line says, unformatted)."""
    live = view.live_metrics
    age = None if view.last_candle_at is None else round(now - view.last_candle_at, 3)
    return {
        "job": view.name,
        "status": str(view.status),
        "mode": view.mode,
        "equity": view.equity,
        "quote": view.quote,
        "pnl": view.pnl,
        "pnl_pct": view.pnl_pct,
        "realised_pnl": live.realised_pnl if live else None,
        "fees_paid": live.fees_paid if live else None,
        "drawdown_pct": live.drawdown_pct if live else None,
        "trades": live.trades if live else None,
        "fills": view.fill_count,
        "progress": view.progress.fraction,
        "last_candle_age_s": age,
        "connection": view.connection or ("connected" if view.mode != "backtest" else None),
        "error": view.error,
    }


def status_line(view: JobView, now: float) -> str:
    """``sma-paper running · equity 10,023.55 USDT · P&L +23.55 (+0.24%) · 3 trades ·
    12 fills · candle 2s old · connected``."""
    parts = [f"{view.name} {view.status}"]
    if view.equity is not None:
        parts.append(f"equity {view.equity:,.2f} {view.quote}".rstrip())
    if view.pnl is not None and view.pnl_pct is not None:
        parts.append(f"P&L {view.pnl:+,.2f} ({view.pnl_pct:+.2f}%)")
    fraction = view.progress.fraction
    if fraction is not None:
        parts.append(f"{100 * fraction:.0f}%")
    live = view.live_metrics
    if live is not None:
        parts.append(f"{live.trades:,} trade{'s' * (live.trades != 1)}")
    if view.fill_count is not None:
        parts.append(f"{view.fill_count:,} fill{'s' * (view.fill_count != 1)}")
    if view.mode in ("paper", "live"):
        if view.last_candle_at is not None:
            parts.append(f"candle {format_age(now - view.last_candle_at)} old")
        parts.append(view.connection or "connected")
    if view.error:
        parts.append(f"error: {view.error}")
    return " · ".join(parts)
