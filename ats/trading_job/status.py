"""The life cycle of a job, as the engine, the events and every front end name it."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    ERROR = "error"

    @property
    def is_active(self) -> bool:
        return self in (JobStatus.RUNNING, JobStatus.PAUSED)
