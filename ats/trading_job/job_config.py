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
from ats.utils.config_files import load_yaml_file
from ats.utils.validation import format_validation_error, require_finite

JobMode = Literal["backtest", "paper", "live"]


class PluginSpec(BaseModel):
    """A plugin by name plus its parameters."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _numbers_finite(cls, value: dict[str, Any]) -> dict[str, Any]:
        return require_finite(value)


class JobConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=64)
    symbol: str = "BTC/USDT"
    mode: JobMode | None = None
    """Must match the exchange's mode when given; ``live`` must always be explicit."""
    balances: dict[str, float] = Field(default_factory=lambda: {"USDT": 10_000.0})
    risk: RiskLimits = Field(default_factory=lambda: RiskLimits.model_validate({}))
    vectorised: bool = False
    """Backtest through the strategy's ``populate_signals`` instead of per-candle calls."""
    watchdog_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    """Seconds this job may hold the event loop at a stretch (0 = no limit); default:
    the mode's (``ATS_WATCHDOG_<MODE>_S``)."""
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
    """Read and validate a job YAML file; ConfigError names the file and field/line.

    The file is read within the bounds of :mod:`ats.utils.config_files` (size, no
    aliases, nesting depth)."""
    path = Path(path)
    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of job settings at the top level")
    return parse_job_config(data, source=str(path))
