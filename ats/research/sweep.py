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
    when_idle: Callable[[TrialResult], object] | None = None,
) -> SearchOutcome:
    """Run ``method``'s search over ``window``; ``description`` keys it in the journal.

    ``when_idle`` is called with the best trial so far whenever the search's last trials
    leave a worker idle (the per-candle check then starts on it, beside them).
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
            # A worker has nothing left to run: hand it the per-candle check, say.
            tail = last_batch and 0 < running < executor.workers
            if when_idle is not None and tail and best is not None:
                when_idle(best)
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
