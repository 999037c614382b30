"""Which jobs trade real money: the one definition the console and ``ats --no-ui`` share.

Standard library only: the headless ``--yes-live`` check runs before any heavy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob

LIVE = "live"


def is_live_config(config: Any) -> bool:
    """True for a job config (a JobConfig or its saved dict) with ``mode: live``; a live
    exchange refuses to build without it, so the mode alone decides."""
    mode = config.get("mode") if isinstance(config, dict) else getattr(config, "mode", None)
    return mode == LIVE


def is_live(job: TradingJob) -> bool:
    """True when starting ``job`` would send real orders: its config says so, or (for a
    job built some other way) its exchange does."""
    return is_live_config(job.config) or (job.exchange is not None and job.exchange.mode == LIVE)
