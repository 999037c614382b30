"""What a :class:`~ats.trading_job.local_control.LocalJobControl` needs of the sweeps it
serves beside the JobManager's jobs.

Sweeps are run by ``ats.research`` (a client of the engine, which the engine never
imports): the console's composition root hands the control an object with this shape,
and the control routes a sweep's id to it. Every view it returns is built there, from
the sweep's own trials (:mod:`ats.trading_job.sweep_views`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from ats.trading_job.job_config import JobConfig
    from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
    from ats.trading_job.views import JobView, LogPage

PromoteMode = Literal["backtest", "paper"]


class SweepHost(Protocol):
    def __contains__(self, sweep_id: object) -> bool: ...

    def ids(self) -> list[str]:
        """Every sweep, oldest first."""

    def job_view(self, sweep_id: str) -> JobView:
        """The sweep's row, as a job's (mode ``sweep``, with its ``sweep`` summary)."""

    def config(self, sweep_id: str) -> JobConfig:
        """The job every trial starts from."""

    def log_page(self, sweep_id: str, after: int | None) -> LogPage: ...

    def specs(self) -> list[str]:
        """Sweep specs (``*.sweep.yaml``) a new sweep could be created from."""

    def create(self, spec: str) -> str:
        """A new sweep from the YAML spec at ``spec`` (ConfigError naming the file)."""

    def start(self, sweep_id: str) -> None: ...

    def stop(self, sweep_id: str) -> None: ...

    async def delete(self, sweep_id: str) -> None: ...

    def sweep_view(self, sweep_id: str) -> SweepView: ...

    def trial_page(
        self, sweep_id: str, sort: str, descending: bool | None, offset: int, limit: int
    ) -> TrialPage: ...

    def heatmap(self, sweep_id: str, x: str | None, y: str | None) -> SweepHeatmap: ...

    def trial_config(self, sweep_id: str, trial: int, mode: PromoteMode) -> JobConfig:
        """A job config running trial ``trial``'s parameters (a backtest or paper job)."""
