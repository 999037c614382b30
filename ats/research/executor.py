"""Where trials run: a process pool on this machine or a Ray cluster.

Both take the same tasks and return the same rows (each trial is deterministic), so a
sweep gives the same table whichever runs it; only the wall-clock time differs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Protocol

from ats.data.candles import CandleData
from ats.research.trial import TrialResult, TrialTask
from ats.trading_job.job_config import JobConfig


class TrialExecutor(Protocol):
    description: str
    """Where the trials run, for people: "2 worker processes", "Ray cluster at ..."."""
    workers: int
    """Trials it runs at once."""

    @property
    def queued(self) -> int | None:
        """Tasks each :meth:`run` hands over at a time; a task given to another run starts
        after those (None: every task at once, so another run's tasks start after them)."""
        ...

    def run(self, tasks: Sequence[TrialTask]) -> AsyncIterator[TrialResult]:
        """Run ``tasks``; yield each row as its trial finishes (in any order)."""
        ...

    def close(self) -> None: ...


def open_executor(
    base: JobConfig,
    data: CandleData,
    *,
    workers: int | None,
    ray_address: str | None,
    custom_root: Path,
    fork: bool = False,
) -> TrialExecutor:
    """A Ray executor when ``ray_address`` is given, else a pool of ``workers`` processes
    (default: one per core; ``fork``: see :class:`~ats.research.process_pool.ProcessPool`)."""
    if ray_address:
        from ats.research.ray_cluster import RayExecutor

        return RayExecutor(base, data, address=ray_address, custom_root=custom_root)
    from ats.research.process_pool import ProcessPool, default_workers

    return ProcessPool(
        base, data, workers=workers or default_workers(), custom_root=custom_root, fork=fork
    )
