"""What a job's snapshot file holds, and how to tell cheaply that it would change.

The payload is the job's own :meth:`~ats.trading_job.trading_job.TradingJob.snapshot`
plus what persistence adds: the status to resume with, the last report (only for a job
that will not resume) and the restore note. Credentials are masked, never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.trading_job import TradingJob
from ats.utils.finite_json import finite
from ats.utils.redaction import redact, redact_data, scrub_config

RESUME_STATUSES = ("running", "paused")
"""Statuses a job is saved with to resume at the next start (its report is left out)."""

MaskedWarning = Callable[[TradingJob, list[str]], None]
"""Called with the config fields that looked like credentials (and were masked)."""


def build_payload(
    job: TradingJob,
    status: str,
    on_masked: MaskedWarning,
    redacted_report: Any = None,
    *,
    for_file: bool = True,
) -> dict[str, Any]:
    """The payload with the report as the job has it (NaN metrics and all); ``status`` is
    the one the job should resume with. ``redacted_report``: the job's report already
    passed through :func:`redact_data` (it holds every trade: made once, off the loop).
    ``for_file``: see :meth:`~ats.trading_job.trading_job.TradingJob.snapshot`."""
    payload = job.snapshot(for_file=for_file)
    config, masked = scrub_config(payload["config"])
    payload["config"] = config
    if masked:
        on_masked(job, masked)
    if payload.get("error"):
        payload["error"] = redact(payload["error"])
    if job.restore_note:
        payload["restore_note"] = redact(job.restore_note)
    payload["status"] = status
    # A job saved to resume gets a fresh report when it ends; skipping the partial one
    # keeps quitting fast (it holds every trade).
    keep_report = job.report and status not in RESUME_STATUSES
    if keep_report and redacted_report is None:
        redacted_report = redact_data(job.report)
    payload["report"] = redacted_report if keep_report else None
    return payload


def encode_payload(store: SnapshotStore, job_id: str, payload: dict[str, Any]) -> bytes:
    """The file's bytes for a :func:`build_payload`. Reads nothing but ``payload`` (and
    the job's report, which never changes once made): a worker thread may do it.

    The encoder refuses NaN/inf, so a report holding some (the Sharpe of a flat curve)
    is made finite and encoded again; a finite one is encoded once, not checked first."""
    try:
        return store.encode(job_id, payload)
    except ValueError:
        payload["report"] = finite(payload["report"])
        return store.encode(job_id, payload)


def fingerprint(job: TradingJob, status: str) -> tuple[Any, ...]:
    """Changes whenever the job's saved state would: a candle, an order, a fill, a
    balance (a live account's holds), a status. Encoding a big job costs tens of ms,
    so unchanged jobs are skipped."""
    exchange = job.exchange
    if exchange is None:
        return (status, job.error, id(job.config), None)
    progress = exchange.progress
    orders = exchange.get_orders()
    return (
        status,
        job.error,
        id(job.config),
        id(exchange),
        progress.done,
        progress.timestamp,
        len(exchange.get_fills()),
        len(orders),
        sum(1 for order in orders if order.is_open),
        tuple((b.asset, b.free, b.used) for b in exchange.get_balances().values()),
        job.report is not None,
    )
