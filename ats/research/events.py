"""What a sweep tells its front end: the same kind of events as a job's, keyed by an id.

A sweep is shown like a job: a row with its progress (``done``/``total``, hence an ETA)
and its best trial so far, and a trials table filled one :class:`TrialFinished` at a time.
The events subclass :class:`~ats.trading_job.events.JobEvent` (``job_id`` is the sweep's
id), so they travel on the same event bus to the console, the headless printer or the
journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ats.research.trial import TrialResult
from ats.trading_job.events import JobEvent

if TYPE_CHECKING:
    from ats.research.signals_check import Check


@dataclass(frozen=True, slots=True)
class SweepStarted(JobEvent):
    name: str
    total: int
    """Trials this search will have (grid: the valid combinations; optuna: ``--trials``)."""
    space: dict[str, Any]
    objective: str
    direction: str
    executor: str
    resumed: int
    """Trials already in the journal from an earlier run of the same search."""
    window: int | None = None
    """Walk-forward: the index of the training window being searched."""


@dataclass(frozen=True, slots=True)
class TrialFinished(JobEvent):
    trial: TrialResult
    objective: float | None
    done: int
    total: int
    best: TrialResult | None
    """Best trial so far (None while no trial has a defined objective)."""
    from_journal: bool
    """Read back from the journal (finished by an earlier run), not computed now."""


@dataclass(frozen=True, slots=True)
class SweepFinished(JobEvent):
    best: TrialResult | None
    done: int
    computed: int
    seconds: float


@dataclass(frozen=True, slots=True)
class WindowTested(JobEvent):
    """Walk-forward: a window's best parameters, run on its test window."""

    window: int
    windows: int
    in_sample: TrialResult | None
    out_of_sample: TrialResult | None


@dataclass(frozen=True, slots=True)
class BestChecked(JobEvent):
    """A sweep on ``populate_signals``: its best trial re-run per candle."""

    strategy: str
    check: Check
