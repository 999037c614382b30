"""A sweep in the terminal: a progress bar with the best trial so far, then tables.

:class:`SweepPrinter` consumes the sweep's events (:mod:`ats.research.events`) exactly
as a console would, so it doubles as the reference for what those events carry.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ats.research.events import (
    BestChecked,
    SweepFinished,
    SweepStarted,
    TrialFinished,
    WindowTested,
)
from ats.research.objective import Objective
from ats.research.sweep import SearchOutcome
from ats.research.trial import TrialResult
from ats.trading_job.events import JobEvent

if TYPE_CHECKING:
    from ats.research.walk_forward import WalkForwardOutcome


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return str(value)


def format_params(params: dict[str, Any]) -> str:
    return " ".join(f"{name}={format_value(value)}" for name, value in params.items())


class SweepPrinter:
    """Shows a sweep's events; use as a context manager around the sweep."""

    def __init__(self, console: Console, objective: Objective) -> None:
        self.console = console
        self.objective = objective
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> SweepPrinter:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def __call__(self, event: JobEvent) -> None:
        if isinstance(event, SweepStarted):
            resumed = f", {event.resumed} from the journal" if event.resumed else ""
            self._progress.console.print(
                f"[bold]{escape(event.name)}[/]: {event.total} trials on "
                f"{escape(event.executor)}{resumed}"
            )
            self._task = self._progress.add_task(event.name, total=event.total, best="")
        elif isinstance(event, TrialFinished) and self._task is not None:
            best = ""
            if event.best is not None:
                value = format_value(self.objective.value(event.best))
                best = f"best {self.objective.metric} {value} ({format_params(event.best.params)})"
            self._progress.update(self._task, completed=event.done, best=escape(best))
        elif isinstance(event, SweepFinished) and self._task is not None:
            self._progress.update(self._task, completed=event.done)
            self._task = None
            reused = event.done - event.computed
            self._progress.console.print(
                f"{event.done} trials in {event.seconds:.1f} s: {event.computed} computed"
                + (f", {reused} from the journal" if reused else "")
            )
        elif isinstance(event, BestChecked):
            check = event.check
            trial = f"trial {check.signals.number} ({format_params(check.signals.params)})"
            if check.identical:
                self._progress.console.print(
                    f"checked per candle: {escape(trial)} has the same figures with "
                    "on_candle as with populate_signals"
                )
            else:  # a warning even with --quiet
                print(
                    f"warning: strategy {event.strategy}: populate_signals and on_candle "
                    f"disagree on {trial}: final equity "
                    f"{format_value(check.signals.final_equity)} vs "
                    f"{format_value(check.per_candle.final_equity)} per candle; the "
                    "per-candle figures are used (--per-candle runs every trial that way)",
                    file=sys.stderr,
                )
        elif isinstance(event, WindowTested):
            chosen, tested = event.in_sample, event.out_of_sample
            self._progress.console.print(
                f"window {event.window + 1}/{event.windows}: "
                + (
                    f"{escape(format_params(chosen.params))}  in-sample "
                    f"{format_value(self.objective.value(chosen))}  out-of-sample "
                    f"{format_value(self.objective.value(tested) if tested else None)}"
                    if chosen is not None
                    else "no trial with a defined objective: out of the market"
                )
            )


def trials_table(outcome: SearchOutcome, objective: Objective, top: int) -> Table:
    ranked = objective.ranked(outcome.trials)[:top]
    names = list(outcome.trials[0].params) if outcome.trials else []
    table = Table(
        title=f"Top {len(ranked)} of {len(outcome.trials)} trials by {objective.metric} "
        f"({objective.direction})",
        box=None,
    )
    equity = objective.metric != "final_equity"  # else the objective column says it
    columns = ("#", "trial", *names, objective.metric, *(["final equity"] * equity), "trades")
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    for rank, trial in enumerate(ranked, start=1):
        table.add_row(
            str(rank),
            str(trial.number),
            *(format_value(trial.params.get(name)) for name in names),
            format_value(objective.value(trial)) if trial.error is None else "error",
            *([format_value(trial.final_equity)] * equity),
            str(trial.trades),
        )
    return table


_SIDE_BY_SIDE = ("total_return_pct", "sharpe", "max_drawdown_pct")


def walk_forward_table(outcome: WalkForwardOutcome, objective: Objective) -> Table:
    metrics = (objective.metric, *(m for m in _SIDE_BY_SIDE if m != objective.metric))
    table = Table(title="Walk-forward: in-sample (train) | out-of-sample (test)", box=None)
    table.add_column("window", justify="right")
    table.add_column("params")
    for metric in metrics:
        table.add_column(f"{metric} IS", justify="right")
        table.add_column(f"{metric} OOS", justify="right")
    for window in outcome.windows:
        chosen, tested = window.in_sample, window.out_of_sample
        cells = [
            format_value(_metric(row, metric)) for metric in metrics for row in (chosen, tested)
        ]
        params = format_params(chosen.params) if chosen else "—"
        table.add_row(str(window.plan.index + 1), escape(params), *cells)
    means = [
        _mean([objective.value(row) for row in rows if row is not None])
        for rows in (
            [window.in_sample for window in outcome.windows],
            [window.out_of_sample for window in outcome.windows],
        )
    ]
    table.caption = (
        f"mean {objective.metric}: in-sample {format_value(means[0])}, "
        f"out-of-sample {format_value(means[1])}"
    )
    return table


def _mean(values: list[float | None]) -> float | None:
    defined = [value for value in values if value is not None]
    return sum(defined) / len(defined) if defined else None


def _metric(row: TrialResult | None, name: str) -> Any:
    return (row.metrics or {}).get(name) if row is not None else None
