"""Turn a sweep's views (:mod:`ats.trading_job.sweep_views`) into text for the widgets.

A sweep's row reads like a job's: its progress, then the figures of its best trial so
far (equity and return), the ETA where a position would be, and on wide screens the
objective's best value with its params.
"""

from __future__ import annotations

from typing import Any

from ats.trading_job.sweep_views import SweepSummary, SweepView
from ats.trading_job.views import JobView
from ats.ui.job_view import JobRow, format_number, format_params


def format_eta(seconds: float | None) -> str:
    """``ETA 1m 05s``; empty while the pace is unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"ETA {hours}h {minutes:02d}m"
    return f"ETA {minutes}m {secs:02d}s" if minutes else f"ETA {secs}s"


def format_value(value: Any) -> str:
    """A parameter value or metric as short as it can be said."""
    if isinstance(value, float):
        return format_number(value, 4 if abs(value) < 100 else 2)
    return str(value)


def best_text(summary: SweepSummary) -> str:
    """``best sharpe 1.2345 fast=10 slow=50`` (or ``no trial ranked yet``)."""
    if summary.best_value is None or summary.best_params is None:
        return f"{summary.objective}: no trial ranked yet"
    params = format_params(summary.best_params)
    return f"best {summary.objective} {format_value(summary.best_value)} {params}"


def sweep_row(view: JobView) -> JobRow:
    summary = view.sweep
    assert summary is not None
    fraction = view.progress.fraction
    progress = f"{100 * fraction:.0f}%" if fraction is not None else ""
    eta = format_eta(summary.eta_seconds)
    if not eta and view.progress.total:
        eta = f"{view.progress.done}/{view.progress.total}"
    return JobRow(
        job_id=view.job_id,
        name=view.name,
        strategy=view.strategy,
        market=view.market,
        mode=view.mode,
        status=str(view.status),
        progress=progress,
        equity=format_number(view.equity),
        pnl_pct=view.pnl_pct,
        pnl=view.pnl,
        position=eta,
        error=view.error,
        note=best_text(summary),
    )


def sweep_title(view: SweepView) -> str:
    """``Sweep (c) · sma.sweep · 45/100 · ETA 12s · best sharpe 1.23 fast=10 slow=50``."""
    parts = [f"Sweep (c) · {view.name}"]
    if view.total:
        parts.append(f"{view.done}/{view.total}")
    eta = format_eta(view.eta_seconds)
    if eta:
        parts.append(eta)
    if view.best is not None and view.best.objective is not None:
        best = format_value(view.best.objective)
        parts.append(f"best {view.objective} {best} {format_params(view.best.params)}")
    return " · ".join(parts)
