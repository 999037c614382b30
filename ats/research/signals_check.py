"""The best trial of a sweep on ``populate_signals``, run again through ``on_candle``.

A sweep runs a strategy's vectorised ``populate_signals`` when it has one and nobody
asked for a path (several times faster; the built-in strategies' tests show both paths
give the same trades). A strategy's two methods could still disagree, so the best trial
is backtested once more per candle, on the same candles: the same figures confirm the
search; different ones mean the strategy's ``populate_signals`` does not decide like
its ``on_candle``. Then the per-candle figures replace that trial's and the next best
is checked in turn, so the best a search reports is always a per-candle backtest.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.data.candles import CandleData
from ats.research.events import BestChecked
from ats.research.search import Search
from ats.research.sweep import Publish, SearchOutcome, Window
from ats.research.trial import TrialResult, TrialTask, backtest_trial, result_of
from ats.utils.plugins import PluginLoader


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


async def check_best_per_candle(
    outcome: SearchOutcome,
    search: Search,
    data: CandleData,
    window: Window,
    *,
    loader: PluginLoader,
    sweep_id: str,
    publish: Publish,
) -> SearchOutcome:
    """``outcome`` with its best trial confirmed per candle (see the module docstring)."""
    trials = list(outcome.trials)
    best = outcome.best
    checks: list[Check] = []
    checked: set[int] = set()
    while best is not None and best.number not in checked:
        checked.add(best.number)
        task = TrialTask(best.number, best.params, window.start, window.stop)
        job = await backtest_trial(search.per_candle_base, data, task, loader)
        try:
            check = Check(best, result_of(task, job))
        finally:
            job.discard()
        checks.append(check)
        publish(BestChecked(sweep_id, strategy=search.base.strategy.name, check=check))
        if check.identical:
            break
        trials = [check.per_candle if row.number == best.number else row for row in trials]
        best = search.objective.best(trials)
    return SearchOutcome(trials, best, checks=[*outcome.checks, *checks])
