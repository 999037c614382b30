"""A console wired to persistence in a state directory, as ``ats`` builds it, and its q.

Shared by the persistence tests (tests/e2e/ui) and the restore-view tests
(tests/integration/ui)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ui_helpers import press, wait_for

from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_manager import JobManager
from ats.ui.app import AtsApp
from ats.ui.launch import console_hooks
from ats.utils.settings import Settings


def settings_for(state_dir: Path) -> Settings:
    return Settings(_env_file=None, saved_states_dir=state_dir)  # type: ignore[call-arg]


def persistent_app(
    make_app: Callable[..., AtsApp], state_dir: Path, **options: Any
) -> tuple[AtsApp, JobManager]:
    """A console wired to persistence in ``state_dir``, as ``ats`` builds it."""
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(state_dir))
    return make_app(manager, **console_hooks(persistence), **options), manager


def saved_status(state_dir: Path, job_id: str) -> str | None:
    payload = SnapshotStore.read(state_dir / f"{job_id}.json", job_id).payload
    return payload["status"] if payload else None


async def quit_app(pilot: Any, app: AtsApp, timeout: float = 10.0) -> float:
    """Press q and wait for the exit; seconds it took."""
    started = time.monotonic()
    await press(pilot, "q")
    await wait_for(pilot, lambda: app.return_code is not None, timeout)
    return time.monotonic() - started
