"""The console benchmarks' journal, snapshots and control API (its unix socket, serving
like every console's), set up as ``ats`` does (ats.ui.launch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ats.trading_job.job_manager import JobManager


def persistence_hooks(manager: JobManager, state_dir: Path) -> dict[str, Any]:
    """AtsApp keyword arguments that save ``manager``'s jobs under ``state_dir`` and serve
    them on ``state_dir/ats.sock`` from the restore on."""
    from ats.apis.listen import bind_for
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.ui.launch import console_hooks
    from ats.utils.settings import Settings

    settings = Settings(_env_file=None, saved_states_dir=state_dir)  # type: ignore[call-arg]
    listening = bind_for(settings)
    return dict(console_hooks(PersistentJobs(manager, settings), listening=listening))
