"""Settings from ATS_* variables and .env; credentials only by the name of a setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ats.exceptions import ConfigError
from ats.utils.redaction import literal_secret_params, redact, redact_data, scrub_config
from ats.utils.settings import Settings, resolve_secret


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("ATS_"):
            monkeypatch.delenv(key)


def test_defaults() -> None:
    settings = Settings()
    assert settings.saved_states_dir == Path("saved_states")
    assert settings.journal_file == Path("saved_states/journal.sqlite3")
    assert settings.snapshot_interval_s == 30
    assert settings.custom_modules_dir == Path("custom_modules")


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("ATS_SAVED_STATES_DIR=/srv/ats\nATS_SNAPSHOT_INTERVAL_S=5\n")
    settings = Settings()
    assert settings.saved_states_dir == Path("/srv/ats")
    assert settings.journal_file == Path("/srv/ats/journal.sqlite3")
    assert settings.snapshot_interval_s == 5
    monkeypatch.setenv("ATS_SNAPSHOT_INTERVAL_S", "2.5")
    monkeypatch.setenv("ATS_JOURNAL_PATH", "/var/lib/ats.sqlite3")
    settings = Settings()
    assert settings.snapshot_interval_s == 2.5  # the environment wins over .env
    assert settings.journal_file == Path("/var/lib/ats.sqlite3")


def test_invalid_interval_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATS_SNAPSHOT_INTERVAL_S", "0")
    with pytest.raises(ValueError, match="snapshot_interval_s"):
        Settings()


def test_secrets_resolve_by_name_and_are_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("EXAMPLE_API_KEY=abcdef-123456-from-dotenv\n")
    assert resolve_secret("EXAMPLE_API_KEY").get_secret_value() == "abcdef-123456-from-dotenv"
    assert "abcdef" not in repr(Settings().secret("EXAMPLE_API_KEY"))
    assert redact("key is abcdef-123456-from-dotenv!") == "key is ***!"
    monkeypatch.setenv("EXAMPLE_API_KEY", "zyxwvu-from-environment")
    assert resolve_secret("EXAMPLE_API_KEY").get_secret_value() == "zyxwvu-from-environment"
    assert redact_data({"a": ["zyxwvu-from-environment", 1]}) == {"a": ["***", 1]}


def test_missing_or_bad_setting_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="NOT_THERE_KEY is not set"):
        resolve_secret("NOT_THERE_KEY")
    with pytest.raises(ConfigError, match="invalid environment setting name"):
        resolve_secret("../etc/passwd")


def test_secret_looking_dotenv_entries_are_masked_at_start(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SOME_EXCHANGE_SECRET=qwerty-uiop-asdf\nPUBLIC_LABEL=visible-value\n"
    )
    Settings()
    assert redact("qwerty-uiop-asdf and visible-value") == "*** and visible-value"


def test_literal_credentials_in_a_config_are_scrubbed() -> None:
    config: dict[str, Any] = {
        "name": "x",
        "exchange": {
            "name": "ccxt",
            "params": {"api_key_env": "BINANCE_API_KEY", "secret": "s3cr3t-literal", "rate": 1},
        },
        "strategy": {"name": "s", "params": {}},
    }
    assert literal_secret_params(config["exchange"]["params"], "exchange.params") == [
        "exchange.params.secret"
    ]
    scrubbed, masked = scrub_config(config)
    assert masked == ["exchange.params.secret"]
    assert scrubbed["exchange"]["params"] == {
        "api_key_env": "BINANCE_API_KEY",
        "secret": "***",
        "rate": 1,
    }
    assert config["exchange"]["params"]["secret"] == "s3cr3t-literal", "input untouched"
