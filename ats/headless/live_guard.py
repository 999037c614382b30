"""``--yes-live``: headless starts never trade real money by accident.

``ats --no-ui`` resumes every saved running job and ``ats run`` starts whatever the YAML
says, with nobody at a keyboard to confirm. A job with ``mode: live`` therefore only
starts when the command line says ``--yes-live``; without it the command refuses before
anything is opened, locked or started, so the saved jobs stay exactly as they were and
the next start with the flag resumes them.

Only the standard library is imported here: the check runs before any heavy import.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ats.exceptions import ConfigError
from ats.trading_job.live_mode import is_live_config

YES_LIVE_FLAG = "--yes-live"


class LiveNotConfirmed(ConfigError):
    """A live job would start without ``--yes-live`` (the CLI exits with code 2)."""


def require_yes_live(labels: Iterable[str], *, yes_live: bool, command: str) -> None:
    """Raise :class:`LiveNotConfirmed` naming the live jobs, unless confirmed.

    ``labels`` name the live jobs about to start (empty: nothing to confirm); ``command``
    is what to run again, with the flag, to go ahead.
    """
    names = list(labels)
    if yes_live or not names:
        return
    raise LiveNotConfirmed(
        f"refusing to start live job(s) {', '.join(names)} without {YES_LIVE_FLAG}: "
        f"mode: live places real orders; nothing was started or changed, run "
        f"'{command} {YES_LIVE_FLAG}' to trade"
    )


def saved_live_jobs(payloads: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """Labels (``name (id)``) of saved jobs ``ats --no-ui`` would resume that are live:
    saved as running with ``mode: live``. ``payloads``: (job id, snapshot payload)."""
    labels = []
    for job_id, payload in payloads:
        config = payload.get("config") or {}
        if payload.get("status") == "running" and is_live_config(config):
            labels.append(job_label(str(config.get("name") or job_id), job_id))
    return labels


def job_label(name: str, job_id: str) -> str:
    """``name (id)``, or just the id when they are the same."""
    return job_id if name == job_id else f"{name} ({job_id})"
