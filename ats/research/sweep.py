"""One search: propose trials, run the new ones, journal each, keep the best.

The driver is asynchronous so a console can run a sweep in its own event loop while
the executor's processes (or Ray) do the work; ``ats optimize`` simply runs it with
``asyncio.run``. Every finished trial is committed to the journal before it is
announced, and trials that the journal already holds (from a killed earlier run, or a
parameter set the method proposed twice) are never computed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ats.research.events import SweepFinished, SweepStarted, TrialFinished
from ats.research.executor import TrialExecutor
from ats.research.journal import TrialJournal, params_key, search_key
from ats.research.methods import SearchMethod
from ats.research.objective import Objective
from ats.research.trial import TrialResult, TrialTask
from ats.trading_job.events import JobEvent

if TYPE_CHECKING:
    from ats.research.signals_check import Check

Publish = Callable[[JobEvent], None]


@dataclass(frozen=True, slots=True)
class SearchOutcome:
    trials: list[TrialResult]
    """Every trial, in trial order."""
    best: TrialResult | None
    checks: list[Check] = field(default_factory=list)
    """Best trials re-run per candle (a sweep on ``populate_signals`` by default)."""


@dataclass(frozen=True, slots=True)
class Window:
    """Candles ``start:stop`` of the loaded data (the whole file: ``0:len``)."""

    start: int
    stop: int


CHECK_IN_TRIALS = 3
"""About how many trials' time the per-candle check of the best trial takes (sma_cross on
200,000 candles: 0.07-0.09 s through on_candle, trials 0.027 s through populate_signals,
bench/optimize_speed.py)."""


def trials_left_for_the_check(executor: TrialExecutor) -> int:
    """Unfinished trials at which a search hands its best so far to the per-candle check.

    The check starts after the trials the executor holds (``queued``) and runs on one
    worker while the others share the rest: with a check's worth of trials left for each
    of them, all end together. An executor that holds every trial runs it after them
    all: it is handed over once a worker has nothing left. One worker has no one to end
    with: its check follows the last trial, which may turn out to be the best.
    """
    if executor.workers == 1:
        return 0
    if executor.queued is None:
        return executor.workers - 1
    return executor.queued + (executor.workers - 1) * CHECK_IN_TRIALS


async def run_search(
    *,
    sweep_id: str,
    name: str,
    description: dict[str, Any],
    method: SearchMethod,
    objective: Objective,
    executor: TrialExecutor,
    journal: TrialJournal,
    window: Window,
    publish: Publish,
    window_index: int | None = None,
    near_the_end: Callable[[TrialResult], object] | None = None,
) -> SearchOutcome:
    """Run ``method``'s search over ``window``; ``description`` keys it in the journal.

    ``near_the_end`` is called with the best trial so far after each of the search's last
    trials (see :func:`trials_left_for_the_check`): the per-candle check then runs beside
    them rather than after them.
    """
    began = time.perf_counter()
    key = search_key(description)
    run_id = journal.begin(key, description)
    journaled = journal.finished(key)
    known = {params_key(result.params): result for result in journaled.values()}
    results: list[TrialResult] = []
    best: TrialResult | None = None
    computed = 0
    publish(
        SweepStarted(
            sweep_id,
            name=name,
            total=method.total,
            space=description.get("space", {}),
            objective=objective.metric,
            direction=objective.direction,
            executor=executor.description,
            resumed=len(journaled),
            window=window_index,
        )
    )

    def finish(result: TrialResult, *, from_journal: bool) -> None:
        nonlocal best
        results.append(result)
        best = objective.best([result] if best is None else [best, result])
        publish(
            TrialFinished(
                sweep_id,
                trial=result,
                objective=objective.value(result),
                done=len(results),
                total=method.total,
                best=best,
                from_journal=from_journal,
            )
        )

    while (batch := method.next_batch()) is not None:
        first = len(results)
        tasks = [
            TrialTask(first + offset, params, window.start, window.stop)
            for offset, params in enumerate(batch)
        ]
        to_run: dict[str, TrialTask] = {}
        twins: list[TrialTask] = []
        for task in tasks:
            earlier = journaled.get(task.number)
            if earlier is not None and earlier.params == task.params:
                finish(earlier, from_journal=True)
            elif params_key(task.params) in known or params_key(task.params) in to_run:
                twins.append(task)  # proposed twice: same figures, no second backtest
            else:
                to_run[params_key(task.params)] = task
        last_batch = first + len(batch) >= method.total
        running = len(to_run)
        async for result in executor.run(list(to_run.values())):
            journal.record(key, run_id, result, computed=True)
            known[params_key(result.params)] = result
            computed += 1
            running -= 1
            finish(result, from_journal=False)
            near = last_batch and 0 < running <= trials_left_for_the_check(executor)
            if near_the_end is not None and near and best is not None:
                near_the_end(best)
        for task in twins:
            copy = replace(known[params_key(task.params)], number=task.number)
            journal.record(key, run_id, copy, computed=False)
            finish(copy, from_journal=True)
        batch_results = sorted(results[first:], key=lambda result: result.number)
        results[first:] = batch_results
        method.tell(batch_results)
    journal.end(run_id)
    publish(
        SweepFinished(
            sweep_id,
            best=best,
            done=len(results),
            computed=computed,
            seconds=time.perf_counter() - began,
        )
    )
    return SearchOutcome(results, best)
