"""An optuna search cut short resumes to the very trials of an uninterrupted one.

Optuna's sampler keeps no state in the journal: the rerun asks again from the same seed
and answers the finished trials from the journal, so the sequence is the same and only
the missing trials are computed. Runs in-process (an executor that fails part-way stands
in for the crash; the real ``kill -9`` is test_kill_resume.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from ats.data.candle_readers import load_candles
from ats.research.constraints import parse_constraint
from ats.research.events import SweepFinished
from ats.research.journal import TrialJournal
from ats.research.methods import OptunaMethod
from ats.research.objective import Objective
from ats.research.space import ParamSpace, parse_dimension
from ats.research.sweep import SearchOutcome, Window, run_search
from ats.research.trial import TrialResult, TrialTask, backtest_trial, result_of
from ats.trading_job.events import JobEvent
from ats.trading_job.job_config import parse_job_config


class Crash(Exception):
    pass


class InProcess:
    """Trials in this process; fails after ``crash_after`` trials when given."""

    description = "this process"
    workers = 1

    def __init__(self, data_path: Path, crash_after: int | None = None) -> None:
        self.data = load_candles(data_path)
        self.base = parse_job_config(
            {
                "name": "t",
                "exchange": {"name": "back_trading", "params": {"data": str(data_path)}},
                "strategy": {"name": "sma_cross", "params": {}},
            }
        )
        self.crash_after = crash_after
        self.computed = 0

    async def run(self, tasks: Sequence[TrialTask]) -> AsyncIterator[TrialResult]:
        for task in tasks:
            if self.crash_after is not None and self.computed >= self.crash_after:
                raise Crash
            self.computed += 1
            yield result_of(task, await backtest_trial(self.base, self.data, task))

    def close(self) -> None:
        pass


def _search(executor: InProcess, journal: TrialJournal, events: list[JobEvent]) -> SearchOutcome:
    space = ParamSpace((parse_dimension("fast", "2:30:2"), parse_dimension("slow", "20:200:10")))
    objective = Objective("total_return_pct")
    method = OptunaMethod(
        space,
        [parse_constraint("fast < slow", space.names)],
        objective,
        trials=20,
        seed=3,
        batch=6,
    )
    return asyncio.run(
        run_search(
            sweep_id="s",
            name="resume",
            description={"test": "optuna resume"},
            method=method,
            objective=objective,
            executor=executor,
            journal=journal,
            window=Window(0, len(executor.data)),
            publish=events.append,
        )
    )


def test_a_resumed_optuna_search_equals_an_uninterrupted_one(
    tmp_path: Path, candles_5k: Path
) -> None:
    journal = TrialJournal(tmp_path / "journal.sqlite3")
    crashing = InProcess(candles_5k, crash_after=9)
    with pytest.raises(Crash):
        _search(crashing, journal, [])
    events: list[JobEvent] = []
    resumed = _search(rerun := InProcess(candles_5k), journal, events)
    distinct = {json.dumps(trial.params, sort_keys=True) for trial in resumed.trials}
    assert crashing.computed == 9
    assert crashing.computed + rerun.computed == len(distinct)  # nothing computed twice
    finished = [event for event in events if isinstance(event, SweepFinished)]
    assert finished[0].computed == rerun.computed and finished[0].done == 20
    journal.close()

    fresh = TrialJournal(tmp_path / "fresh.sqlite3")
    uninterrupted = _search(InProcess(candles_5k), fresh, [])
    fresh.close()
    assert resumed.trials == uninterrupted.trials
    assert resumed.best == uninterrupted.best
