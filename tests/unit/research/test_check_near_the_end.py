"""The per-candle check of a sweep's best trial starts while its last trials run.

A scripted executor stands in for the pool: it finishes trials in order and counts the
per-candle runs it is given, so the test sees when the search hands out the check and
which trial the sweep finally reports as checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from ats.research.journal import TrialJournal
from ats.research.methods import GridMethod
from ats.research.objective import Objective
from ats.research.search import Search
from ats.research.signals_check import PerCandleRuns, check_best_per_candle
from ats.research.space import ParamSpace, parse_dimension
from ats.research.sweep import SearchOutcome, Window, run_search
from ats.research.trial import TrialResult, TrialTask
from ats.trading_job.events import JobEvent
from ats.trading_job.job_config import parse_job_config

OBJECTIVE = Objective("final_equity")


def _ignore(event: JobEvent) -> None:
    pass


class Scripted:
    """Trial ``fast=k`` ends with equity ``equities[k]``; a per-candle run agrees."""

    description = "scripted"

    def __init__(self, workers: int, equities: dict[int, float], queued: int | None = None) -> None:
        self.workers = workers
        self.queued = queued
        self.equities = equities
        self.per_candle: list[int] = []
        """Trial numbers run per candle, in order."""

    async def run(self, tasks: Sequence[TrialTask]) -> AsyncIterator[TrialResult]:
        for task in tasks:
            if task.per_candle:
                self.per_candle.append(task.number)
            await asyncio.sleep(0)
            equity = self.equities[int(task.params["fast"])]
            yield TrialResult(task.number, task.params, equity, 1, {"final_equity": equity})

    def close(self) -> None:
        pass


def _sweep(
    tmp_path: Path, executor: Scripted, idle: list[TrialResult] | None = None
) -> SearchOutcome:
    journal = TrialJournal(tmp_path / f"journal-{executor.workers}-{executor.queued}.sqlite3")
    space = ParamSpace((parse_dimension("fast", f"1:{len(executor.equities)}:1"),))
    try:
        return asyncio.run(
            run_search(
                sweep_id="s",
                name="idle",
                description={"test": "idle", "workers": executor.workers},
                method=GridMethod(space, []),
                objective=OBJECTIVE,
                executor=executor,
                journal=journal,
                window=Window(0, 100),
                publish=_ignore,
                near_the_end=None if idle is None else idle.append,
            )
        )
    finally:
        journal.close()


def test_an_executor_that_holds_every_trial_gets_the_check_as_workers_go_idle(
    tmp_path: Path,
) -> None:
    equities = {1: 5.0, 2: 9.0, 3: 7.0, 4: 8.0, 5: 1.0, 6: 2.0}
    for workers, handed in ((1, []), (2, [1]), (3, [1, 1])):
        idle: list[TrialResult] = []
        outcome = _sweep(tmp_path, Scripted(workers, equities), idle)
        # Only while fewer trials run than there are workers, and with the best so far
        # (trial 1, fast=2): its check then overlaps the trials still running.
        assert [trial.number for trial in idle] == handed
        assert outcome.best is not None and outcome.best.number == 1


def test_a_pool_that_holds_a_few_trials_gets_the_check_with_a_checks_worth_left(
    tmp_path: Path,
) -> None:
    """Two workers, four trials held by the pool: the check is handed over with 4 + 3
    trials unfinished, so it starts after the four and the other worker runs the three
    while it runs; one worker never gets it early."""
    equities = {k: 10.0 if k == 4 else float(k % 4) for k in range(1, 13)}  # best: trial 3
    idle: list[TrialResult] = []
    outcome = _sweep(tmp_path, Scripted(2, equities, queued=4), idle)
    assert len(idle) == 7  # after trial 5 of 12, then after each of the six after it
    assert {trial.number for trial in idle} == {3}
    assert outcome.best is not None and outcome.best.number == 3
    alone: list[TrialResult] = []
    _sweep(tmp_path, Scripted(1, equities, queued=2), alone)
    assert alone == []


def test_a_check_started_early_for_a_trial_that_lost_is_not_the_one_reported(
    tmp_path: Path,
) -> None:
    base = parse_job_config(
        {
            "name": "t",
            "exchange": {"name": "back_trading", "params": {"data": "x.csv"}},
            "strategy": {"name": "sma_cross", "params": {}},
        }
    )
    search = Search(base, ParamSpace((parse_dimension("fast", "1:6:1"),)), objective=OBJECTIVE)
    executor = Scripted(2, {1: 5.0, 2: 9.0, 3: 7.0, 4: 8.0, 5: 1.0, 6: 20.0})

    async def sweep_and_check() -> SearchOutcome:
        runs = PerCandleRuns(executor, Window(0, 100))
        journal = TrialJournal(tmp_path / "journal.sqlite3")
        try:
            outcome = await run_search(
                sweep_id="s",
                name="late best",
                description={"test": "late best"},
                method=GridMethod(search.space, []),
                objective=OBJECTIVE,
                executor=executor,
                journal=journal,
                window=Window(0, 100),
                publish=_ignore,
                near_the_end=runs.start,
            )
        finally:
            journal.close()
        return await check_best_per_candle(outcome, search, runs, sweep_id="s", publish=_ignore)

    checked = asyncio.run(sweep_and_check())
    # Trial 1 was best when a worker went idle; the last trial (5) beat it.
    assert executor.per_candle == [1, 5]
    assert checked.best is not None and checked.best.number == 5
    assert [(check.signals.number, check.identical) for check in checked.checks] == [(5, True)]
