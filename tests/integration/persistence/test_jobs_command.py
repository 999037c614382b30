"""``ats jobs list|show|export|delete|add`` and ``ats --no-ui`` over saved jobs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from job_configs import backtest_config
from persist_helpers import write_candles

from ats.cli import main
from ats.persistence.directory_lock import DirectoryLock
from ats.persistence.snapshot_store import SnapshotStore


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env or custom_modules
    for key in ("ATS_SAVED_STATES_DIR", "ATS_JOURNAL_PATH", "ATS_SNAPSHOT_INTERVAL_S"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "state"


@pytest.fixture
def job_yaml(tmp_path: Path) -> Path:
    data = write_candles(tmp_path / "c.csv", 20_000)
    path = tmp_path / "job.yaml"
    path.write_text(backtest_config(data, name="cli-job", fast=10, slow=30).to_yaml())
    return path


def test_add_run_list_show_export_delete(
    state: Path, job_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "add", str(job_yaml), "--start", "--id", "cli-1"]) == 0
    assert capsys.readouterr().out.strip() == "cli-1"
    assert main(["jobs", "add", str(job_yaml)]) == 0
    other = capsys.readouterr().out.strip()
    assert other.startswith("cli-job-")

    assert main(["jobs", "list", "--json"]) == 0
    rows = {row["job_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["cli-1"]["status"] == "running" and rows[other]["status"] == "created"

    assert main(["--no-ui"]) == 0  # runs cli-1 (saved as running) to the end, not the other
    capsys.readouterr()
    assert main(["jobs", "list", "--json"]) == 0
    rows = {row["job_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["cli-1"]["status"] == "finished" and rows["cli-1"]["fills"] > 0
    assert rows["cli-1"]["candles_done"] == 20_000
    assert rows[other]["status"] == "created"

    assert main(["jobs", "list"]) == 0
    table = capsys.readouterr().out
    assert "cli-1" in table and "finished" in table

    assert main(["jobs", "show", "cli-1"]) == 0
    shown = capsys.readouterr().out
    assert "sma_cross" in shown and "balances" in shown and "trades (journal)" in shown

    assert main(["jobs", "export", "cli-1", "--json"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["snapshot"]["status"] == "finished"
    assert len(exported["journal"]["fills"]) == rows["cli-1"]["fills"]

    assert main(["jobs", "delete", "cli-1"]) == 0
    capsys.readouterr()
    assert SnapshotStore(state).job_ids() == [other]
    assert main(["jobs", "export", "cli-1"]) == 2  # gone: a one-line error
    assert "no saved job" in capsys.readouterr().err


def test_prefix_and_name_resolve(
    state: Path, job_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "add", str(job_yaml), "--id", "alpha-1"]) == 0
    capsys.readouterr()
    assert main(["jobs", "show", "alp"]) == 0
    assert main(["jobs", "show", "cli-job"]) == 0  # by name
    capsys.readouterr()
    assert main(["jobs", "show", "zzz"]) == 2


def test_delete_is_refused_while_ats_runs(
    state: Path, job_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["jobs", "add", str(job_yaml), "--id", "busy-1"]) == 0
    lock = DirectoryLock(state)
    lock.acquire()
    try:
        assert main(["jobs", "delete", "busy-1"]) == 2
        assert "ATS is running" in capsys.readouterr().err
        assert main(["jobs", "list"]) == 0  # reading is fine
        assert "ATS running" in capsys.readouterr().out
    finally:
        lock.release()
    assert main(["jobs", "delete", "busy-1"]) == 0


def test_bad_config_is_refused_at_add(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nexchange: {name: back_trading, params: {data: x.csv}}\n"
        "strategy: {name: no_such_strategy}\n"
    )
    assert main(["jobs", "add", str(bad)]) == 2
    assert "no_such_strategy" in capsys.readouterr().err
    assert SnapshotStore(state).job_ids() == []


def test_no_ui_without_saved_jobs_runs_the_demo(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ats import cli

    ran: list[str] = []

    async def fake_run_jobs(configs: list[object], json_out: object) -> int:
        ran.extend(str(getattr(c, "name", c)) for c in configs)
        return 0

    monkeypatch.setattr(cli, "_run_jobs", fake_run_jobs)
    assert main(["--no-ui"]) == 0
    assert ran == ["demo-sma-cross"]
    assert not state.exists() or SnapshotStore(state).job_ids() == []


def test_newer_journal_is_refused_with_a_clear_message(
    state: Path, job_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from ats.database.journal import Journal

    assert main(["jobs", "add", str(job_yaml), "--start", "--id", "v-1"]) == 0

    async def make() -> None:
        async with Journal(state / "journal.sqlite3"):
            pass

    asyncio.run(make())
    with sqlite3.connect(state / "journal.sqlite3") as db:
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    capsys.readouterr()
    assert main(["--no-ui"]) == 2
    assert "newer ATS" in capsys.readouterr().err
    assert SnapshotStore.read(state / "v-1.json", "v-1").payload is not None, "nothing touched"


def test_show_tells_dust_apart_from_the_position(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9, item 3: fees taken from the coins bought leave dust the market will not
    take; `ats jobs show` says so instead of showing a position that cannot be sold."""
    data = write_candles(tmp_path / "c.csv", 5_000)
    config = backtest_config(data, name="dusty", fast=10, slow=30)
    config.exchange.params["market"] = {"amount_step": 0.001, "price_tick": 0.01}
    config.fees.params["charged_in"] = "received"
    path = tmp_path / "dusty.yaml"
    path.write_text(config.to_yaml())
    assert main(["jobs", "add", str(path), "--start", "--id", "dusty"]) == 0
    assert main(["--no-ui"]) == 0
    capsys.readouterr()
    assert main(["jobs", "show", "dusty"]) == 0
    shown = capsys.readouterr().out
    position = next(line for line in shown.splitlines() if line.startswith("position: "))
    assert "BTC + dust 0.000" in position or "flat (dust 0.000" in position
