"""A search, whoever described it: the base job plus what varies and how to judge it.

``ats optimize`` builds one from its flags, :mod:`ats.research.spec_file` from a YAML
spec; the runner only ever sees this.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ats.exceptions import ConfigError
from ats.research.constraints import Constraint, parse_constraint
from ats.research.methods import GridMethod, OptunaMethod, SearchMethod
from ats.research.objective import Objective
from ats.research.space import Dimension, ParamSpace
from ats.strategies.base_strategy import BaseStrategy
from ats.trading_job.job_config import JobConfig
from ats.utils.plugins import PluginLoader

MethodName = Literal["grid", "optuna"]
DEFAULT_TRIALS = 100
DEFAULT_BATCH = 16


@dataclass(frozen=True)
class Search:
    base: JobConfig
    """The job every trial starts from (a back_trading backtest)."""
    space: ParamSpace
    constraints: tuple[Constraint, ...] = ()
    method: MethodName = "grid"
    trials: int = DEFAULT_TRIALS
    """Optuna: how many trials."""
    seed: int = 0
    batch: int = DEFAULT_BATCH
    """Optuna: trials asked at once (results depend on it, not on the workers)."""
    objective: Objective = field(default_factory=lambda: Objective("sharpe"))
    walk_forward: str | None = None
    workers: int | None = None
    ray: str | None = None
    check_per_candle: bool = False
    """The trials run the strategy's ``populate_signals`` because it has one (nobody
    asked for either path): the best trial is then re-run per candle and compared
    (:mod:`ats.research.signals_check`)."""

    @property
    def data_path(self) -> Path:
        return Path(self.base.exchange.params["data"])

    @property
    def per_candle_base(self) -> JobConfig:
        """The base job run candle by candle through ``on_candle``."""
        return self.base.model_copy(update={"vectorised": False})

    def make_method(self) -> SearchMethod:
        if self.method == "grid":
            return GridMethod(self.space, self.constraints)
        return OptunaMethod(
            self.space,
            self.constraints,
            self.objective,
            trials=self.trials,
            seed=self.seed,
            batch=self.batch,
        )

    def description(self, data_identity: dict[str, Any], loader: PluginLoader) -> dict[str, Any]:
        """Everything that decides the trials of this search (its journal key)."""
        base = self.base.model_dump(mode="json", exclude={"name"})
        described: dict[str, Any] = {
            "data": data_identity,
            "base": base,
            "strategy_source": _source_hash(loader, self.base.strategy.name),
            "space": self.space.to_json(),
            "constraints": [constraint.text for constraint in self.constraints],
            "method": self.method,
        }
        if self.method == "optuna":
            described.update(
                seed=self.seed,
                batch=self.batch,
                objective=self.objective.metric,
                direction=self.objective.direction,
            )
        return described


def build_search(
    base: JobConfig,
    dimensions: Sequence[Dimension],
    constraints: Sequence[str],
    loader: PluginLoader,
    *,
    vectorised: bool | None = None,
    **options: Any,
) -> Search:
    """Check the pieces against each other and the strategy, then assemble the search.

    ``vectorised``: True runs every trial through the strategy's ``populate_signals``,
    False through ``on_candle``; None (nobody asked) the first when the strategy has one.
    """
    if base.exchange.name != "back_trading" or "data" not in base.exchange.params:
        raise ConfigError("a search runs backtests: the job needs exchange back_trading with data")
    if not dimensions:
        raise ConfigError("nothing to search: give a range or list, e.g. --param fast=10:50:5")
    names = [dimension.name for dimension in dimensions]
    if len(set(names)) != len(names):
        raise ConfigError(f"a parameter is searched twice: {', '.join(names)}")
    strategy_class = loader.strategy_class(base.strategy.name)
    fields = strategy_class.Params.model_fields
    for name in names:
        if name not in fields:
            raise ConfigError(
                f"param {name}: strategy {base.strategy.name} has no such parameter "
                f"(it has {', '.join(fields)})"
            )
    parsed = tuple(parse_constraint(text, names) for text in constraints)
    by_default = vectorised is None and offers_signals(strategy_class)
    if vectorised is not None or by_default:
        base = base.model_copy(update={"vectorised": vectorised or by_default})
    search = Search(
        base=base,
        space=ParamSpace(tuple(dimensions)),
        constraints=parsed,
        check_per_candle=by_default,
        **options,
    )
    if search.trials < 1 or search.batch < 1:
        raise ConfigError("--trials and --batch must be at least 1")
    return search


def offers_signals(strategy_class: type[BaseStrategy]) -> bool:
    """Whether the strategy has a vectorised twin of ``on_candle`` (``populate_signals``):
    its sweeps then run several times faster (README: "Optimising")."""
    return strategy_class.populate_signals is not BaseStrategy.populate_signals


def _source_hash(loader: PluginLoader, strategy: str) -> str:
    """Editing the strategy's code makes earlier trials stale: its source is in the key."""
    try:
        source = inspect.getsourcefile(loader.strategy_class(strategy))
        return hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else ""
    except (OSError, TypeError):
        return ""
