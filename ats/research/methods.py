"""Search methods: which trials to run next, given the results so far.

``grid`` runs every combination that meets the constraints. ``optuna`` asks Optuna's TPE
sampler (seeded) for ``batch`` trials at a time and tells it the results in trial order
once the batch is done, so the trials depend only on the seed and the batch size: never
on the number of workers, on Ray or not, or on the order in which trials finish. That
is also what lets a killed search resume: the same asks come again, and the finished
ones are answered from the journal.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Protocol

from ats.exceptions import ConfigError
from ats.research.constraints import Constraint, all_hold
from ats.research.objective import Objective
from ats.research.space import MAX_GRID, Params, ParamSpace
from ats.research.trial import TrialResult

GRID_BATCH = 4096
"""Grid trials handed to the executor at once (bounds memory; results do not depend on it)."""
MAX_REJECTED = 1000
"""Proposals in a row the constraints may reject before an optuna search gives up."""


class SearchMethod(Protocol):
    name: str
    total: int
    """Trials the search will have."""

    def next_batch(self) -> list[Params] | None:
        """Parameters of the next trials (numbered on from the last batch); None: done."""
        ...

    def tell(self, results: Sequence[TrialResult]) -> None:
        """The last batch's results, in trial order."""
        ...


class GridMethod:
    name = "grid"

    def __init__(self, space: ParamSpace, constraints: Sequence[Constraint]) -> None:
        if space.size > MAX_GRID:
            raise ConfigError(
                f"the grid has {space.size:,} combinations (more than {MAX_GRID:,}); "
                "use --method optuna --trials N"
            )
        self._combinations = [p for p in space.grid() if all_hold(constraints, p)]
        if not self._combinations:
            raise ConfigError("no parameter combination meets the constraints")
        self.total = len(self._combinations)
        self._next = 0

    def next_batch(self) -> list[Params] | None:
        if self._next >= self.total:
            return None
        batch = self._combinations[self._next : self._next + GRID_BATCH]
        self._next += len(batch)
        return batch

    def tell(self, results: Sequence[TrialResult]) -> None:
        """A grid does not depend on results."""


class OptunaMethod:
    name = "optuna"

    def __init__(
        self,
        space: ParamSpace,
        constraints: Sequence[Constraint],
        objective: Objective,
        *,
        trials: int,
        seed: int,
        batch: int,
    ) -> None:
        try:
            import optuna
        except ImportError:
            raise ConfigError("--method optuna needs Optuna: pip install 'ats[research]'") from None
        self._optuna = optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
        self._study = optuna.create_study(direction=objective.direction, sampler=sampler)
        # Ranges are searched by index (ordered, exact values); lists as categories.
        self._space = space
        self._distributions: dict[str, Any] = {
            d.name: optuna.distributions.IntDistribution(0, len(d.values) - 1)
            if d.is_range
            else optuna.distributions.CategoricalDistribution(d.values)
            for d in space.dimensions
        }
        self._constraints = list(constraints)
        self._objective = objective
        self.total = trials
        self._batch = batch
        self._asked = 0
        self._pending: list[Any] = []

    def next_batch(self) -> list[Params] | None:
        if self._asked >= self.total:
            return None
        batch: list[Params] = []
        for _ in range(min(self._batch, self.total - self._asked)):
            trial, params = self._ask()
            self._pending.append(trial)
            batch.append(params)
        self._asked += len(batch)
        return batch

    def _ask(self) -> tuple[Any, Params]:
        failed = self._optuna.trial.TrialState.FAIL
        for _ in range(MAX_REJECTED):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self._optuna.exceptions.ExperimentalWarning)
                trial = self._study.ask(self._distributions)
            params = {
                d.name: d.values[trial.params[d.name]] if d.is_range else trial.params[d.name]
                for d in self._space.dimensions
            }
            if all_hold(self._constraints, params):
                return trial, params
            self._study.tell(trial, state=failed)
        raise ConfigError(f"the constraints rejected {MAX_REJECTED} proposals in a row; check them")

    def tell(self, results: Sequence[TrialResult]) -> None:
        failed = self._optuna.trial.TrialState.FAIL
        for trial, result in zip(self._pending, results, strict=True):
            value = self._objective.value(result)
            if value is None:
                self._study.tell(trial, state=failed)
            else:
                self._study.tell(trial, value)
        self._pending = []
