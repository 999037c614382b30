"""Process-wide settings (``ATS_*`` environment variables and ``.env``) and secret handling.

Exchange credentials are never part of a job config, a snapshot or the journal: a config
names the environment setting that holds a key (``api_key_env: BINANCE_API_KEY``) and the
exchange resolves it with :meth:`Settings.secret` when it connects. Every value resolved
that way (and every secret-looking entry of ``.env``) is registered with
:func:`ats.utils.redaction.redact` (imported from there only), which the job log, the
journal and the snapshot writer run text through, so a key that leaks into an error
message is masked before it is shown or stored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ats import workspace
from ats.exceptions import ConfigError
from ats.utils.redaction import SECRET_NAME, register_secret

__all__ = ["ENV_FILE", "Settings", "register_env_secrets", "resolve_secret"]

ENV_FILE = workspace.ENV_FILE
"""In the workspace (``$ATS_HOME`` or the current directory, see ats.workspace)."""
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Settings(BaseSettings):
    """Where state lives and how often it is saved. Override with ``ATS_<FIELD>``.

    ``.env`` is read from the workspace, and relative directories are taken inside it.
    """

    model_config = SettingsConfigDict(
        env_prefix="ATS_", env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore"
    )

    def __init__(self, **values: Any) -> None:
        values.setdefault("_env_file", workspace.path(ENV_FILE))  # ConfigError: bad ATS_HOME
        super().__init__(**values)

    saved_states_dir: Path = Path(workspace.SAVED_STATES)
    """Job snapshots (``<job_id>.json``) and, by default, the journal."""
    journal_path: Path | None = None
    """SQLite journal; defaults to ``<saved_states_dir>/journal.sqlite3``."""
    journal_enabled: bool = True
    snapshot_interval_s: float = Field(default=30.0, gt=0)
    """Seconds between periodic snapshots of running jobs."""
    journal_flush_ms: int = Field(default=75, ge=5, le=5_000)
    """The journal writer commits one batch per period (off the job's hot path)."""
    journal_log_rows: int = Field(default=5_000, ge=100)
    """Log lines kept per job in the journal; older ones are pruned."""
    journal_equity_points: int = Field(default=2_000, ge=10)
    """Equity samples kept per job (downsampled)."""
    custom_modules_dir: Path = Path(workspace.CUSTOM_MODULES)
    themes_dir: Path = Path(workspace.THEMES)
    """Colour themes of your own (``*.toml``), on top of the bundled ones."""
    data_dir: Path = Path(workspace.DATA)
    """Candle files: where ``ats init`` puts the demo's and ``ats data download`` writes."""
    log_dir: Path | None = None
    """The application log (``ats.log``, rotated); defaults to ``logs/`` beside
    saved_states_dir (see ats.utils.app_log)."""
    watchdog_backtest_s: float = Field(default=10.0, ge=0, allow_inf_nan=False)
    """Seconds a backtest may hold the event loop at a stretch before it is interrupted
    and put in error (0 = never); see ats.trading_job.watchdog."""
    watchdog_paper_s: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    watchdog_live_s: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    stop_deadline_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    """Seconds from a stop (SIGINT, SIGTERM, SIGHUP, the console's q) to the process's
    exit, whatever the jobs are doing; see ats.trading_job.stop_deadline."""
    on_hangup: Literal["keep", "stop"] = "keep"
    """What the console does when its terminal hangs up (ssh or tmux gone): keep the jobs
    running headless (``ats attach`` brings it back) or stop and save them; see
    ats.ui.hangup. ``ats --on-hangup`` overrides it."""
    log_format: Literal["text", "json"] = "text"
    """Headless output (``--log-format``): text for people, or JSON lines for shippers."""
    status_interval_s: float = Field(default=60.0, ge=0, allow_inf_nan=False)
    """``ats --no-ui`` and ``ats run`` print a status line per job this often (0: never)."""
    candle_cache_dir: Path | None = None
    """Parsed candles (ats.data.candle_cache); default ``<saved_states_dir>/cache/candles``."""
    candle_cache_max_mb: int = Field(default=4096, ge=0)
    """Size the candle cache is pruned to; 0 turns the cache off."""
    # Alerts (ats.alerts): off while alert_urls is empty.
    alert_urls: SecretStr = SecretStr("")
    """Apprise URLs (tgram://, discord://, mailto://, json://...), separated by spaces or
    commas. They hold tokens, so they are treated as secrets."""
    alert_kinds: str = "fill,error,status,kill_switch,connection"
    alert_jobs: str = "*"
    """Job names or ids (globs) that alert; ``!name`` leaves one out."""
    alert_modes: str = "paper,live"
    alert_interval_s: float = Field(default=20.0, ge=0, allow_inf_nan=False)
    """At most one message per interval; what happens in between is batched."""
    alert_batch_s: float = Field(default=2.0, ge=0, allow_inf_nan=False)
    """How long the first alert of a quiet spell waits for others to join it."""
    alert_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    alert_summary_at: str = ""
    """``HH:MM`` (UTC): a daily summary of every alerting job; empty for none."""
    api_token: SecretStr | None = None
    """Bearer token of the control API over TCP (``--api-port``), which refuses to start
    without one; the unix socket needs none (mode 0600). See ats.apis.server."""

    @model_validator(mode="after")
    def _place_in_workspace(self) -> Settings:
        """Relative directories are inside the workspace; the journal defaults to
        ``<saved_states_dir>/journal.sqlite3``."""
        home = workspace.root()
        self.saved_states_dir = home / self.saved_states_dir
        self.custom_modules_dir = home / self.custom_modules_dir
        self.themes_dir = home / self.themes_dir
        self.data_dir = home / self.data_dir
        if self.candle_cache_dir is not None:
            self.candle_cache_dir = home / self.candle_cache_dir
        if self.log_dir is not None:
            self.log_dir = home / self.log_dir
        if self.journal_path is not None:
            self.journal_path = home / self.journal_path
        else:
            self.journal_path = self.saved_states_dir / "journal.sqlite3"
        return self

    def model_post_init(self, context: Any, /) -> None:
        register_env_secrets()

    @property
    def candle_cache_path(self) -> Path:
        return self.candle_cache_dir or self.saved_states_dir / "cache" / "candles"

    @property
    def journal_file(self) -> Path:
        assert self.journal_path is not None  # set by the validator
        return self.journal_path

    @property
    def log_file(self) -> Path:
        from ats.utils.app_log import LOG_FILE_NAME, default_log_dir

        return (self.log_dir or default_log_dir(self.saved_states_dir)) / LOG_FILE_NAME

    def secret(self, env_name: str) -> SecretStr:
        """The value of the environment (or ``.env``) setting ``env_name``.

        Raises ConfigError naming the setting (never its value) when it is missing. The
        value is registered for redaction before it is returned.
        """
        return resolve_secret(env_name)


def resolve_secret(env_name: str, *, env_file: str | Path | None = None) -> SecretStr:
    """See :meth:`Settings.secret`; the process environment wins over ``.env``."""
    if not isinstance(env_name, str) or not _ENV_NAME.match(env_name):
        raise ConfigError(f"invalid environment setting name {env_name!r}")
    env_file = workspace.path(ENV_FILE) if env_file is None else env_file
    value = os.environ.get(env_name)
    if value is None:
        value = _read_env_file(env_file).get(env_name)
    if not value:
        raise ConfigError(f"environment setting {env_name} is not set (add it to {env_file})")
    register_secret(value)
    return SecretStr(value)


def _read_env_file(env_file: str | Path) -> dict[str, str]:
    path = Path(env_file)
    if not path.is_file():
        return {}
    return {key: value for key, value in dotenv_values(path).items() if value is not None}


def register_env_secrets(env_file: str | Path | None = None) -> None:
    """Mask the values of secret-looking settings (``*_KEY``, ``*_SECRET``...) everywhere."""
    env_file = workspace.path(ENV_FILE) if env_file is None else env_file
    sources = [_read_env_file(env_file), dict(os.environ)]
    for source in sources:
        for name, value in source.items():
            if SECRET_NAME.search(name) and not name.startswith("ATS_"):
                register_secret(value)
