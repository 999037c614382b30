"""Masking of credentials in everything ATS shows or stores (logs, errors, snapshots, the
journal). Kept free of heavy imports: the job's log path uses it on every line.

Values get registered by ``ats.utils.settings`` when a credential is resolved by the name
of its environment setting (and for every secret-looking entry of ``.env``).
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASS|PRIVATE|CREDENTIAL)", re.IGNORECASE)
"""Setting or parameter names that hold credentials."""
_MIN_SECRET_LENGTH = 6
"""Shorter values are not masked: masking "1" everywhere would garble every log line."""

_secret_values: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Add ``value`` to the set :func:`redact` masks."""
    global _secret_pattern
    if len(value) < _MIN_SECRET_LENGTH or value in _secret_values:
        return
    _secret_values.add(value)
    ordered = sorted(_secret_values, key=len, reverse=True)
    _secret_pattern = re.compile("|".join(re.escape(item) for item in ordered))


def secrets_registered() -> bool:
    """Whether :func:`redact` has anything to mask (lets hot loops skip it)."""
    return _secret_pattern is not None


def redact(text: str) -> str:
    """``text`` with every registered secret value replaced by ``***``."""
    if _secret_pattern is None or not isinstance(text, str):
        return text
    return _secret_pattern.sub(MASK, text)


def redact_data(value: Any) -> Any:
    """:func:`redact` applied to every string in JSON-like data (dicts, lists)."""
    if _secret_pattern is None:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_data(item) for item in value]
    return value


def literal_secret_params(params: dict[str, Any], prefix: str) -> list[str]:
    """Config keys that look like credentials but hold a literal value instead of the
    name of an environment setting (``api_key: abc`` instead of ``api_key_env: NAME``)."""
    found = []
    for key, value in params.items():
        path = f"{prefix}.{key}"
        if isinstance(value, dict):
            found.extend(literal_secret_params(value, path))
        elif (
            isinstance(value, str)
            and value
            and SECRET_NAME.search(key)
            and not key.lower().endswith("_env")
        ):
            found.append(path)
    return found


def scrub_config(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of a dumped JobConfig safe to store: literal credentials replaced by ``***``.

    Returns the copy and the dotted paths that were masked (to warn about them).
    """
    masked: list[str] = []

    def scrub(params: Any, prefix: str) -> Any:
        if not isinstance(params, dict):
            return params
        paths = set(literal_secret_params(params, prefix))
        masked.extend(sorted(paths))
        return _mask_paths(params, prefix, paths)

    result = dict(config)
    for section in ("exchange", "strategy", "fees"):
        spec = result.get(section)
        if isinstance(spec, dict) and isinstance(spec.get("params"), dict):
            result[section] = {**spec, "params": scrub(spec["params"], f"{section}.params")}
    return redact_data(result), masked


def _mask_paths(params: dict[str, Any], prefix: str, paths: set[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in params.items():
        path = f"{prefix}.{key}"
        if path in paths:
            result[key] = MASK
        elif isinstance(value, dict):
            result[key] = _mask_paths(value, path, paths)
        else:
            result[key] = value
    return result
