"""``--yes-live``: headless starts (``ats --no-ui``, ``ats run``) refuse live jobs unless
the flag is given: one line naming the jobs and the flag, exit code 2, nothing started,
nothing saved changed. (The kill -9 test in tests/ccxt starts a live job with the flag.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from job_configs import backtest_config
from persist_helpers import settings_for, write_candles

from ats.cli import build_parser, main
from ats.headless.job_add import add_job
from ats.headless.live_guard import LiveNotConfirmed
from ats.headless.resume_saved import run_saved_jobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_config import parse_job_config


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env or custom_modules
    for key in ("ATS_SAVED_STATES_DIR", "ATS_JOURNAL_PATH", "ATS_SNAPSHOT_INTERVAL_S"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def live_yaml(tmp_path: Path, name: str = "live-btc") -> Path:
    """A live sma_cross job against a port nothing listens on: if it ever started, it
    would fail (exit 1), not be refused (exit 2)."""
    config = parse_job_config(
        {
            "name": name,
            "symbol": "BTC/USDT",
            "mode": "live",
            "balances": {"USDT": 1_000},
            "exchange": {
                "name": "ccxt",
                "params": {
                    "exchange": "binance",
                    "urls": "http://127.0.0.1:9",
                    "api_key_env": "YES_LIVE_TEST_KEY",
                    "secret_env": "YES_LIVE_TEST_SECRET",
                },
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(config.to_yaml())
    return path


def backtest_yaml(tmp_path: Path) -> Path:
    data = write_candles(tmp_path / "c.csv", 2_000)
    path = tmp_path / "bt.yaml"
    path.write_text(backtest_config(data, name="bt-job", fast=10, slow=30).to_yaml())
    return path


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def one_line_refusal(err: str, *names: str) -> str:
    line = err.strip()
    assert line.count("\n") == 0, err
    assert line.startswith("ats: error: refusing to start live job(s)")
    assert "--yes-live" in line
    for name in names:
        assert name in line
    return line


def test_the_flag_parses_before_or_after_run() -> None:
    parser = build_parser()
    assert parser.parse_args(["--no-ui"]).yes_live is False
    assert parser.parse_args(["--no-ui", "--yes-live"]).yes_live is True
    assert parser.parse_args(["run", "a.yaml"]).yes_live is False
    assert parser.parse_args(["run", "a.yaml", "--no-ui", "--yes-live"]).yes_live is True
    assert parser.parse_args(["--yes-live", "run", "a.yaml"]).yes_live is True


def test_no_ui_refuses_a_saved_running_live_job_and_changes_nothing(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(state)
    assert add_job(settings, live_yaml(tmp_path), "live-1", start=True) == 0
    assert add_job(settings, backtest_yaml(tmp_path), "bt-1", start=True) == 0
    capsys.readouterr()
    before = files(state)

    assert main(["--no-ui"]) == 2
    out, err = capsys.readouterr()
    line = one_line_refusal(err, "live-btc (live-1)", "ats --no-ui --yes-live")
    assert "bt-1" not in line and out == ""  # the backtest did not run either
    assert files(state) == before  # no lock, no journal, snapshots byte for byte

    with pytest.raises(LiveNotConfirmed):  # the same for a caller of the function
        asyncio.run(run_saved_jobs(settings))
    assert files(state) == before


def test_a_live_job_resumed_from_its_backup_snapshot_is_refused_too(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The current snapshot reads as stopped (so the check before the restore passes) but
    cannot be restored; the restore falls back to the previous good copy, saved as
    running, and the check on what was restored refuses it."""
    assert add_job(settings_for(state), live_yaml(tmp_path), "live-1", start=True) == 0
    store = SnapshotStore(state)
    store.backup_path("live-1").write_bytes(store.path("live-1").read_bytes())
    broken = store.read(store.path("live-1"), "live-1").payload
    assert broken is not None
    broken["status"], broken["strategy_state"] = "stopped", {"prev_diff": "not a number"}
    store.save("live-1", broken)
    capsys.readouterr()

    assert main(["--no-ui"]) == 2
    one_line_refusal(capsys.readouterr().err, "live-btc (live-1)")
    assert settings_for(state).journal_file.exists()  # refused after the restore
    saved = store.read(store.path("live-1"), "live-1").payload
    assert saved is not None and saved["status"] == "running"  # the next start resumes it
    assert main(["--no-ui"]) == 2  # and is refused before anything is opened
    one_line_refusal(capsys.readouterr().err, "live-btc (live-1)")


def test_a_live_job_not_saved_as_running_needs_no_flag(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_job(settings_for(state), live_yaml(tmp_path), "live-1", start=False) == 0
    assert main(["--no-ui"]) == 0  # nothing to resume: nothing live starts
    assert "no saved job to resume" in capsys.readouterr().out


def test_run_refuses_live_configs_before_creating_any_job(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live, backtest = live_yaml(tmp_path), backtest_yaml(tmp_path)
    report = tmp_path / "report.json"
    assert main(["run", str(backtest), str(live), "--no-ui", "--json", str(report)]) == 2
    out, err = capsys.readouterr()
    one_line_refusal(err, "live-btc", str(live))
    assert out == "" and not report.exists()  # not even the backtest ran
    assert not state.exists()

    assert main(["run", str(backtest), "--no-ui", "--json", str(report)]) == 0  # no live job
    assert report.exists()
