"""Status transitions of every job as log lines, so the selected job's log tells its story
(started, paused, finished, error) beside the engine's own lines."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from ats.trading_job.change_feed import Changes
from ats.trading_job.status import JobStatus
from ats.trading_job.views import JobView, LogLine

STATUS_LINES = 50
"""Status-change lines kept per job for the log panel."""


class StatusHistory:
    """The last :data:`STATUS_LINES` transitions of each job, from coalesced changes."""

    def __init__(self) -> None:
        self._lines: dict[str, deque[LogLine]] = {}
        self._last: dict[str, JobStatus] = {}

    def lines(self, job_id: str) -> Iterable[LogLine]:
        return self._lines.get(job_id, ())

    async def record(
        self,
        changes: Changes,
        selected: str | None,
        current_views: Callable[[], Awaitable[list[JobView]]],
    ) -> list[LogLine]:
        """Keep the transitions in ``changes``; the new lines of the ``selected`` job.

        After a resync some transitions may have been lost: ``current_views`` is compared
        with what was last seen."""
        transitions = [(event.job_id, event.status) for event in changes.status_events]
        if changes.resync:
            seen = {job_id for job_id, _status in transitions}
            for view in await current_views():
                if view.job_id not in seen and self._last.get(view.job_id) != view.status:
                    transitions.append((view.job_id, view.status))
        new_lines = []
        for job_id, status in transitions:
            if job_id in changes.removed:
                continue
            self._last[job_id] = status
            level = "ERROR" if status is JobStatus.ERROR else "INFO"
            line = LogLine(-1, time.time(), level, f"● {status}")
            self._lines.setdefault(job_id, deque(maxlen=STATUS_LINES)).append(line)
            if job_id == selected:
                new_lines.append(line)
        for job_id in changes.removed:
            self._lines.pop(job_id, None)
            self._last.pop(job_id, None)
        return new_lines
