"""One job rebuilt from a snapshot payload, or what to keep of it when that fails.

:class:`~ats.persistence.persistent_jobs.PersistentJobs` tries a job's current snapshot,
then its previous good copy; a job that cannot be rebuilt from either stays visible in
the error state, with its config if any file (or the journal) still has one.
"""

from __future__ import annotations

from typing import Any

from ats.exceptions import ATSError
from ats.exchanges.simulated_exchange import SimulatedExchange
from ats.persistence.integrity import check_simulated_account
from ats.trading_job.job_config import JobConfig, PluginSpec, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.utils.redaction import redact


def restore_job(manager: JobManager, job_id: str, payload: dict[str, Any]) -> TradingJob:
    """The job the payload describes, built with ``manager``'s plugins and bus (not added
    to it). Raises whatever the payload makes the code trip over."""
    config = parse_job_config(payload["config"], source=f"snapshot of job {job_id}")
    job = TradingJob(job_id, config, bus=manager.bus, loader=manager.loader)
    job.restore(payload)
    if isinstance(job.exchange, SimulatedExchange):
        check_simulated_account(job.exchange)
    job.report = payload.get("report")
    return job


def saved_config(job_id: str, data: Any) -> JobConfig | None:
    """The config saved for a job that cannot be restored, if it still parses."""
    if not isinstance(data, dict):
        return None
    try:
        return parse_job_config(data, source=f"saved job {job_id}")
    except ATSError:
        return None


def unknown_config(job_id: str) -> JobConfig:
    """A placeholder for a job whose config is lost: it is still listed, in error."""
    return JobConfig(
        name=job_id[:64], exchange=PluginSpec(name="unknown"), strategy=PluginSpec(name="unknown")
    )


def one_line_error(exc: BaseException) -> str:
    """A failure in one line, with its type unless it is one of ATS's own messages."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    if not isinstance(exc, ATSError):  # a bare "division by zero" needs its type
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return redact(message)
