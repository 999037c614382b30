"""The console saves and resumes its jobs: the real JobManager and the real PersistentJobs
(snapshots + journal) in a temporary saved_states directory, driven with Pilot.

Each app is wired exactly as ``ats`` wires it (:func:`ats.ui.launch.console_hooks`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from job_configs import backtest_config
from persistent_console import persistent_app, quit_app, saved_status
from ui_helpers import add_job_by_form, press, replay_config, wait_for

from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.trading_job import JobStatus
from ats.ui.app import AtsApp
from ats.ui.launch import (
    EXIT_LOCKED,
    OLD_UI_SETTINGS_NAME,
    UI_SETTINGS_NAME,
    ui_settings_path,
)
from ats.ui.screens.main import MainScreen

REPO = Path(__file__).resolve().parents[3]


async def test_a_job_created_and_started_in_the_console_resumes_after_q(
    make_app: Callable[..., AtsApp], long_data: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state)
    async with app.run_test(size=(120, 40)) as pilot:
        await add_job_by_form(pilot, "saved-job", long_data)
        (job,) = manager.jobs
        await wait_for(pilot, lambda: saved_status(state, job.id) == "created")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        await wait_for(pilot, lambda: screen.selected_job_id == job.id)
        await press(pilot, "s")
        assert job.status is JobStatus.RUNNING
        exchange = job.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: exchange.progress.done > 0)
        await quit_app(pilot, app)
    assert app.return_code == 0
    assert job.status is JobStatus.STOPPED
    stopped_at = exchange.progress.done
    assert 0 < stopped_at < 1_000_000
    assert saved_status(state, job.id) == "running"  # stopped by the quit: resume it

    again, manager2 = persistent_app(make_app, state, demo=True)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(manager2) == 1)
        (restored,) = manager2.jobs
        assert (restored.id, restored.config.name) == (job.id, "saved-job")  # no demo added
        await wait_for(pilot, lambda: restored.status is JobStatus.RUNNING)
        assert restored.exchange is not None
        assert restored.exchange.progress.done >= stopped_at  # from where it was
        assert any("restored from snapshot" in entry.message for entry in restored.logs)
        await quit_app(pilot, again)
    assert again.return_code == 0
    assert saved_status(state, job.id) == "running"


async def test_demo_jobs_are_saved_and_restored_not_duplicated(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state, demo=True)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: len(manager) == 2)
        ids = [job.id for job in manager.jobs]
        await wait_for(pilot, lambda: manager.jobs[0].status is JobStatus.FINISHED)
        saved = ["finished", "created"]
        await wait_for(pilot, lambda: [saved_status(state, i) for i in ids] == saved)
        await quit_app(pilot, app)

    again, manager2 = persistent_app(make_app, state, demo=True)
    async with again.run_test() as pilot:
        await wait_for(pilot, lambda: again.started)
        await pilot.pause(0.1)  # on purpose: no demo job may be added within it
        statuses = {job.id: job.status for job in manager2.jobs}
        assert statuses == dict(zip(ids, [JobStatus.FINISHED, JobStatus.CREATED], strict=True))
        await quit_app(pilot, again)
    assert sorted(SnapshotStore(state).job_ids()) == sorted(ids)


async def test_q_with_eight_busy_jobs_saves_them_all(
    make_app: Callable[..., AtsApp], long_data: Path, tmp_path: Path
) -> None:
    """4 backtests on 1M candles and 4 paper replays, all running: q stops them, writes
    8 snapshots saying "running" and exits (how fast: bench/quit_with_jobs.py)."""
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state)
    jobs = [manager.create(backtest_config(name=f"bt{i}", data=long_data)) for i in range(4)]
    jobs += [manager.create(replay_config(f"replay{i}", speed=50.0)) for i in range(4)]
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.started)
        for job in jobs:
            manager.start(job.id)
        # Backtests some way in: thousands of orders each, so multi-MB snapshots to write.
        await wait_for(
            pilot,
            lambda: (
                all(job.exchange and job.exchange.progress.done > 0 for job in jobs)
                and all(job.exchange and job.exchange.progress.done > 200_000 for job in jobs[:4])
            ),
            timeout=30,
        )
        assert all(job.status is JobStatus.RUNNING for job in jobs)
        took = await quit_app(pilot, app)
    print(f"q with 8 running jobs: exit after {took:.2f}s")
    assert app.return_code == 0
    assert [saved_status(state, job.id) for job in jobs] == ["running"] * 8


def test_ui_settings_move_out_of_the_snapshots_way(tmp_path: Path) -> None:
    """An older console kept ui.json beside the snapshots, where it would be listed as a
    broken job."""
    (tmp_path / OLD_UI_SETTINGS_NAME).write_text('{"theme": "ats-dark"}\n')
    path = ui_settings_path(tmp_path)
    assert path == tmp_path / UI_SETTINGS_NAME
    assert path.read_text() == '{"theme": "ats-dark"}\n'
    assert SnapshotStore(tmp_path).job_ids() == []
    # A real job whose id happens to be "ui" is left alone.
    (tmp_path / OLD_UI_SETTINGS_NAME).write_text('{"format": 1, "payload": {}}\n')
    ui_settings_path(tmp_path)
    assert (tmp_path / OLD_UI_SETTINGS_NAME).exists()


@pytest.mark.skipif(sys.platform != "linux", reason="flock semantics")
def test_console_refuses_a_state_dir_held_by_another_process(tmp_path: Path) -> None:
    """One clear line on stderr and exit 2, before Textual touches the terminal."""
    state = tmp_path / "state"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio, sys\n"
            "from ats.trading_job.job_manager import JobManager\n"
            "from ats.persistence.persistent_jobs import PersistentJobs\n"
            "from ats.utils.settings import Settings\n"
            "async def main():\n"
            f"    p = PersistentJobs(JobManager(), Settings(saved_states_dir={str(state)!r}))\n"
            "    await p.open()\n"
            "    print('locked', flush=True)\n"
            "    sys.stdin.readline()\n"
            "    await p.close()\n"
            "asyncio.run(main())\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATS_")}
        env["ATS_SAVED_STATES_DIR"] = str(state)
        result = subprocess.run(
            [sys.executable, "-m", "ats.cli"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=10)
    assert result.returncode == EXIT_LOCKED
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"pid {holder.pid}" in lines[0] and "ATS_SAVED_STATES_DIR" in lines[0]
    assert "\x1b[" not in result.stdout  # Textual never started
