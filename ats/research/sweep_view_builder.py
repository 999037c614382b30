"""Builds a sweep's read model (:mod:`ats.trading_job.sweep_views`) from a running sweep.

The engine-layer twin of :mod:`ats.trading_job.view_builder` for sweeps: the console
asks its JobControl, the control asks :class:`~ats.research.sweep_jobs.SweepJobs`, and
the views come from here, as plain data, whatever state the sweep is in.
"""

from __future__ import annotations

import math
from typing import Any

from ats.research.objective import METRIC_NAMES, Objective
from ats.research.sweep_job import SweepJob
from ats.research.trial import TrialResult
from ats.trading_job.sweep_views import (
    FIXED_SORTS,
    SORT_FINAL_EQUITY,
    SORT_OBJECTIVE,
    SORT_TRADES,
    SORT_TRIAL,
    SweepHeatmap,
    SweepParam,
    SweepSummary,
    SweepView,
    TrialPage,
    TrialView,
)
from ats.trading_job.views import JobView, LogLine, LogPage, ProgressView
from ats.utils.symbols import split_symbol

MODE = "sweep"
_DEFAULT_OBJECTIVE = Objective("sharpe")


def _objective(sweep: SweepJob) -> Objective:
    return sweep.search.objective if sweep.search is not None else _DEFAULT_OBJECTIVE


def job_view(sweep: SweepJob) -> JobView:
    """The sweep's row in the jobs table: the best trial so far stands for its figures."""
    objective = _objective(sweep)
    best = sweep.best
    search = sweep.search
    config = search.base if search is not None else None
    symbol = config.symbol if config is not None else ""
    try:
        base, quote = split_symbol(symbol)
    except ValueError:
        base, quote = symbol, ""
    initial = float(config.balances.get(quote, 0.0)) if config is not None else 0.0
    equity = best.final_equity if best is not None else None
    pnl_pct = None
    if equity is not None and initial:
        pnl_pct = 100.0 * (equity / initial - 1.0)
    return JobView(
        job_id=sweep.id,
        name=sweep.name,
        strategy=config.strategy.name if config is not None else "",
        strategy_params=dict(config.strategy.params) if config is not None else {},
        symbol=symbol,
        base=base,
        quote=quote,
        exchange=config.exchange.name if config is not None else "",
        venue=None,
        mode=MODE,
        live=False,
        built=search is not None,
        status=sweep.status,
        error=sweep.error,
        progress=ProgressView(sweep.done, sweep.total),
        equity=equity,
        initial_equity=initial or None,
        pnl=None if equity is None or not initial else equity - initial,
        pnl_pct=pnl_pct,
        metrics=(best.metrics or None) if best is not None else None,
        sweep=SweepSummary(
            objective=objective.metric,
            direction=objective.direction,
            best_value=objective.value(best) if best is not None else None,
            best_params=dict(best.params) if best is not None else None,
            eta_seconds=sweep.eta_seconds,
            executor=sweep.executor,
        ),
    )


def trial_view(trial: TrialResult, objective: Objective) -> TrialView:
    return TrialView(
        number=trial.number,
        params=dict(trial.params),
        objective=objective.value(trial),
        final_equity=trial.final_equity,
        trades=trial.trades,
        metrics=trial.metrics,
        error=trial.error,
    )


def sweep_view(sweep: SweepJob) -> SweepView:
    objective = _objective(sweep)
    search = sweep.search
    params: tuple[SweepParam, ...] = ()
    if search is not None:
        params = tuple(SweepParam(d.name, d.values) for d in search.space.dimensions)
    return SweepView(
        sweep_id=sweep.id,
        name=sweep.name,
        spec=str(sweep.spec),
        strategy=search.base.strategy.name if search is not None else "",
        status=sweep.status,
        objective=objective.metric,
        direction=objective.direction,
        params=params,
        sorts=FIXED_SORTS + METRIC_NAMES,
        done=sweep.done,
        total=sweep.total,
        computed=sweep.computed,
        resumed=sweep.resumed,
        eta_seconds=sweep.eta_seconds,
        elapsed_seconds=sweep.elapsed_seconds,
        best=trial_view(sweep.best, objective) if sweep.best is not None else None,
        executor=sweep.executor,
        error=sweep.error,
    )


def sort_value(trial: TrialView, sort: str) -> float | None:
    """The trial's value for ``sort``; None when undefined (NaN, failed, not a number)."""
    value: Any
    if sort == SORT_TRIAL:
        value = trial.number
    elif sort == SORT_OBJECTIVE:
        value = trial.objective
    elif sort == SORT_FINAL_EQUITY:
        value = trial.final_equity
    elif sort == SORT_TRADES:
        value = trial.trades if trial.error is None else None
    else:
        value = (trial.metrics or {}).get(sort)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def trial_page(
    sweep: SweepJob, sort: str, descending: bool | None, offset: int, limit: int
) -> TrialPage:
    """Trials sorted by ``sort``; undefined values last in either order, ties by number.

    ``descending`` None means best first for the objective, lowest number first for
    ``trial``, largest first for anything else.
    """
    objective = _objective(sweep)
    if sort not in FIXED_SORTS and sort not in METRIC_NAMES:
        sort = SORT_OBJECTIVE
    if descending is None:
        if sort == SORT_OBJECTIVE:
            descending = objective.direction == "maximize"
        else:
            descending = sort != SORT_TRIAL
    views = [trial_view(trial, objective) for trial in sweep.trials.values()]
    sign = -1.0 if descending else 1.0

    def key(trial: TrialView) -> tuple[int, float, int]:
        value = sort_value(trial, sort)
        return (value is None, 0.0 if value is None else sign * value, trial.number)

    views.sort(key=key)
    offset = max(offset, 0)
    page = tuple(views[offset : offset + max(limit, 0)])
    return TrialPage(len(views), offset, sort, descending, page)


def heatmap(sweep: SweepJob, x: str | None, y: str | None) -> SweepHeatmap:
    """The best objective per (x, y) cell over every other parameter."""
    objective = _objective(sweep)
    search = sweep.search
    if search is None:
        return SweepHeatmap(objective=objective.metric, error=sweep.error or "no search")
    dimensions = {d.name: d for d in search.space.dimensions}
    names = list(dimensions)
    x = x or names[0]
    y = y if y is not None else (names[1] if len(names) > 1 else "")
    if x not in dimensions or (y and y not in dimensions) or x == y:
        return SweepHeatmap(
            x, y, objective=objective.metric, error=f"choose two of {', '.join(names)}"
        )
    x_values = dimensions[x].values
    y_values = dimensions[y].values if y else ("",)
    x_index: dict[Any, int] = {value: index for index, value in enumerate(x_values)}
    y_index: dict[Any, int] = {value: index for index, value in enumerate(y_values)}
    cells: list[list[float | None]] = [[None] * len(x_values) for _ in y_values]
    better = max if objective.direction == "maximize" else min
    for trial in sweep.trials.values():
        value = objective.value(trial)
        if value is None or math.isnan(value):
            continue
        column = x_index.get(trial.params.get(x))
        row = y_index.get(trial.params.get(y)) if y else 0
        if column is None or row is None:
            continue
        current = cells[row][column]
        cells[row][column] = value if current is None else better(current, value)
    sign = 1.0 if objective.direction == "maximize" else -1.0
    defined = [
        (sign * value, -row, -column)
        for row, values in enumerate(cells)
        for column, value in enumerate(values)
        if value is not None
    ]
    best: tuple[int, int] | None = None
    if defined:
        _score, row, column = max(defined)
        best = (-row, -column)
    return SweepHeatmap(
        x=x,
        y=y,
        x_values=tuple(x_values),
        y_values=tuple(y_values),
        cells=tuple(tuple(values) for values in cells),
        objective=objective.metric,
        direction=objective.direction,
        best=best,
    )


def log_page(sweep: SweepJob, after: int | None) -> LogPage:
    entries = list(sweep.logs)
    first = sweep.log_count - len(entries)
    skip = 0 if after is None else max(after + 1 - first, 0)
    lines = tuple(
        LogLine(seq, entry.time, entry.level, entry.message)
        for seq, entry in enumerate(entries[skip:], first + skip)
    )
    return LogPage(lines, sweep.log_count, after is not None and after < first)
