"""The workspace: ATS_HOME or the current directory, and ``ats init`` making one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ats.cli import main
from ats.demo import DEMO_DATA
from ats.headless.init_command import template_files
from ats.ui.themes import default_theme_dirs
from ats.utils.settings import Settings, resolve_secret
from ats.workspace import bundled


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("ATS_") and key != "ATS_CANDLE_CACHE_DIR":
            monkeypatch.delenv(key)


def test_ats_home_holds_the_env_file_and_every_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / ".env").write_text(
        "ATS_SNAPSHOT_INTERVAL_S=7\nATS_CUSTOM_MODULES_DIR=plugins\nWORKSPACE_API_KEY=k-123456789\n"
    )
    (elsewhere / ".env").write_text("ATS_SNAPSHOT_INTERVAL_S=99\n")  # not the workspace's
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("ATS_HOME", str(home))
    settings = Settings()
    assert settings.snapshot_interval_s == 7
    assert settings.saved_states_dir == home / "saved_states"
    assert settings.journal_file == home / "saved_states" / "journal.sqlite3"
    assert settings.custom_modules_dir == home / "plugins"  # relative: inside the workspace
    assert settings.themes_dir == home / "themes"
    assert settings.data_dir == home / "data"
    assert resolve_secret("WORKSPACE_API_KEY").get_secret_value() == "k-123456789"
    assert default_theme_dirs()[-1] == home / "themes"


def test_without_ats_home_the_current_directory_is_the_workspace(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ATS_SAVED_STATES_DIR=/srv/state\n")
    settings = Settings()
    assert settings.saved_states_dir == Path("/srv/state")
    assert settings.custom_modules_dir == Path("custom_modules")  # as short as ever


def test_a_missing_ats_home_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATS_HOME", str(tmp_path / "nowhere"))
    assert main(["jobs", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ATS_HOME=" in err and "ats init" in err


def test_the_demo_data_and_themes_are_package_data() -> None:
    assert DEMO_DATA.is_file() and bundled("data") / DEMO_DATA.name == DEMO_DATA
    assert {path.name for path in bundled("themes").glob("*.toml")} >= {
        "ats-dark.toml",
        "ats-light.toml",
    }
    repository = Path(__file__).resolve().parents[2]
    assert repository / "data" / DEMO_DATA.name == DEMO_DATA, "a clone reads its own data/"


def test_init_makes_a_workspace_and_never_overwrites_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "ws"
    assert main(["init", str(target)]) == 0
    files = template_files()
    for relative in files:
        assert (target / relative).is_file(), relative
    assert (target / "data" / DEMO_DATA.name).read_bytes() == DEMO_DATA.read_bytes()
    assert (target / "custom_modules/strategies/bollinger_breakout/strategy.py").is_file()
    assert (target / "custom_modules/strategies/README.md").is_file()
    assert (target / "themes/ats-dark.toml").is_file()
    assert (target / ".env.example").read_text().startswith("# ATS settings")
    assert (target / "saved_states").stat().st_mode & 0o777 == 0o700
    capsys.readouterr()

    readme = target / "custom_modules/strategies/README.md"
    readme.write_text("my notes\n")
    (target / ".env").write_text("MY=1\n")
    (target / "saved_states" / "x.json").write_text("{}")
    assert main(["init", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--force" in err
    assert readme.read_text() == "my notes\n", "nothing written"

    assert main(["init", str(target), "--force"]) == 0
    assert readme.read_text() != "my notes\n"
    assert (target / ".env").read_text() == "MY=1\n"  # never the template's business
    assert (target / "saved_states" / "x.json").read_text() == "{}"

    monkeypatch.setenv("ATS_HOME", str(tmp_path / "home"))  # no DIR: ATS_HOME
    assert main(["init"]) == 0
    assert (tmp_path / "home" / "themes" / "ats-light.toml").is_file()


def test_init_into_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("")
    assert main(["init", str(tmp_path / "f")]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_the_systemd_unit_runs_the_workspace_headless_within_the_stop_deadline() -> None:
    import configparser

    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(Path(__file__).resolve().parents[2] / "contrib" / "ats.service")
    service = unit["Service"]
    assert service["ExecStart"].split()[1:] == ["--no-ui"]
    assert service["Environment"].startswith("ATS_HOME=")
    assert service["WorkingDirectory"] == service["Environment"].partition("=")[2]
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) > Settings(_env_file=None).stop_deadline_s
    assert service["RestartPreventExitStatus"] == "2"  # bad input: a restart cannot fix it
