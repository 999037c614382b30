"""The event the journal publishes on the job manager's bus."""

from __future__ import annotations

from dataclasses import dataclass

from ats.exchanges.data_classes import Fill
from ats.trading_job.events import JobEvent


@dataclass(frozen=True, slots=True)
class FillCommitted(JobEvent):
    """Published after the transaction holding this fill committed (durable on disk):
    front ends show a fill as done on this event."""

    seq: int
    fill: Fill
