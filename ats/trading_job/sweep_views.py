"""The read model of a parameter sweep: what a front end shows of one, as plain data.

A sweep (``ats optimize``'s search, run as a console job) is a row in the jobs table
like any job: its :class:`~ats.trading_job.views.JobView` carries a
:class:`SweepSummary` (progress, ETA, best so far). Selected, it shows a
:class:`SweepHeatmap` of the objective over two of its parameters and a
:class:`TrialPage` of its trials, sorted by any metric. Like every view these are
frozen dataclasses of JSON types, built in the engine layer (``ats.research``) and served
by a :class:`~ats.trading_job.control.JobControl`; ``ats/ui`` only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ats.trading_job.status import JobStatus

SORT_TRIAL = "trial"
SORT_OBJECTIVE = "objective"
SORT_FINAL_EQUITY = "final_equity"
SORT_TRADES = "trades"
FIXED_SORTS: tuple[str, ...] = (SORT_OBJECTIVE, SORT_TRIAL, SORT_FINAL_EQUITY, SORT_TRADES)
"""Sort keys every sweep has; the report's metric names follow (see SweepView.sorts)."""


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """A sweep's row: what it optimises, its best trial so far and when it will end."""

    objective: str
    direction: str
    best_value: float | None = None
    best_params: dict[str, Any] | None = None
    eta_seconds: float | None = None
    """Seconds left at the pace of the trials computed by this run (None until known)."""
    executor: str = ""
    """Where the trials run: "2 worker processes", "Ray cluster at ..."."""


@dataclass(frozen=True, slots=True)
class SweepParam:
    """One searched parameter and the values it takes."""

    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TrialView:
    """One trial: its parameters and its backtest's figures (``error`` if it failed)."""

    number: int
    params: dict[str, Any]
    objective: float | None
    final_equity: float | None
    trades: int
    metrics: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SweepView:
    """One sweep in full (its main pane's title and the choices its keys cycle through)."""

    sweep_id: str
    name: str
    spec: str
    """The YAML spec it was created from."""
    strategy: str
    status: JobStatus
    objective: str
    direction: str
    params: tuple[SweepParam, ...] = ()
    sorts: tuple[str, ...] = FIXED_SORTS
    """What the trials can be sorted by: the fixed keys, then every report metric."""
    done: int = 0
    total: int | None = None
    computed: int = 0
    """Trials computed by this run (the rest came back from the trial journal)."""
    resumed: int = 0
    eta_seconds: float | None = None
    elapsed_seconds: float | None = None
    best: TrialView | None = None
    executor: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TrialPage:
    """Trials sorted by ``sort`` (undefined values last, whatever the order)."""

    total: int = 0
    offset: int = 0
    sort: str = SORT_OBJECTIVE
    descending: bool = True
    trials: tuple[TrialView, ...] = ()


@dataclass(frozen=True, slots=True)
class SweepHeatmap:
    """The objective over two parameters: ``cells[row][column]`` is the best objective of
    the trials with ``y_values[row]`` and ``x_values[column]`` (best over the other
    parameters), None where no trial has a defined value yet."""

    x: str = ""
    y: str = ""
    x_values: tuple[Any, ...] = ()
    y_values: tuple[Any, ...] = ()
    cells: tuple[tuple[float | None, ...], ...] = ()
    objective: str = ""
    direction: str = "maximize"
    best: tuple[int, int] | None = None
    """(row, column) of the best cell."""
    error: str | None = None
    """Why there is no map (e.g. a sweep over one parameter)."""
