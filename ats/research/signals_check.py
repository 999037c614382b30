"""The best trial of a sweep on ``populate_signals``, run again through ``on_candle``.

A sweep runs a strategy's vectorised ``populate_signals`` when it has one and nobody
asked for a path (several times faster; the built-in strategies' tests show both paths
give the same trades). A strategy's two methods could still disagree, so the best trial
is backtested once more per candle, on the same candles and by the same workers (or Ray
cluster) as the trials: the same figures confirm the
search; different ones mean the strategy's ``populate_signals`` does not decide like
its ``on_candle``. Then the per-candle figures replace that trial's and the next best
is checked in turn, so the best a search reports is always a per-candle backtest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from ats.research.events import BestChecked
from ats.research.executor import TrialExecutor
from ats.research.journal import params_key
from ats.research.search import Search
from ats.research.sweep import Publish, SearchOutcome, Window
from ats.research.trial import TrialResult, TrialTask


@dataclass(frozen=True, slots=True)
class Check:
    """One best trial re-run per candle."""

    signals: TrialResult
    """The trial's row as the sweep computed it (``populate_signals``)."""
    per_candle: TrialResult
    """The same parameters through ``on_candle``."""

    @property
    def identical(self) -> bool:
        return _figures(self.signals) == _figures(self.per_candle)

    def to_json(self) -> dict[str, object]:
        row: dict[str, object] = {
            "trial": self.signals.number,
            "params": dict(self.signals.params),
            "identical": self.identical,
        }
        if not self.identical:
            row["populate_signals"] = self.signals.to_json()
            row["on_candle"] = self.per_candle.to_json()
        return row


def _figures(row: TrialResult) -> tuple[object, ...]:
    return row.final_equity, row.trades, row.metrics, row.error


class PerCandleRuns:
    """Trials re-run per candle on the sweep's executor, each at most once.

    :meth:`start` may be called before the sweep ends, with its best trial so far, as
    its last trials run (``run_search``'s ``near_the_end``): the check then runs beside
    them instead of after them (a serial tail of the sweep otherwise,
    bench/optimize_speed.py). If a later trial turns out better, that run cost one
    worker a few trials' time, and the new best is checked too.
    """

    def __init__(self, executor: TrialExecutor, window: Window) -> None:
        self._executor = executor
        self._window = window
        self._runs: dict[str, asyncio.Future[TrialResult]] = {}

    def start(self, trial: TrialResult) -> asyncio.Future[TrialResult]:
        key = params_key(trial.params)
        if key not in self._runs:
            task = TrialTask(
                trial.number, trial.params, self._window.start, self._window.stop, per_candle=True
            )
            self._runs[key] = asyncio.ensure_future(_only(self._executor.run([task])))
        return self._runs[key]

    async def result(self, trial: TrialResult) -> TrialResult:
        """``trial``'s row per candle (numbered as ``trial``: a twin may have run it)."""
        return replace(await self.start(trial), number=trial.number)

    def close(self) -> None:
        """Drop runs nobody waits for (a check that a better trial made useless)."""
        for run in self._runs.values():
            run.cancel()


async def _only(results: AsyncIterator[TrialResult]) -> TrialResult:
    async for result in results:
        return result
    raise RuntimeError("the executor returned no row for a per-candle run")


async def check_best_per_candle(
    outcome: SearchOutcome,
    search: Search,
    runs: PerCandleRuns,
    *,
    sweep_id: str,
    publish: Publish,
) -> SearchOutcome:
    """``outcome`` with its best trial confirmed per candle (see the module docstring)."""
    trials = list(outcome.trials)
    best = outcome.best
    checks: list[Check] = []
    checked: set[int] = set()
    try:
        while best is not None and best.number not in checked:
            checked.add(best.number)
            check = Check(best, await runs.result(best))
            checks.append(check)
            publish(BestChecked(sweep_id, strategy=search.base.strategy.name, check=check))
            if check.identical:
                break
            trials = [check.per_candle if row.number == best.number else row for row in trials]
            best = search.objective.best(trials)
    finally:
        runs.close()
    return SearchOutcome(trials, best, checks=[*outcome.checks, *checks])
