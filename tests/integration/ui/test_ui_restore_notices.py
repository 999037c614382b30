"""Issue 14 items 3 and 4 in the console: a damaged journal set aside and a job resumed
from its previous good snapshot are both notified at start, and the job's row says it.

The app is wired as ``ats`` wires it (:func:`ats.ui.launch.console_hooks`)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from job_configs import backtest_config
from ui_helpers import press, screen_text, wait_for, write_candles

from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_manager import JobManager
from ats.trading_job.view_builder import view_of
from ats.ui.app import AtsApp
from ats.ui.job_view import job_row
from ats.ui.launch import console_hooks
from ats.utils.settings import Settings


def settings_for(state_dir: Path) -> Settings:
    return Settings(_env_file=None, saved_states_dir=state_dir)  # type: ignore[call-arg]


async def _save_a_finished_job(state: Path, data: Path) -> str:
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state))
    await persistence.open()
    job = manager.create(backtest_config(data, name="rolled", fast=10, slow=30))
    manager.start(job.id)
    await job.wait()
    await persistence.close()
    return job.id


def _break_current_snapshot(state: Path, job_id: str) -> None:
    """Well-formed and checksummed, but a strategy state the restore refuses."""
    store = SnapshotStore(state)
    payload = store.read(store.path(job_id), job_id).payload
    assert payload is not None
    payload["strategy_state"] = {"prev_diff": "not a number"}
    store.write(job_id, SnapshotStore.encode(job_id, payload))


def _damage_journal(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(random.Random(14).randbytes(8192))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA quick_check(1)").fetchone()[0] != "ok"


async def test_the_console_says_what_was_restored_from_where(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    job_id = await _save_a_finished_job(state, write_candles(tmp_path / "c.parquet", 20_000))
    _break_current_snapshot(state, job_id)
    _damage_journal(state / "journal.sqlite3")

    manager = JobManager()
    app = make_app(manager, **console_hooks(PersistentJobs(manager, settings_for(state))))
    notices: list[tuple[str, dict[str, Any]]] = []
    notify = app.notify

    def recording(message: str, **options: Any) -> None:
        notices.append((message, options))
        notify(message, **options)

    app.notify = recording  # type: ignore[method-assign]
    async with app.run_test(size=(200, 30)) as pilot:
        await wait_for(pilot, lambda: app.started)
        messages = [message for message, _ in notices]
        assert any("is damaged" in m and "journal.sqlite3.corrupt-" in m for m in messages)
        assert any(
            m.startswith(f"job rolled ({job_id}) resumed from the previous good copy")
            for m in messages
        )
        assert all(options.get("severity") == "warning" for _, options in notices)
        row = job_row(view_of(manager.get(job_id)))
        assert row.note is not None and row.note.startswith("resumed from the previous good")
        await wait_for(pilot, lambda: "resumed from the previous" in screen_text(app))
        await press(pilot, "q")
        await wait_for(pilot, lambda: app.return_code is not None, 10)
