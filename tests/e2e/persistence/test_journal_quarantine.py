"""Issue 14 item 3: a damaged journal is moved aside and rebuilt from the snapshots; it
never stops ATS (it used to make every ``ats --no-ui`` exit 1 with a 63-line traceback)."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import ats_env, read_payload, run_ats, settings_for, write_candles

from ats.database.journal import Journal
from ats.headless.job_add import add_job
from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_manager import JobManager

JOBS = ("first", "second")


def _damage(journal: Path, seed: int = 14) -> None:
    """8 KB of random bytes in the middle of the file, as in the issue."""
    size = journal.stat().st_size
    noise = random.Random(seed).randbytes(8192)
    with journal.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(noise)


def _quick_check(path: Path) -> str:
    try:
        with sqlite3.connect(path) as db:
            return str(db.execute("PRAGMA quick_check(1)").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc)


def _journal_fills(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT job_id, COUNT(*) FROM fills GROUP BY job_id").fetchall()
    return dict(rows)


def _summary(state: Path, job_id: str) -> tuple[Any, ...]:
    payload = read_payload(state, job_id)
    assert payload is not None
    exchange = payload["exchange"]
    return payload["status"], exchange["cursor"], len(exchange["fills"]), payload["report"]


async def _run_jobs(state: Path, data: Path, names: tuple[str, ...]) -> None:
    """A real run, in this process: the jobs are saved, journaled and finish."""
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state))
    await persistence.open()
    for name in names:
        job = manager.create(backtest_config(data, name=name, fast=10, slow=30))
        manager.start(job.id)
        await job.wait()
    await persistence.close()


async def test_a_damaged_journal_is_set_aside_and_every_job_runs(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = ats_env(state)
    data = write_candles(tmp_path / "c.csv", 20_000)
    await _run_jobs(state, data, JOBS)
    journal = state / "journal.sqlite3"
    ids = SnapshotStore(state).job_ids()
    before = {job_id: _summary(state, job_id) for job_id in ids}
    assert len(ids) == 2 and all(s[0] == "finished" and s[2] > 100 for s in before.values())

    _damage(journal)
    assert _quick_check(journal) != "ok"  # the damage is real
    config = tmp_path / "job.yaml"
    config.write_text(backtest_config(data, name="new", fast=10, slow=30).to_yaml())
    assert add_job(settings_for(state), config, "new", start=True) == 0  # runs at the next start
    for command in (("jobs", "list"), ("jobs", "show", ids[0])):  # `ats jobs` still works
        result = run_ats(*command, env=env, cwd=tmp_path)
        assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr

    run = run_ats("--no-ui", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"ats: warning: journal {journal} is damaged (")
    assert "moved to journal.sqlite3.corrupt-" in line and "nothing in them is lost" in line
    moved = sorted(path.name for path in state.glob("journal.sqlite3*"))
    (aside,) = [name for name in moved if name.startswith("journal.sqlite3.corrupt-")][:1]
    assert set(moved) <= {"journal.sqlite3", *(aside + end for end in ("", "-wal", "-shm"))}
    assert aside[len("journal.sqlite3.corrupt-") :] in line
    assert _quick_check(journal) == "ok"

    assert {job_id: _summary(state, job_id) for job_id in ids} == before  # nothing lost
    assert _summary(state, "new")[:3] == before[ids[0]][:3]  # the new job ran
    everyone = (*ids, "new")
    assert _journal_fills(journal) == {job_id: _summary(state, job_id)[2] for job_id in everyone}
    listed = run_ats("jobs", "list", "--json", env=env, cwd=tmp_path)
    statuses = {row["job_id"]: row["status"] for row in json.loads(listed.stdout)}
    assert statuses == dict.fromkeys(everyone, "finished")
    shown = run_ats("jobs", "show", ids[0], env=env, cwd=tmp_path).stdout
    assert f"moved to {aside}" in shown  # in the job's log too


async def test_a_journal_found_damaged_while_restoring_is_set_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """quick_check can pass while a read still says "malformed" (index contents are not
    checked): the restore moves the journal aside then and rebuilds every job's rows."""
    state = tmp_path / "state"
    await _run_jobs(state, write_candles(tmp_path / "c.csv", 3_000), JOBS)

    real_reconcile = Journal.reconcile
    calls = 0

    async def reconcile_once_malformed(self: Journal, job: Any) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls == 2:  # the second job: the first one was already reconciled
            raise sqlite3.DatabaseError("database disk image is malformed")
        return await real_reconcile(self, job)

    monkeypatch.setattr(Journal, "reconcile", reconcile_once_malformed)
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state))
    await persistence.open()
    try:
        (notice,) = persistence.notices
        assert "database disk image is malformed" in notice and "moved to" in notice
        assert len(list(state.glob("journal.sqlite3.corrupt-*"))) == 1
        assert persistence.journal is not None
        for job in manager:
            assert len(await persistence.journal.fills(job.id)) == len(job.exchange.get_fills())
            assert any("is damaged" in line.message for line in job.logs)
    finally:
        await persistence.close()
