"""Acceptance 1 and 3: real ``ats --no-ui`` processes killed with SIGKILL, or stopped with
SIGTERM/SIGHUP, resume to exactly the result of an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import (
    ats_command,
    ats_env,
    make_candles,
    read_payload,
    run_ats,
    settings_for,
    wait_for,
    write_candles,
)

from ats.headless.job_add import add_job
from ats.trading_job.backtest import run_backtest

pytestmark = pytest.mark.slow  # real processes, 10-20 s each

CANDLES = 6_000_000
"""Long enough for three kills at random points: the job runs on between the snapshot
that shows a point and the kill, over a million candles when the machine is busy (the
engine does ~1.5M candles/s and snapshots wait their turn)."""
JOB_ID = "crash-sma"
PARAMS = {"fast": 100, "slow": 400}


def _job_yaml(tmp_path: Path, data: Path, *, fast: int, slow: int) -> Path:
    path = tmp_path / f"{JOB_ID}.yaml"
    path.write_text(backtest_config(data, name=JOB_ID, fast=fast, slow=slow).to_yaml())
    return path


def _progressed(state: Path, before: int) -> bool:
    return _cursor(state) > before


def _paper_progressed(state: Path, beyond: int) -> bool:
    return _paper_cursor(state) > beyond


def _cursor(state: Path, job_id: str = JOB_ID) -> int:
    payload = read_payload(state, job_id)
    return -1 if payload is None else int(payload["exchange"]["cursor"])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "c6m.parquet"  # loads 3x faster than CSV
    make_candles(CANDLES, seed=11).to_frame().to_parquet(path)
    return path


async def test_kill_9_three_times_gives_the_uninterrupted_result(
    dataset: Path, tmp_path: Path
) -> None:
    reference = (await run_backtest(backtest_config(dataset, name="crash-sma", **PARAMS))).report
    assert reference is not None and len(reference["trades"]) > 100

    state = tmp_path / "state"
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.1")
    added = run_ats(
        "jobs",
        "add",
        str(_job_yaml(tmp_path, dataset, **PARAMS)),
        "--start",
        "--id",
        JOB_ID,
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    rng = random.Random()
    killed_at: list[int] = []
    for _round in range(3):
        # A random point a bit past where the last run got, then a random delay: the kill
        # can land mid-chunk, mid-snapshot or mid-commit. Taken in what is left of the data,
        # so that three rounds never aim past its end.
        done = max(_cursor(state), 0)
        target = done + int((CANDLES - done) * rng.uniform(0.05, 0.15))
        log = (tmp_path / f"run{_round}.log").open("w")
        process = subprocess.Popen(
            ats_command("--no-ui"), env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            assert wait_for(partial(_progressed, state, target), timeout=20), "no progress"
            time.sleep(rng.uniform(0.0, 0.05))
            assert process.poll() is None, "the job finished before it could be killed"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
        assert process.returncode == -signal.SIGKILL
        killed_at.append(_cursor(state))
    assert 0 < killed_at[0] < killed_at[1] < killed_at[2] < CANDLES, killed_at

    final = run_ats("--no-ui", env=env, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stdout + final.stderr
    exported = run_ats("jobs", "export", JOB_ID, "--json", env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    import json

    data = json.loads(exported.stdout)
    snapshot, journal = data["snapshot"], data["journal"]
    assert snapshot["status"] == "finished"
    report = snapshot["report"]
    assert report["final_equity"] == reference["final_equity"]
    assert report["trades"] == reference["trades"]
    assert report["metrics"] == reference["metrics"]
    # The journal holds every fill exactly once, in order, identical to the reference run.
    reference_fills = snapshot["exchange"]["fills"]
    rows = journal["fills"]
    assert [row["seq"] for row in rows] == list(range(1, len(reference_fills) + 1))
    assert [(r["order_id"], r["price"], r["amount"], r["fee"]) for r in rows] == [
        (f["order_id"], f["price"], f["amount"], f["fee"]) for f in reference_fills
    ]
    assert len(journal["trades"]) == len(reference["trades"])
    assert journal["job"]["report"]["final_equity"] == reference["final_equity"]
    restores = [line for line in journal["logs"] if "restored from snapshot" in line["message"]]
    assert len(restores) == 4  # the first start and the three restarts


REPLAY = 300_000


@pytest.fixture(scope="module")
def replay_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stop") / "replay.parquet"  # loads 3x faster than CSV
    make_candles(REPLAY, seed=5).to_frame().to_parquet(path)
    return path


def _any_cursor(state: Path, job_id: str) -> int:
    """Candles done: back_trading's cursor, or a replay feed's."""
    payload = read_payload(state, job_id)
    if payload is None:
        return -1
    exchange = payload["exchange"]
    return int(exchange["feed"]["cursor"] if "feed" in exchange else exchange["cursor"])


def _all_progressed(state: Path, before: dict[str, int]) -> bool:
    return all(_any_cursor(state, job_id) > cursor for job_id, cursor in before.items())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_graceful_stop_of_eight_jobs_saves_them(
    replay_dataset: Path, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    """Eight paper jobs on the replay feed (as fast as it goes: they share the loop
    candle by candle, so none can finish before the signal, unlike a backtest)."""
    state = tmp_path / "state"
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.5")
    settings = settings_for(state)
    ids = [f"job-{index}" for index in range(8)]
    for job_id in ids:
        config = _paper_yaml(tmp_path, replay_dataset, job_id, fast=50, slow=200)
        assert add_job(settings, config, job_id, start=True) == 0
    for _round in range(2):  # the second start resumes what the first one saved
        before = {job_id: _any_cursor(state, job_id) for job_id in ids}
        process = subprocess.Popen(
            ats_command("--no-ui"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_for(partial(_all_progressed, state, before), timeout=30), (
                "not every job made progress"
            )
            assert process.poll() is None
            process.send_signal(stop_signal)
            process.wait(timeout=10)  # a hang, not a speed limit: bench/graceful_stop.py
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
        for job_id in ids:
            payload = read_payload(state, job_id)
            assert payload is not None and payload["status"] == "running"
            assert before[job_id] < _any_cursor(state, job_id) < REPLAY


PAPER_CANDLES = 60_000


def _paper_yaml(
    tmp_path: Path, data: Path, name: str = "paper-crash", fast: int = 20, slow: int = 60
) -> Path:
    """A paper job on the replay feed at full speed (``speed: 0``)."""
    config = backtest_config(data, name=name, fast=fast, slow=slow)
    exchange = config.exchange.model_copy(
        update={"name": "paper", "params": {"feed": "replay", "data": str(data), "speed": 0}}
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(config.model_copy(update={"exchange": exchange}).to_yaml())
    return path


def _journal_rows(state: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(state / "journal.sqlite3") as db:
        return db.execute(sql, params).fetchall()


async def test_paper_kill_9_loses_and_duplicates_no_fill(tmp_path: Path) -> None:
    data = write_candles(tmp_path / "paper.csv", PAPER_CANDLES, seed=3)
    yaml_path = _paper_yaml(tmp_path, data)
    from ats.trading_job.job_config import load_job_config

    reference_job = await run_backtest(load_job_config(yaml_path))
    assert reference_job.exchange is not None
    reference = [fill.to_dict() for fill in reference_job.exchange.get_fills()]
    assert len(reference) > 300

    state = tmp_path / "state"
    env = ats_env(state, ATS_SNAPSHOT_INTERVAL_S="0.2")
    added = run_ats(
        "jobs", "add", str(yaml_path), "--start", "--id", "paper-1", env=env, cwd=tmp_path
    )
    assert added.returncode == 0, added.stderr
    rng = random.Random(7)
    for _round in range(3):
        before = _paper_cursor(state)
        process = subprocess.Popen(
            ats_command("--no-ui"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for(partial(_paper_progressed, state, before + 500), timeout=20)
            time.sleep(rng.uniform(0.0, 0.3))
            assert process.poll() is None, "the job finished before it could be killed"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
        # What a crash leaves: the journal never ahead of the snapshot, and agreeing with it.
        payload = read_payload(state, "paper-1")
        assert payload is not None
        saved = payload["exchange"]["fills"]
        assert 0 < payload["exchange"]["feed"]["cursor"] < PAPER_CANDLES
        journaled = _journal_rows(
            state,
            "SELECT seq, order_id, price, amount FROM fills WHERE job_id = 'paper-1' ORDER BY seq",
        )
        assert len(journaled) <= len(saved)
        assert (
            journaled
            == [(i + 1, f["order_id"], f["price"], f["amount"]) for i, f in enumerate(saved)][
                : len(journaled)
            ]
        )
        assert saved == reference[: len(saved)], "state after a crash is a prefix of the truth"

    final = run_ats("--no-ui", env=env, cwd=tmp_path, timeout=120)
    assert final.returncode == 0, final.stdout + final.stderr
    payload = read_payload(state, "paper-1")
    assert payload is not None and payload["status"] == "finished"
    assert payload["exchange"]["fills"] == reference
    journaled = _journal_rows(
        state,
        "SELECT seq, order_id, price, amount, fee FROM fills WHERE job_id = 'paper-1' ORDER BY seq",
    )
    assert journaled == [
        (i + 1, f["order_id"], f["price"], f["amount"], f["fee"]) for i, f in enumerate(reference)
    ]
    # Open orders and balances: journal == snapshot == the uninterrupted run.
    wallet = reference_job.exchange.get_balances()
    balances = dict(
        (asset, free + used)
        for asset, free, used in _journal_rows(
            state, "SELECT asset, free, used FROM balances WHERE job_id = 'paper-1'"
        )
    )
    assert balances == pytest.approx({asset: b.total for asset, b in wallet.items()})
    open_orders = _journal_rows(
        state,
        "SELECT order_id FROM orders WHERE job_id = 'paper-1' "
        "AND status IN ('open', 'partially_filled')",
    )
    assert sorted(o for (o,) in open_orders) == sorted(
        o.id for o in reference_job.exchange.get_open_orders()
    )
    # Logs are best effort: a kill can land between a snapshot and the commit of its batch.
    ((restores,),) = _journal_rows(
        state,
        "SELECT COUNT(*) FROM logs WHERE job_id = 'paper-1' AND message LIKE 'restored from%'",
    )
    assert 1 <= restores <= 4


def _paper_cursor(state: Path) -> int:
    payload = read_payload(state, "paper-1")
    return -1 if payload is None else int(payload["exchange"]["feed"]["cursor"])
