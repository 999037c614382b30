"""A search written down: a YAML spec beside a job config, run with ``ats optimize SPEC``.

Example (``btc-sma.sweep.yaml`` next to ``btc-sma.yaml``)::

    job: btc-sma.yaml          # the job to vary (relative to this file), or a mapping
    params:
      fast: 10:100:5           # a range, both ends included
      slow: [50, 100, 200]     # a list; {low: 50, high: 400, step: 10} is a range too
      stop_pct: 2              # one value: fixed for every trial
    constraints: ["fast < slow"]
    method: optuna             # grid (default) or optuna
    trials: 200                # optuna only
    seed: 42
    batch: 16
    objective: sharpe          # any report metric
    direction: maximize        # or minimize
    walk_forward: train=30d,test=7d
    workers: 2                 # default: every core
    ray: auto                  # or HOST:PORT of a Ray cluster

Ranges are read as text, never as YAML 1.1's base-60 numbers (``5:50`` is the range 5 to
50, not 350).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ats.exceptions import ConfigError
from ats.research.objective import Objective
from ats.research.search import DEFAULT_BATCH, DEFAULT_TRIALS, Search, build_search
from ats.research.space import is_search_text, parse_dimension
from ats.research.walk_forward import parse_walk_forward
from ats.trading_job.job_config import load_job_config, parse_job_config
from ats.utils.config_files import parse_yaml, read_config_text
from ats.utils.plugins import PluginLoader
from ats.utils.validation import format_validation_error


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader without base-60 numbers, so ``10:100:5`` stays the text of a range."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
        r"|\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class SearchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: Path | dict[str, Any]
    params: dict[str, Any] = Field(min_length=1)
    constraints: list[str] = Field(default_factory=list)
    method: Literal["grid", "optuna"] = "grid"
    trials: int = Field(DEFAULT_TRIALS, ge=1)
    seed: int = 0
    batch: int = Field(DEFAULT_BATCH, ge=1)
    objective: str = "sharpe"
    direction: Literal["maximize", "minimize"] = "maximize"
    walk_forward: str | None = None
    workers: int | None = Field(None, ge=1)
    ray: str | None = None


def load_search_spec(path: Path, loader: PluginLoader) -> Search:
    """Read and check a spec; every problem is one ConfigError naming the file."""
    text = read_config_text(path)
    parse_yaml(text, source=str(path))  # the bounds of every config: no aliases, not too deep
    try:
        raw = yaml.load(text, Loader=_SpecLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of search settings at the top level")
    try:
        spec = SearchSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=str(path))) from None
    try:
        if isinstance(spec.job, dict):
            base = parse_job_config(spec.job, source=f"{path}: job")
        else:
            base = load_job_config(spec.job if spec.job.is_absolute() else path.parent / spec.job)
        dimensions, fixed = [], {}
        for name, value in spec.params.items():
            if isinstance(value, list | dict) or (isinstance(value, str) and is_search_text(value)):
                dimensions.append(parse_dimension(name, value))
            else:
                fixed[name] = value
        if fixed:
            strategy = base.strategy.model_copy(
                update={"params": {**base.strategy.params, **fixed}}
            )
            base = base.model_copy(update={"strategy": strategy})
        if spec.walk_forward is not None:
            parse_walk_forward(spec.walk_forward, 1)  # the shape; durations need the data
        return build_search(
            base,
            dimensions,
            spec.constraints,
            loader,
            method=spec.method,
            trials=spec.trials,
            seed=spec.seed,
            batch=spec.batch,
            objective=Objective.parse(spec.objective, spec.direction),
            walk_forward=spec.walk_forward,
            workers=spec.workers,
            ray=spec.ray,
            # a job that says ``vectorised:`` chose its path; else populate_signals if any
            vectorised=base.vectorised if "vectorised" in base.model_fields_set else None,
        )
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None
