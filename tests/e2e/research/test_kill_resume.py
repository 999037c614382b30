"""Acceptance: kill -9 a 100-trial sweep, rerun it: nothing finished is computed again,
and the table equals an uninterrupted run's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from research_helpers import optimize

GRID = ["--param", "fast=2:20:2", "--param", "slow=30:300:30"]  # 10 x 10 = 100 trials


def _journal_rows(journal: Path) -> list[tuple[int, str, int, float]]:
    if not journal.exists():
        return []
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
        try:
            return db.execute(
                "SELECT number, row, run_id, finished_at FROM trials ORDER BY number"
            ).fetchall()
        except sqlite3.OperationalError:  # created but no table yet
            return []


def _shared_blocks() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith("psm_")}


def _mapped_blocks(pid: int) -> set[str]:
    """The shared memory blocks ``pid`` and its children have mapped: the sweep's own,
    not those of a sweep another test (or another test worker) runs at the same time.
    Read from /proc/PID/maps, which is quick: the sweep is killed right after."""
    found = set()
    pids = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    for one in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/maps").read_text().splitlines():
                path = line.split(maxsplit=5)[-1]
                if path.startswith("/dev/shm/psm_"):
                    found.add(Path(path).name)
    return found


def _group_gone(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_kill_9_then_rerun_finishes_without_recomputing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, candles_5k: Path
) -> None:
    data = candles_5k
    state = tmp_path / "state"
    journal = state / "research.sqlite3"
    out = tmp_path / "resumed.json"
    command = [sys.executable, "-m", "ats.cli", "optimize", "--strategy", "sma_cross"]
    command += ["--data", str(data), *GRID, "--quiet", "--json", str(out)]
    env = {**os.environ, "ATS_SAVED_STATES_DIR": str(state)}

    sweep = subprocess.Popen([*command, "--workers", "1"], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(_journal_rows(journal)) < 10:
            assert sweep.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # Freeze the sweep first: on a loaded machine it could finish all 100 trials
        # while its memory maps are read. Then kill the parent; the workers, let run
        # again, must see it gone and exit.
        os.killpg(sweep.pid, signal.SIGSTOP)
        ours = _mapped_blocks(sweep.pid)
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sweep.pid, signal.SIGCONT)
        assert _group_gone(sweep.pid, 10), "workers outlived their killed parent"
        # The command forks its workers: they read its candles, no block is made to leak.
        assert not ours, "a forked sweep copied its candles into shared memory"
    finally:
        if not _group_gone(sweep.pid, 0):
            os.killpg(sweep.pid, signal.SIGKILL)
    before = _journal_rows(journal)
    assert 10 <= len(before) < 100
    assert {run_id for _, _, run_id, _ in before} == {1}

    rerun = subprocess.run([*command, "--workers", "2"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    after = _journal_rows(journal)
    assert len(after) == 100
    assert set(before) <= set(after)  # the killed run's rows are untouched
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT run_id, computed FROM runs ORDER BY run_id").fetchall()
    assert runs == [(1, len(before)), (2, 100 - len(before))]  # nothing computed twice

    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "fresh-state"))
    uninterrupted = optimize(tmp_path / "uninterrupted.json", *command[4:-3], "--workers", "2")
    resumed = json.loads(out.read_text())
    assert resumed == uninterrupted
    assert len(resumed["trials"]) == 100


FORK_SERVER_POOL = """
import asyncio, sys, threading
from pathlib import Path
from ats.data.candle_readers import load_candles
from ats.research.process_pool import ProcessPool
from ats.research.trial import TrialTask
from ats.trading_job.job_config import parse_job_config

threading.Thread(target=threading.Event().wait, daemon=True).start()  # a console has threads
data = Path(sys.argv[1])
base = parse_job_config({
    "name": "console-sweep", "strategy": {"name": "sma_cross", "params": {}},
    "exchange": {"name": "back_trading", "params": {"data": str(data)}},
})
pool = ProcessPool(base, load_candles(data), workers=2, custom_root=Path("custom_modules"))

async def one_trial():
    return [row async for row in pool.run([TrialTask(0, {"fast": 5, "slow": 30})])]

asyncio.run(one_trial())
print(pool._pool._mp_context.get_start_method(), flush=True)
threading.Event().wait()
"""


def test_kill_9_of_a_process_with_a_fork_server_pool_frees_its_shared_memory(
    candles_5k: Path,
) -> None:
    """A process with threads (the console) starts its workers from a fork server and
    hands them the candles in shared memory: killed, it must not leave the block behind
    (multiprocessing's resource tracker unlinks it) nor its workers running."""
    process = subprocess.Popen(
        [sys.executable, "-c", FORK_SERVER_POOL, str(candles_5k)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "forkserver"
        blocks = _mapped_blocks(process.pid)
        assert len(blocks) == 1, blocks
        workers = [child.pid for child in psutil.Process(process.pid).children(recursive=True)]
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while blocks & _shared_blocks() or any(psutil.pid_exists(pid) for pid in workers):
            assert time.monotonic() < deadline, "the block or a worker outlived the process"
            time.sleep(0.05)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
