"""Job configuration: a YAML file validated by pydantic, errors naming the field.

Example::

    name: btc-sma
    symbol: BTC/USDT
    balances: {USDT: 10000}
    exchange: {name: back_trading, params: {data: data/BTC_USDT_3s_2022-05-12.csv}}
    strategy: {name: sma_cross, params: {fast: 50, slow: 200}}
    fees: {name: flat_rate, params: {rate: 0.001}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import split_symbol
from ats.trading_job.risk import RiskLimits
from ats.utils.validation import format_validation_error

JobMode = Literal["backtest", "paper", "live"]


class PluginSpec(BaseModel):
    """A plugin by name plus its parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    params: dict[str, Any] = Field(default_factory=dict)


class JobConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    symbol: str = "BTC/USDT"
    mode: JobMode | None = None
    """Must match the exchange's mode when given; ``live`` must always be explicit."""
    balances: dict[str, float] = Field(default_factory=lambda: {"USDT": 10_000.0})
    risk: RiskLimits = Field(default_factory=lambda: RiskLimits.model_validate({}))
    vectorised: bool = False
    """Backtest through the strategy's ``populate_signals`` instead of per-candle calls."""
    exchange: PluginSpec
    strategy: PluginSpec
    fees: PluginSpec = Field(
        default_factory=lambda: PluginSpec(name="flat_rate", params={"rate": 0.001})
    )

    @field_validator("symbol")
    @classmethod
    def _symbol_shape(cls, value: str) -> str:
        split_symbol(value)
        return value

    @field_validator("balances")
    @classmethod
    def _balances_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for asset, amount in value.items():
            if amount < 0:
                raise ValueError(f"balance of {asset} must not be negative")
        return value

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(exclude_none=True), sort_keys=False)


def parse_job_config(data: Any, *, source: str = "job config") -> JobConfig:
    try:
        return JobConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source=source)) from None


def load_job_config(path: str | Path) -> JobConfig:
    """Read and validate a job YAML file; ConfigError names the file and field/line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of job settings at the top level")
    return parse_job_config(data, source=str(path))
