"""PersistentJobs in-process: resume, bad state, unknown strategy, delete, quit."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import eventually, make_candles, read_payload, settings_for, write_candles

from ats.persistence.directory_lock import StateDirLocked
from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_candles(tmp_path_factory.mktemp("data") / "c400k.csv", 400_000)


def _progress(job: TradingJob) -> int:
    return job.exchange.progress.done if job.exchange is not None else 0


async def _run_until(job: TradingJob, candles_done: int) -> None:
    while _progress(job) < candles_done:
        assert job.task is not None and not job.task.done(), "job ended too early"
        await asyncio.sleep(0.001)


def _outcome(job: TradingJob) -> tuple[list[Any], float]:
    assert job.exchange is not None
    trades = [trade.to_dict() for trade in job.exchange.get_trades()]
    return trades, job.exchange.equity()


async def _open(state: Path, **overrides: Any) -> tuple[JobManager, PersistentJobs]:
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state, **overrides))
    await persistence.open()
    return manager, persistence


async def test_quit_and_resume_gives_the_uninterrupted_result(
    candles: Path, tmp_path: Path
) -> None:
    config = backtest_config(candles, fast=10, slow=30)
    reference = _outcome(await run_backtest(config))
    state = tmp_path / "state"

    for stop_at in (30_000, 70_000):
        manager, persistence = await _open(state)
        if not len(manager):
            job = manager.create(config, job_id="resume-1")
            manager.start(job.id)
        else:
            assert persistence.resumable == {"resume-1": "running"}
            persistence.resume()
            job = manager.get("resume-1")
            assert _progress(job) > 0
        await _run_until(job, stop_at)
        await persistence.on_quit()
        payload = SnapshotStore.read(state / "resume-1.json", "resume-1").payload
        assert payload is not None and payload["status"] == "running"
        assert payload["exchange"]["cursor"] >= stop_at

    manager, persistence = await _open(state)
    job = manager.get("resume-1")
    assert job.status is JobStatus.CREATED and _progress(job) >= 70_000
    persistence.resume()
    await job.wait()
    assert job.status is JobStatus.FINISHED
    assert _outcome(job) == reference
    assert persistence.journal is not None
    await persistence.journal.flush()
    fills = await persistence.journal.fills(job.id)
    assert job.exchange is not None
    assert [(f["seq"], f["price"]) for f in fills] == [
        (i + 1, fill.price) for i, fill in enumerate(job.exchange.get_fills())
    ]
    logs = [line["message"] for line in await persistence.journal.logs(job.id)]
    assert sum("restored from snapshot" in message for message in logs) == 2
    await persistence.close()


async def test_new_jobs_are_saved_and_deleted_jobs_forgotten(candles: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    manager, persistence = await _open(state)
    job = manager.create(backtest_config(candles, name="keep"))
    gone = manager.create(backtest_config(candles, name="gone"))
    # Saved and deleted by PersistentJobs' watcher on the events, in worker threads: wait
    # for the files, not a fixed time (0.2 s was too short on a loaded machine).
    await eventually(lambda: len(SnapshotStore(state).job_ids()) == 2)
    assert sorted(SnapshotStore(state).job_ids()) == sorted([job.id, gone.id])
    await manager.delete(gone.id)
    await eventually(lambda: len(SnapshotStore(state).job_ids()) == 1)
    assert SnapshotStore(state).job_ids() == [job.id]
    assert persistence.journal is not None
    await persistence.journal.flush()
    assert await persistence.journal.job(gone.id) is None
    await persistence.close()

    manager, persistence = await _open(state)
    assert [j.id for j in manager] == [job.id]
    assert manager.get(job.id).status is JobStatus.CREATED
    assert persistence.resumable == {}
    await persistence.close()


async def test_unknown_strategy_marks_only_that_job_error(candles: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    manager, persistence = await _open(state)
    good = manager.create(backtest_config(candles, name="good"))
    bad = manager.create(backtest_config(candles, name="bad"))
    await persistence.close()
    store = SnapshotStore(state)
    payload = store.candidates(bad.id)[0].payload
    assert payload is not None
    payload["config"]["strategy"]["name"] = "vanished_strategy"
    store.save(bad.id, payload)
    before = store.path(bad.id).read_bytes()

    manager, persistence = await _open(state)
    assert manager.get(good.id).status is JobStatus.CREATED
    failed = manager.get(bad.id)
    assert failed.status is JobStatus.ERROR
    assert failed.error is not None and "vanished_strategy" in failed.error
    await persistence.snapshot_all(force=True)
    await persistence.close()
    assert store.path(bad.id).read_bytes() == before, "a job that failed to load keeps its file"


async def _saved_twice(candles: Path, state: Path) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A job with a current snapshot and a different previous good copy."""
    manager, persistence = await _open(state)
    job = manager.create(backtest_config(candles, fast=10, slow=30))
    manager.start(job.id)
    await _run_until(job, 20_000)
    earlier = persistence.payload(job)
    await _run_until(job, 50_000)
    await persistence.on_quit()
    store = SnapshotStore(state)
    later = store.candidates(job.id)[0].payload
    assert later is not None
    store.mark_good(job.id)
    store.save(job.id, earlier)
    store.save(job.id, later)
    current, backup = store.candidates(job.id)
    assert current.payload == later and backup.payload == earlier
    assert later["exchange"]["cursor"] > earlier["exchange"]["cursor"]
    return job.id, later, earlier


async def test_corrupt_snapshot_falls_back_to_previous_copy(candles: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    job_id, _current, backup = await _saved_twice(candles, state)
    path = SnapshotStore(state).path(job_id)
    path.write_bytes(path.read_bytes()[:-500])  # truncated

    manager, persistence = await _open(state)
    job = manager.get(job_id)
    assert job.status is JobStatus.CREATED
    assert job.exchange is not None
    assert job.snapshot()["exchange"]["cursor"] == backup["exchange"]["cursor"]
    assert job.snapshot()["exchange"]["wallet"] == backup["exchange"]["wallet"]
    warnings = [log.message for log in job.logs if log.level == "WARNING"]
    assert any("truncated" in w and "previous good copy" in w for w in warnings)
    assert persistence.resumable == {job_id: "running"}
    await persistence.close()


async def test_both_copies_bad_keeps_the_job_visible_in_error(
    candles: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    job_id, _current, _backup = await _saved_twice(candles, state)
    store = SnapshotStore(state)
    store.path(job_id).write_text("{ not json")
    store.backup_path(job_id).write_bytes(b"\x00\x01garbage")

    manager, persistence = await _open(state)
    job = manager.get(job_id)
    assert job.status is JobStatus.ERROR
    assert job.error is not None and "no usable snapshot" in job.error
    assert job.config.strategy.name == "sma_cross", "config recovered from the journal"
    assert persistence.resumable == {}
    await persistence.close()
    assert store.path(job_id).read_text() == "{ not json"


async def test_edited_numbers_with_a_fixed_checksum_are_refused(
    candles: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    job_id, current, backup = await _saved_twice(candles, state)
    edited = json.loads(json.dumps(current))
    edited["exchange"]["wallet"]["free"]["USDT"] += 1_000.0
    SnapshotStore(state).save(job_id, edited)  # a valid envelope around wrong numbers

    manager, persistence = await _open(state)
    job = manager.get(job_id)
    assert job.exchange is not None
    assert job.snapshot()["exchange"]["wallet"] == backup["exchange"]["wallet"]
    assert any("wallet USDT" in log.message for log in job.logs if log.level == "WARNING")
    await persistence.close()


async def test_quit_with_eight_running_jobs_saves_them_running(tmp_path: Path) -> None:
    """How fast is bench/quit_with_jobs.py's (against the 2 s target)."""
    candles = tmp_path / "c1m.parquet"
    make_candles(1_000_000).to_frame().to_parquet(candles)
    state = tmp_path / "state"
    manager, persistence = await _open(state)
    jobs = [manager.create(backtest_config(candles, name=f"job{i}")) for i in range(8)]
    for job in jobs:
        manager.start(job.id)
    for job in jobs:
        await _run_until(job, 1)
    await asyncio.sleep(0.3)
    await persistence.on_quit()
    for job in jobs:
        payload = SnapshotStore.read(state / f"{job.id}.json", job.id).payload
        assert payload is not None and payload["status"] == "running"
        assert 0 < payload["exchange"]["cursor"] < 1_000_000


async def test_a_second_process_cannot_use_the_same_directory(tmp_path: Path) -> None:
    state = tmp_path / "state"
    _manager, persistence = await _open(state)
    with pytest.raises(StateDirLocked, match="in use by another ATS process"):
        await _open(state)
    await persistence.close()
    _manager, again = await _open(state)
    await again.close()


async def test_paused_job_is_restored_paused(candles: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    manager, persistence = await _open(state)
    job = manager.create(backtest_config(candles))
    manager.start(job.id)
    await _run_until(job, 10_000)
    manager.pause(job.id)
    await persistence.on_quit()

    manager, persistence = await _open(state)
    assert persistence.resumable == {job.id: "paused"}
    persistence.resume()
    assert manager.get(job.id).status is JobStatus.PAUSED
    await persistence.on_quit()
    payload = SnapshotStore.read(state / f"{job.id}.json", job.id).payload
    assert payload is not None and payload["status"] == "paused"


async def test_console_hooks_resume_what_the_quit_stopped(candles: Path, tmp_path: Path) -> None:
    """The console's order: before_stop, it stops the jobs itself, then on_quit."""
    state = tmp_path / "state"
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state))
    assert await persistence.start() == []
    running = manager.create(backtest_config(candles, name="running"))
    stopped = manager.create(backtest_config(candles, name="stopped-by-user"))
    manager.start(stopped.id)
    await _run_until(stopped, 1)
    manager.stop(stopped.id)
    await stopped.wait()
    # Started last and shut down as soon as it has progressed: on a slow machine a job
    # started earlier could finish its 400k candles first and rightly not be resumed.
    manager.start(running.id)
    await _run_until(running, 1)
    assert running.status is JobStatus.RUNNING

    persistence.begin_shutdown()  # before_stop
    await manager.stop_all()  # what the console does itself
    await persistence.on_quit()

    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state))
    assert await persistence.start() == [running.id]
    assert manager.get(stopped.id).status is JobStatus.STOPPED
    await persistence.on_quit()


async def test_a_report_with_nan_metrics_is_saved_with_nulls(tmp_path: Path) -> None:
    """A finished job's snapshot (encoded off the loop) stores NaN/inf metrics as null and
    keeps every finite one."""
    data = write_candles(tmp_path / "c5k.csv", 5_000)
    state = tmp_path / "state"
    manager, persistence = await _open(state)
    job = manager.create(backtest_config(data, fast=10, slow=30))
    manager.start(job.id)
    await job.wait()
    assert job.report is not None
    saved_as_null = ("sharpe", "profit_factor")
    job.report = {**job.report, "sharpe": float("nan"), "profit_factor": float("inf")}
    assert await persistence.snapshot(job.id, force=True)
    await persistence.close()
    saved = read_payload(state, job.id)
    assert saved is not None and saved["status"] == "finished"
    assert saved["report"]["sharpe"] is None and saved["report"]["profit_factor"] is None
    finite = {key: value for key, value in job.report.items() if key not in saved_as_null}
    assert {key: saved["report"][key] for key in finite} == json.loads(json.dumps(finite))
