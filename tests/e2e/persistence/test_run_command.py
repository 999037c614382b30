"""``ats run JOB.yaml --no-ui`` saves its jobs like ``ats --no-ui`` (issue 9, item 8): one
job id per config file across runs (from the file's resolved path and the job's name, or
``--id``), snapshots and journal in the same directory under the same lock; an
interrupted backtest resumes, a finished one runs afresh, and the output says which."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import (
    ats_command,
    ats_env,
    read_payload,
    run_ats,
    settings_for,
    wait_for,
    write_candles,
)

from ats.cli import main
from ats.database.journal import Journal
from ats.headless.run_command import config_job_id
from ats.persistence.directory_lock import DirectoryLock
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.backtest import run_backtest


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env or custom_modules
    for key in ("ATS_SAVED_STATES_DIR", "ATS_JOURNAL_PATH", "ATS_SNAPSHOT_INTERVAL_S"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


async def journal_export(state: Path, job_id: str) -> dict[str, Any]:
    journal = await Journal(settings_for(state).journal_file, readonly=True).open()
    try:
        data = await journal.export(job_id)
    finally:
        await journal.close()
    assert data is not None
    return data


def journal_summary(state: Path, job_id: str) -> dict[str, Any]:
    return asyncio.run(journal_export(state, job_id))


def test_run_saves_its_job_under_a_stable_id_and_runs_a_finished_one_afresh(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_candles(tmp_path / "c.csv", 3_000)
    config = tmp_path / "bt.yaml"
    config.write_text(backtest_config(data, name="bt-job", fast=10, slow=30).to_yaml())
    job_id = config_job_id(config, "bt-job")
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    assert main(["run", "bt.yaml", "--no-ui", "--json", str(first)]) == 0  # a relative path
    out = capsys.readouterr().out
    assert f"job bt-job ({job_id}): new" in out
    assert SnapshotStore(state).job_ids() == [job_id]
    payload = read_payload(state, job_id)
    assert payload is not None and payload["status"] == "finished"
    report = json.loads(first.read_text())
    assert len(report["trades"]) > 10
    journaled = journal_summary(state, job_id)
    assert journaled["job"]["status"] == "finished"
    assert len(journaled["fills"]) == len(payload["exchange"]["fills"]) > 20

    assert main(["run", str(config), "--no-ui", "--json", str(second)]) == 0  # absolute
    out = capsys.readouterr().out
    assert f"job bt-job ({job_id}) finished before; running it afresh" in out
    assert SnapshotStore(state).job_ids() == [job_id]  # the same job, not a new one
    assert json.loads(second.read_text())["trades"] == report["trades"]
    assert len(journal_summary(state, job_id)["fills"]) == len(payload["exchange"]["fills"])

    # An edited backtest runs afresh with the new config, saying what changed.
    config.write_text(backtest_config(data, name="bt-job", fast=12, slow=30).to_yaml())
    assert main(["run", str(config), "--no-ui"]) == 0
    out = capsys.readouterr().out
    assert f"({job_id}): {config} changed since its last run (strategy.params.fast)" in out
    # --id names the job; the same directory lock as the console and ats --no-ui.
    assert main(["run", str(config), "--no-ui", "--id", "my-bt"]) == 0
    assert "job bt-job (my-bt): new" in capsys.readouterr().out
    assert sorted(SnapshotStore(state).job_ids()) == sorted([job_id, "my-bt"])
    lock = DirectoryLock(state)
    lock.acquire()
    try:
        assert main(["run", str(config), "--no-ui"]) == 2
        assert "in use by another ATS process" in capsys.readouterr().err
    finally:
        lock.release()


def test_a_rerun_on_a_bad_candle_file_says_so_in_one_line_and_keeps_the_saved_run(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_candles(tmp_path / "c.csv", 500)
    config = tmp_path / "bt.yaml"
    config.write_text(backtest_config(data, name="bt", fast=5, slow=20).to_yaml())
    assert main(["run", str(config), "--no-ui"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in state.iterdir() if p.suffix == ".json"}
    data.write_text("timestamp,open,high,low,close,volume\nnot,a,candle,at,all,!\n")
    assert main(["run", str(config), "--no-ui"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "bt.yaml" in err and "c.csv" in err
    assert {p.name: p.read_bytes() for p in state.iterdir() if p.suffix == ".json"} == before


def test_run_refuses_to_restart_a_changed_paper_job_and_changes_nothing(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_candles(tmp_path / "c.csv", 400)
    config = tmp_path / "paper.yaml"

    def write(fast: int) -> None:
        paper = {"name": "paper", "params": {"feed": "replay", "data": str(data), "speed": 0}}
        config.write_text(backtest_config(name="pp", fast=fast, slow=30, exchange=paper).to_yaml())

    write(10)
    assert main(["run", str(config), "--no-ui"]) == 0
    capsys.readouterr()
    job_id = config_job_id(config, "pp")
    before = {p.name: p.read_bytes() for p in state.iterdir() if p.suffix == ".json"}
    write(12)
    assert main(["run", str(config), "--no-ui"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "strategy.params.fast" in err and "--id" in err
    assert job_id in err
    assert {p.name: p.read_bytes() for p in state.iterdir() if p.suffix == ".json"} == before


STUMBLER = """\
from pathlib import Path

from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    \"\"\"A resting limit buy on its first candle; raises on the next while ./boom exists.\"\"\"

    def on_candle(self, candle):
        boom = Path("boom").exists()
        if not self.open_orders():
            self.buy(0.01, price=round(candle.close * (0.5 if boom else 0.4), 2))
        elif boom:
            raise RuntimeError("boom")
"""


def test_a_paper_job_that_ended_in_an_error_resumes_with_its_orders(
    state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_candles(tmp_path / "c.csv", 300)
    folder = tmp_path / "custom_modules" / "strategies" / "stumbler"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(STUMBLER)
    paper = {"name": "paper", "params": {"feed": "replay", "data": str(data), "speed": 0}}
    config = backtest_config(name="pp", exchange=paper).model_dump()
    config["strategy"] = {"name": "stumbler"}
    path = tmp_path / "pp.yaml"
    path.write_text(json.dumps(config))
    job_id = config_job_id(path, "pp")
    (tmp_path / "boom").touch()
    assert main(["run", str(path), "--no-ui"]) == 1
    assert "boom" in capsys.readouterr().err
    saved = read_payload(state, job_id)
    assert saved is not None and saved["status"] == "error"
    (order,) = saved["exchange"]["orders"]

    (tmp_path / "boom").unlink()
    assert main(["run", str(path), "--no-ui"]) == 0
    assert f"resuming job pp ({job_id}) from candle 2" in capsys.readouterr().out
    payload = read_payload(state, job_id)
    assert payload is not None and payload["status"] == "finished"
    assert payload["exchange"]["orders"] == [order]  # its book kept, not started afresh


SLOW_SMA = """\
import os
import time

from ats.strategies.sma_cross.strategy import Strategy as SmaCross

PAUSE = float(os.environ.get("SLOW_SMA_PAUSE", "0"))


class Strategy(SmaCross):
    \"\"\"sma_cross, slowed down (``SLOW_SMA_PAUSE`` seconds a candle) so that a test can
    kill it half way, however fast or busy the machine; the rerun goes at full speed.\"\"\"

    def on_candle(self, candle):
        if PAUSE:
            time.sleep(PAUSE)
        super().on_candle(candle)
"""


@pytest.mark.slow  # two real processes, ~6 s
async def test_kill_9_during_ats_run_resumes_the_backtest_from_its_snapshot(
    tmp_path: Path,
) -> None:
    data = write_candles(tmp_path / "c.csv", 10_000, seed=3)
    strategy = tmp_path / "custom_modules" / "strategies" / "slow_sma"
    strategy.mkdir(parents=True)
    (strategy / "strategy.py").write_text(textwrap.dedent(SLOW_SMA))
    params = {"fast": 10, "slow": 30}
    config = backtest_config(data, name="slow", **params).model_dump()
    config["strategy"]["name"] = "slow_sma"
    path = tmp_path / "slow.yaml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    job_id = config_job_id(path, "slow")
    state = tmp_path / "state"
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.05")
    reference = (await run_backtest(backtest_config(data, name="ref", **params))).report
    assert reference is not None and len(reference["trades"]) > 20

    log = (tmp_path / "run1.log").open("wb")
    with log:
        first = subprocess.Popen(
            ats_command("run", str(path), "--no-ui"), env={**env, "SLOW_SMA_PAUSE": "0.0003"},
            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            assert await asyncio.to_thread(wait_for, lambda: _cursor(state, job_id) > 0, 30)
            os.kill(first.pid, signal.SIGKILL)
            assert first.wait(timeout=10) == -signal.SIGKILL
        finally:
            if first.poll() is None:
                first.kill()
    saved_at = _cursor(state, job_id)
    assert 0 < saved_at < 10_000, (tmp_path / "run1.log").read_text()

    result = await asyncio.to_thread(
        run_ats, "run", str(path), "--no-ui", "--json", "out.json", env=env, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"resuming job slow ({job_id}) from candle {saved_at:,}" in result.stdout
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["trades"] == reference["trades"]
    assert report["final_equity"] == reference["final_equity"]
    fills = (await journal_export(state, job_id))["fills"]
    payload = read_payload(state, job_id)
    assert payload is not None and payload["status"] == "finished"
    assert [f["seq"] for f in fills] == list(range(1, len(payload["exchange"]["fills"]) + 1))


def _cursor(state: Path, job_id: str) -> int:
    payload = read_payload(state, job_id)
    if payload is None or payload.get("status") != "running" or not payload.get("exchange"):
        return -1
    return int(payload["exchange"]["cursor"])
