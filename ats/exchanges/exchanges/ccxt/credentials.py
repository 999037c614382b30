"""API credentials for the live ccxt exchange: only ever by the NAME of an env setting.

A job config, a snapshot or a log line must never hold a key, so the config names the
environment settings (``api_key_env`` / ``secret_env`` / ``password_env``) and the values
are resolved at connect time through :func:`ats.utils.settings.resolve_secret`, which
registers them for :func:`ats.utils.settings.redact`.
"""

from __future__ import annotations

from typing import Any

from ats.exceptions import ConfigError
from ats.utils.redaction import literal_secret_params
from ats.utils.settings import resolve_secret

LITERAL_KEYS = ("api_key", "apiKey", "secret", "password", "passphrase")
"""Params that would hold a credential itself; rejected even when empty-looking."""


def env_names(config: dict[str, Any], exchange_id: str) -> tuple[str, str, str | None]:
    """(api key env, secret env, optional password env); defaults ``<EXCHANGE>_API_KEY`` /
    ``<EXCHANGE>_SECRET``."""
    prefix = exchange_id.upper()
    key_env = str(config.get("api_key_env") or f"{prefix}_API_KEY")
    secret_env = str(config.get("secret_env") or f"{prefix}_SECRET")
    password_env = config.get("password_env")
    return key_env, secret_env, str(password_env) if password_env else None


def reject_literal_credentials(config: dict[str, Any], exchange_id: str) -> None:
    """ConfigError naming the offending params (never their values) and the env names to
    use instead. Runs at job creation, so a bad config never gets to connect."""
    found = [f"exchange.params.{key}" for key in LITERAL_KEYS if config.get(key)]
    found += [p for p in literal_secret_params(config, "exchange.params") if p not in found]
    if not found:
        return
    key_env, secret_env, _ = env_names(config, exchange_id)
    raise ConfigError(
        f"{', '.join(found)}: credentials must not be written into a job config; put them "
        f"in environment settings (or .env) and name those instead, e.g. "
        f"api_key_env: {key_env} and secret_env: {secret_env}"
    )


def load_credentials(config: dict[str, Any], exchange_id: str) -> dict[str, str]:
    """ccxt credential fields resolved from the environment (values registered for
    redaction); ConfigError naming the missing setting otherwise."""
    key_env, secret_env, password_env = env_names(config, exchange_id)
    missing = [name for name in (key_env, secret_env) if not _is_set(name)]
    if missing:
        raise ConfigError(
            f"live trading needs API keys: set {' and '.join(missing)} in the environment "
            f"or .env (names from exchange.params.api_key_env / secret_env)"
        )
    credentials = {
        "apiKey": resolve_secret(key_env).get_secret_value(),
        "secret": resolve_secret(secret_env).get_secret_value(),
    }
    if password_env:
        credentials["password"] = resolve_secret(password_env).get_secret_value()
    return credentials


def _is_set(env_name: str) -> bool:
    try:
        resolve_secret(env_name)
    except ConfigError:
        return False
    return True
