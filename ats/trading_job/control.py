"""JobControl: the one command-and-query surface every front end drives jobs through.

The console (and, with issue 11, ``ats attach``, ``ats web`` and the control API) never
holds a job: it keeps job ids, asks for views (:mod:`ats.trading_job.views`), sends
commands, and watches coalesced change summaries
(:class:`~ats.trading_job.change_feed.Changes`). Everything crosses this surface as plain
data, so one implementation works in the same process
(:class:`~ats.trading_job.local_control.LocalJobControl`, over the JobManager) and
another can work over a socket without touching the UI.

Queries and commands are coroutines (a remote one waits for an answer); the in-process
implementation answers without yielding, so awaiting it costs the console's latency
nothing. Commands raise :class:`~ats.exceptions.ATSError` (JobError, ConfigError…) with a
one-line message a front end can show as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ats.trading_job.change_feed import Deliver
from ats.trading_job.sweep_host import PromoteMode
from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
from ats.trading_job.views import (
    ChartWindow,
    EquityCurve,
    FillPage,
    JobView,
    LogPage,
    ParamField,
    PluginInfo,
    TradePage,
)

if TYPE_CHECKING:
    from ats.trading_job.job_config import JobConfig


class Watch(Protocol):
    """A running subscription to change summaries (see :meth:`JobControl.watch`)."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None:
        """Subscribe now (nothing published after this call is missed) and deliver."""

    async def stop(self) -> None: ...


class JobControl(Protocol):
    """Queries, commands and change summaries of a job manager, by job id."""

    # -- queries: jobs ---------------------------------------------------------------------
    async def job_ids(self) -> list[str]:
        """Every job, in the manager's order."""

    async def jobs(self) -> list[JobView]:
        """Every job's view, in the manager's order."""

    async def job(self, job_id: str) -> JobView:
        """One job's view; JobError if there is no such job."""

    async def views(self, job_ids: Iterable[str]) -> list[JobView]:
        """The views of those of ``job_ids`` that exist, in that order."""

    async def job_config(self, job_id: str) -> JobConfig:
        """The job's config, as the form edits it."""

    async def chart_window(
        self, job_id: str, bars: int, factor: int = 1, offset: int = 0, around: int | None = None
    ) -> ChartWindow:
        """``bars`` bars of ``factor`` candles, ``offset`` bars back from the latest, or
        centred on the time ``around`` (ms; the Trades pane shows a trade so); the window
        says the offset it shows."""

    async def equity_curve(self, job_id: str, points: int) -> EquityCurve:
        """The equity curve thinned to about ``points`` samples."""

    async def logs(self, job_id: str, after: int | None = None) -> LogPage:
        """The job's kept log lines after line number ``after`` (all when None)."""

    async def trades(self, job_id: str, offset: int = 0, limit: int = 100) -> TradePage:
        """Round trips, newest first."""

    async def fills(self, job_id: str, offset: int = 0, limit: int = 100) -> FillPage:
        """Fills, newest first."""

    # -- queries: what a new job can be made of --------------------------------------------
    async def plugins(self, kind: str) -> list[PluginInfo]:
        """Plugins of ``kind`` (strategies, exchanges, fees…), broken ones marked."""

    async def strategy_params(self, strategy: str) -> list[ParamField]:
        """The strategy's parameters; ATSError if it cannot be loaded."""

    async def check_strategy_params(self, strategy: str, params: dict[str, Any]) -> None:
        """ConfigError naming the field if the strategy refuses ``params``."""

    async def data_files(self) -> list[str]:
        """Candle files a job could replay (the demo's, ``./data``)."""

    async def check_data_file(self, path: str) -> str | None:
        """Why the candle file at ``path`` cannot be used (one line), or None."""

    # -- commands ----------------------------------------------------------------------------
    async def create(self, config: JobConfig) -> str:
        """A new job (built now, so a bad config fails here); returns its id."""

    async def edit(self, job_id: str, config: JobConfig) -> str:
        """Replace a stopped job's config; returns its id."""

    async def start(self, job_id: str) -> None: ...

    async def stop(self, job_id: str) -> None: ...

    async def toggle(self, job_id: str) -> None:
        """Start a job that is not running, stop one that is."""

    async def pause(self, job_id: str) -> None: ...

    async def resume(self, job_id: str) -> None: ...

    async def toggle_pause(self, job_id: str) -> None: ...

    async def reload(self, job_id: str) -> None:
        """Re-import the strategy code, keeping its state."""

    async def delete(self, job_id: str) -> None:
        """Stop (and wait for) a running job, then remove it."""

    async def set_speed(self, job_id: str, factor: float) -> float:
        """Set a replay's pace; returns the speed now in force."""

    async def kill_switch(self) -> int:
        """Cancel every open order of every live job; returns how many."""

    # -- sweeps (a sweep's id also works with job, views, logs, start, stop, delete) ---------
    async def sweep_specs(self) -> list[str]:
        """Sweep specs (``*.sweep.yaml``) a new sweep could be created from."""

    async def create_sweep(self, spec: str) -> str:
        """A new sweep job from the YAML spec ``ats optimize`` reads; returns its id."""

    async def sweep(self, sweep_id: str) -> SweepView: ...

    async def sweep_trials(
        self,
        sweep_id: str,
        sort: str = "objective",
        descending: bool | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> TrialPage:
        """Trials sorted by ``sort`` (any metric); ``descending`` None: best first."""

    async def sweep_heatmap(
        self, sweep_id: str, x: str | None = None, y: str | None = None
    ) -> SweepHeatmap:
        """The objective over params ``x`` and ``y`` (None: the first two)."""

    async def trial_job_config(
        self, sweep_id: str, trial: int, mode: PromoteMode = "backtest"
    ) -> JobConfig:
        """A backtest (or paper) job config with trial ``trial``'s params, for ``create``."""

    # -- changes -----------------------------------------------------------------------------
    def watch(
        self,
        deliver: Deliver,
        *,
        known: Callable[[str], bool] = ...,
        alive: Callable[[], bool] = ...,
    ) -> Watch:
        """Coalesced change summaries (≤ 10 a second) for ``deliver``; start it with
        ``start()``. ``known(job_id)`` says which jobs the front end shows (a status
        change of another one is a structure change); ``alive()`` False ends it."""

    def hold_foreground(self, seconds: float) -> None:
        """A key was pressed: let CPU-bound jobs step aside for ``seconds`` (a hint; a
        remote implementation may ignore it)."""
