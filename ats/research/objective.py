"""The objective of a search: one report metric, maximised or minimised.

Any field of :class:`ats.trading_job.metrics.Metrics` can be named, with or without its
``_pct`` suffix (``total_return`` is ``total_return_pct``). A metric that is undefined for
a trial (NaN in the report, e.g. the Sharpe ratio of a run without a trade) or a trial
that failed ranks below every defined value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ats.exceptions import ConfigError
from ats.research.trial import TrialResult
from ats.trading_job.metrics import Metrics

Direction = Literal["maximize", "minimize"]
METRIC_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Metrics))


@dataclass(frozen=True, slots=True)
class Objective:
    metric: str
    """A key of the report's metrics (resolved, e.g. ``total_return_pct``)."""
    direction: Direction = "maximize"

    @classmethod
    def parse(cls, name: str, direction: Direction = "maximize") -> Objective:
        key = name.strip().lower().replace("-", "_")
        for candidate in (key, f"{key}_pct"):
            if candidate in METRIC_NAMES:
                return cls(candidate, direction)
        raise ConfigError(
            f"--objective: unknown metric {name!r} (choose from {', '.join(METRIC_NAMES)})"
        )

    def value(self, trial: TrialResult) -> float | None:
        """The trial's objective, or None when it is undefined or the trial failed."""
        if trial.error is not None or trial.metrics is None:
            return None
        value = trial.metrics.get(self.metric)
        return None if value is None else float(value)

    def score(self, trial: TrialResult) -> float:
        """Larger is better whatever the direction; undefined ranks last."""
        value = self.value(trial)
        if value is None:
            return float("-inf")
        return value if self.direction == "maximize" else -value

    def best(self, trials: Iterable[TrialResult]) -> TrialResult | None:
        """The best trial with a defined objective; ties go to the lowest trial number."""
        ranked = [trial for trial in trials if self.value(trial) is not None]
        if not ranked:
            return None
        return max(ranked, key=lambda trial: (self.score(trial), -trial.number))

    def ranked(self, trials: Iterable[TrialResult]) -> list[TrialResult]:
        """Best first; undefined and failed trials last, each group in trial order."""
        return sorted(trials, key=lambda trial: (-self.score(trial), trial.number))
