"""Acceptance 4: fuzzing the loader. Truncated, garbled, wrong-version and hand-edited
snapshots never crash ATS and never load wrong numbers silently: a job either gets the
numbers of its current snapshot, or those of the previous good copy with a WARNING in its
log, or stays visible in the error state."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from job_configs import backtest_config
from persist_helpers import settings_for, write_candles

from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob

JOB_ID = "fuzz-1"


def _numbers(payload: dict[str, Any]) -> dict[str, Any]:
    """What must never be wrong: money, orders, fills, position in the data, strategy state."""
    exchange = payload["exchange"]
    return {
        "wallet": exchange["wallet"],
        "orders": exchange["orders"],
        "fills": exchange["fills"],
        "cursor": exchange["cursor"],
        "strategy_state": payload["strategy_state"],
    }


def _loaded_numbers(job: TradingJob) -> dict[str, Any]:
    assert job.exchange is not None and job.strategy is not None
    return _numbers(
        {"exchange": job.snapshot()["exchange"], "strategy_state": job.strategy.state.to_dict()}
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory whose job has a current snapshot and a different previous copy."""
    root = tmp_path_factory.mktemp("fuzz")
    data = write_candles(root / "c.csv", 200_000, seed=9)
    state = root / "state"

    async def build() -> None:
        manager = JobManager()
        persistence = PersistentJobs(manager, settings_for(state))
        await persistence.open()
        job = manager.create(backtest_config(data, fast=10, slow=30), job_id=JOB_ID)
        manager.start(job.id)
        assert job.exchange is not None
        while job.exchange.progress.done < 1:
            await asyncio.sleep(0)
        earlier = persistence.payload(job)
        done = job.exchange.progress.done
        while job.exchange.progress.done == done:
            await asyncio.sleep(0)
        await persistence.on_quit()
        store = SnapshotStore(state)
        later = store.candidates(JOB_ID)[0].payload
        assert later is not None and _numbers(later) != _numbers(earlier)
        store.mark_good(JOB_ID)
        store.save(JOB_ID, earlier)
        store.save(JOB_ID, later)

    asyncio.run(build())
    return state


def _load(state: Path) -> tuple[TradingJob, bool]:
    """Open the directory like ATS does; returns the job and whether open() raised."""

    async def run() -> TradingJob:
        manager = JobManager()
        persistence = PersistentJobs(manager, settings_for(state, journal_enabled=False))
        await persistence.open()
        try:
            return manager.get(JOB_ID)
        finally:
            await persistence.close()

    return asyncio.run(run()), False


def _reencode(envelope_text: str, mutate: Any) -> bytes:
    """Apply ``mutate`` to the payload and write a *valid* envelope (checksum fixed)."""
    payload = json.loads(envelope_text)["payload"]
    mutate(payload)
    return SnapshotStore.encode(JOB_ID, payload)


_MONEY_PATHS = [
    ("wallet", "free", "USDT"),
    ("wallet", "free", "BTC"),
    ("fills", 0, "price"),
    ("fills", 0, "amount"),
    ("fills", -1, "fee"),
    ("orders", 0, "filled"),
    ("orders", -1, "filled"),
]


def _set_path(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> bool:
    node: Any = payload["exchange"]
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(node, dict) and path[-1] not in node:
        return False
    try:
        node[path[-1]] = value
    except (IndexError, TypeError):
        return False
    return True


mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 0.999)),
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 255)), min_size=1, max_size=5),
    ),
    st.tuples(
        st.just("version"), st.sampled_from(["0", "-1", "2", "99", '"1"', "null", "1.0", "true"])
    ),
    st.tuples(
        st.just("edit_number"),
        st.integers(0, 10_000),
        st.sampled_from(["0", "1e308", "-5", "7.77"]),
    ),
    st.tuples(
        st.just("money"), st.sampled_from(_MONEY_PATHS), st.floats(-1e6, 1e6, allow_nan=False)
    ),
    st.tuples(
        st.just("retype"),
        st.sampled_from([*_MONEY_PATHS, ("cursor",), ("next_order_id",)]),
        st.sampled_from(["x", None, [], {}, True, -1]),
    ),
    st.tuples(
        st.just("drop"),
        st.sampled_from(
            [
                ("cursor",),
                ("wallet",),
                ("fills",),
                ("orders",),
                ("wallet", "holds"),
                ("fills", 0, "taker"),
                ("orders", 0, "side"),
                ("next_order_id",),
            ]
        ),
    ),
)


def _mutate(text: str, mutation: tuple[Any, ...]) -> bytes:
    kind = mutation[0]
    raw = text.encode("utf-8")
    if kind == "truncate":
        return raw[: int(len(raw) * mutation[1])]
    if kind == "flip":
        data = bytearray(raw)
        for where, value in mutation[1]:
            data[int(len(data) * where)] = value
        return bytes(data)
    if kind == "version":
        return text.replace('"version":1', f'"version":{mutation[1]}', 1).encode()
    if kind == "edit_number":  # a hand edit in a text editor: the checksum is left as it was
        numbers = list(re.finditer(r"(?<=[:\[,])-?\d+\.\d+", text))
        target = numbers[mutation[1] % len(numbers)]
        return (text[: target.start()] + mutation[2] + text[target.end() :]).encode()
    if kind == "money":

        def set_money(payload: dict[str, Any]) -> None:
            node: Any = payload["exchange"]
            path = mutation[1]
            for key in path[:-1]:
                node = node[key]
            old = node.get(path[-1], 0.0)
            assume(abs(mutation[2] - old) > 1e-3 * max(abs(old), 1.0))
            node[path[-1]] = mutation[2]

        return _reencode(text, set_money)
    if kind == "retype":
        return _reencode(text, lambda p: assume(_set_path(p, mutation[1], mutation[2])))
    if kind == "drop":

        def drop(payload: dict[str, Any]) -> None:
            node: Any = payload["exchange"]
            for key in mutation[1][:-1]:
                node = node[key]
            assume(mutation[1][-1] in node)
            del node[mutation[1][-1]]

        return _reencode(text, drop)
    raise AssertionError(kind)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=mutations, break_backup=st.booleans())
def test_mutated_snapshots_never_load_wrong_numbers(
    pristine: Path, mutation: tuple[Any, ...], break_backup: bool
) -> None:
    store = SnapshotStore(pristine)
    current_text = store.path(JOB_ID).read_text()
    current = json.loads(current_text)["payload"]
    backup = json.loads(store.backup_path(JOB_ID).read_text())["payload"]
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state"
        shutil.copytree(pristine, state)
        mutated = _mutate(current_text, mutation)
        (state / f"{JOB_ID}.json").write_bytes(mutated)
        if break_backup:
            (state / f"{JOB_ID}.json.bak").write_bytes(mutated[: len(mutated) // 3])

        job, _ = _load(state)  # must not raise, whatever the files hold

        event(f"{mutation[0]}: {job.status}")
        if job.status is JobStatus.ERROR:
            assert job.error and "snapshot" in job.error
            assert (state / f"{JOB_ID}.json").read_bytes() == mutated, "evidence kept"
            return
        numbers = _loaded_numbers(job)
        warned = any(
            log.level == "WARNING" and "previous good copy" in log.message for log in job.logs
        )
        event(f"{mutation[0]}: {'current' if numbers == _numbers(current) else 'backup'}")
        if numbers == _numbers(current):
            assert mutation[0] not in ("money",), "a money edit was accepted"
        else:
            assert not break_backup
            assert numbers == _numbers(backup), f"wrong numbers loaded after {mutation!r}"
            assert warned, "fell back to the previous copy without a warning"


def test_the_pristine_state_loads_the_current_numbers(pristine: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state"
        shutil.copytree(pristine, state)
        job, _ = _load(state)
    current = json.loads((pristine / f"{JOB_ID}.json").read_text())["payload"]
    assert job.status is JobStatus.CREATED
    assert _loaded_numbers(job) == _numbers(current)
    assert not [log for log in job.logs if log.level == "WARNING"]
