"""What the job form's fields hold: typed values, key=value lists, and which field an
engine error names (so it is shown under that field)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from ats.exceptions import ConfigError
from ats.utils.config_files import parse_yaml_value
from ats.utils.symbols import split_symbol

TIMEFRAME = re.compile(r"^\d+[smhdwM]$")
FIELD_OF_LOCATION = {
    "name": "name",
    "symbol": "symbol",
    "balances": "cash",
    "mode": "exchange",
    "exchange": "exchange",
    "fees": "fees",
    "strategy": "strategy",
}
FILE_EXCHANGES = ("back_trading", "paper")
"""Exchanges that read a candle file (paper only with ``feed: replay``)."""


def parse_value(text: str) -> Any:
    """A parameter typed by the user: YAML scalars, so ``50`` is an int, ``0.1`` a float.

    Within the bounds of every config (no aliases, bounded depth): ConfigError else."""
    return parse_yaml_value(text, source="value")


def parse_pairs(text: str) -> dict[str, Any]:
    """``"rate=0.001 maker=0.0002"`` -> ``{"rate": 0.001, "maker": 0.0002}``."""
    result: dict[str, Any] = {}
    for item in text.replace(",", " ").split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {item!r}")
        try:
            result[key.strip()] = parse_value(value.strip())
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return result


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def quote_of(symbol: str) -> str:
    try:
        return split_symbol(symbol)[1]
    except ValueError:
        return "USDT"


def message_of(text: str) -> str:
    """``"strategy.params.fast: must be…"`` -> ``"must be…"``."""
    location, sep, message = text.partition(": ")
    if sep and " " not in location:
        return message
    return text


def field_of(message: str, params: set[str]) -> str:
    """Which form field an engine error names (``strategy.params.fast: …``)."""
    location = message.split(": ", 1)[0] if ": " in message else ""
    parts = location.split(".")
    if parts[:2] == ["strategy", "params"]:
        if len(parts) > 2 and parts[2] in params:
            return f"param:{parts[2]}"
        return "strategy"
    if parts[:1] == ["exchange"] and len(parts) > 1 and parts[1] in ("data", "speed"):
        return parts[1]
    if parts[:1] == ["fees"]:
        return "fee_params"
    return FIELD_OF_LOCATION.get(parts[0], "form")
