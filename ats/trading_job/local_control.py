"""The in-process :class:`~ats.trading_job.control.JobControl`: the JobManager's commands
and the read model, for a front end running in the same process as the jobs.

Every coroutine here answers without yielding to the event loop, so a console awaiting
it costs no loop turn (bench/ui_latency.py); the exceptions are the first chart or
equity curve of a restored backtest, which reads its candle file in a thread, and the
trade and fill pages, which read the journal (in aiosqlite's thread) when there is one. Parameter
sweeps, when the composition root hands it a :class:`~ats.trading_job.sweep_host.SweepHost`,
are jobs like the others: their ids are listed after the manager's and route there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ats.exceptions import JobError
from ats.trading_job import trade_pages, view_builder
from ats.trading_job.change_feed import Deliver, EventPump
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import JobManager
from ats.trading_job.sweep_host import PromoteMode, SweepHost
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

DATA_SUFFIXES = ("*.csv", "*.parquet", "*.csv.gz")
NO_SWEEP_CHART = "a sweep has no chart: its heatmap and trials are in its pane"


class LocalJobControl:
    """JobControl over a :class:`JobManager` in this process."""

    def __init__(self, manager: JobManager, sweeps: SweepHost | None = None) -> None:
        self.manager = manager
        self.sweeps = sweeps

    def _sweep(self, job_id: str) -> SweepHost | None:
        """The sweeps' host when ``job_id`` is a sweep's."""
        return self.sweeps if self.sweeps is not None and job_id in self.sweeps else None

    def _host(self) -> SweepHost:
        if self.sweeps is None:
            raise JobError("sweeps are not available here (run them with ats optimize)")
        return self.sweeps

    def _not_for_sweeps(self, job_id: str, what: str) -> None:
        if self._sweep(job_id) is not None:
            raise JobError(f"a sweep cannot {what}")

    # -- queries: jobs ---------------------------------------------------------------------
    async def job_ids(self) -> list[str]:
        sweeps = self.sweeps.ids() if self.sweeps is not None else []
        return [job.id for job in self.manager.jobs] + sweeps

    async def jobs(self) -> list[JobView]:
        views = [view_builder.view_of(job) for job in self.manager.jobs]
        if self.sweeps is not None:
            views += [self.sweeps.job_view(sweep_id) for sweep_id in self.sweeps.ids()]
        return views

    async def job(self, job_id: str) -> JobView:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            return sweeps.job_view(job_id)
        return view_builder.view_of(self.manager.get(job_id))

    async def views(self, job_ids: Iterable[str]) -> list[JobView]:
        views = []
        for job_id in job_ids:
            sweeps = self._sweep(job_id)
            if sweeps is not None:
                views.append(sweeps.job_view(job_id))
                continue
            try:
                job = self.manager.get(job_id)
            except JobError:  # removed since the front end last looked
                continue
            views.append(view_builder.view_of(job))
        return views

    async def job_config(self, job_id: str) -> JobConfig:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            return sweeps.config(job_id)
        return self.manager.get(job_id).config

    async def chart_window(
        self, job_id: str, bars: int, factor: int = 1, offset: int = 0, around: int | None = None
    ) -> ChartWindow:
        if self._sweep(job_id) is not None:
            return ChartWindow(error=NO_SWEEP_CHART)
        job = self.manager.get(job_id)
        error = await view_builder.load_replayed_candles(job)  # yields only the first time
        if error is not None:
            return ChartWindow(error=error)
        return view_builder.chart_window(job, bars, factor, offset, around)

    async def equity_curve(self, job_id: str, points: int) -> EquityCurve:
        if self._sweep(job_id) is not None:
            return EquityCurve(error=NO_SWEEP_CHART)
        job = self.manager.get(job_id)
        error = await view_builder.load_replayed_candles(job)
        if error is not None:
            return EquityCurve(error=error)
        return view_builder.equity_curve(job, points)

    async def logs(self, job_id: str, after: int | None = None) -> LogPage:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            return sweeps.log_page(job_id, after)
        return view_builder.log_page(self.manager.get(job_id), after)

    async def trades(self, job_id: str, offset: int = 0, limit: int = 100) -> TradePage:
        if self._sweep(job_id) is not None:
            return TradePage()
        job = self.manager.get(job_id)
        return await trade_pages.trade_page(job, self.manager.trade_history, offset, limit)

    async def fills(self, job_id: str, offset: int = 0, limit: int = 100) -> FillPage:
        if self._sweep(job_id) is not None:
            return FillPage()
        job = self.manager.get(job_id)
        return await trade_pages.fill_page(job, self.manager.trade_history, offset, limit)

    # -- queries: what a new job can be made of --------------------------------------------
    async def plugins(self, kind: str) -> list[PluginInfo]:
        loader = self.manager.loader
        return [
            PluginInfo(name, error, loader.is_custom(kind, name))
            for name, error in loader.available(kind).items()
        ]

    async def strategy_params(self, strategy: str) -> list[ParamField]:
        return strategy_fields(self.manager.loader.load("strategies", strategy))

    async def check_strategy_params(self, strategy: str, params: dict[str, Any]) -> None:
        strategy_class: Any = self.manager.loader.load("strategies", strategy)
        strategy_class.validate_config(params)

    async def data_files(self) -> list[str]:
        from ats.demo import DEMO_DATA

        folders = {DEMO_DATA.parent, Path.cwd() / "data"}
        files = {str(DEMO_DATA)}
        for folder in folders:
            if folder.is_dir():
                for pattern in DATA_SUFFIXES:
                    files.update(str(path) for path in folder.glob(pattern))
        return sorted(files)

    async def check_data_file(self, path: str) -> str | None:
        from ats.data.candle_readers import check_candle_file
        from ats.data.candles import CandleDataError

        file = Path(path).expanduser()
        if not file.is_file():
            return f"no such file: {path}"
        try:  # the header and first rows now; the whole file when the job loads it
            check_candle_file(file)
        except CandleDataError as exc:
            return str(exc)
        return None

    # -- commands ----------------------------------------------------------------------------
    async def create(self, config: JobConfig) -> str:
        return self.manager.create(config).id

    async def edit(self, job_id: str, config: JobConfig) -> str:
        self._not_for_sweeps(job_id, "be edited here: edit its spec file and create it again")
        return self.manager.edit(job_id, config).id

    async def start(self, job_id: str) -> None:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            sweeps.start(job_id)
        else:
            self.manager.start(job_id)

    async def stop(self, job_id: str) -> None:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            sweeps.stop(job_id)
        else:
            self.manager.stop(job_id)

    async def toggle(self, job_id: str) -> None:
        sweeps = self._sweep(job_id)
        if sweeps is None:
            self.manager.toggle(job_id)
        elif sweeps.job_view(job_id).status.is_active:
            sweeps.stop(job_id)
        else:
            sweeps.start(job_id)

    async def pause(self, job_id: str) -> None:
        self._not_for_sweeps(job_id, "pause: stop it (s), it resumes from its journal")
        self.manager.pause(job_id)

    async def resume(self, job_id: str) -> None:
        self._not_for_sweeps(job_id, "pause: stop it (s), it resumes from its journal")
        self.manager.resume(job_id)

    async def toggle_pause(self, job_id: str) -> None:
        self._not_for_sweeps(job_id, "pause: stop it (s), it resumes from its journal")
        self.manager.toggle_pause(job_id)

    async def reload(self, job_id: str) -> None:
        self._not_for_sweeps(job_id, "reload: a changed strategy starts a new search")
        self.manager.reload(job_id)

    async def delete(self, job_id: str) -> None:
        sweeps = self._sweep(job_id)
        if sweeps is not None:
            await sweeps.delete(job_id)
            return
        await self.manager.delete(job_id)
        view_builder.forget_failures(job_id)

    async def set_speed(self, job_id: str, factor: float) -> float:
        self._not_for_sweeps(job_id, "change speed: it runs as fast as its workers")
        return self.manager.set_speed(job_id, factor)

    async def kill_switch(self) -> int:
        return self.manager.kill_switch()

    # -- sweeps ------------------------------------------------------------------------------
    async def sweep_specs(self) -> list[str]:
        return self.sweeps.specs() if self.sweeps is not None else []

    async def create_sweep(self, spec: str) -> str:
        return self._host().create(spec)

    async def sweep(self, sweep_id: str) -> SweepView:
        return self._host().sweep_view(sweep_id)

    async def sweep_trials(
        self,
        sweep_id: str,
        sort: str = "objective",
        descending: bool | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> TrialPage:
        return self._host().trial_page(sweep_id, sort, descending, offset, limit)

    async def sweep_heatmap(
        self, sweep_id: str, x: str | None = None, y: str | None = None
    ) -> SweepHeatmap:
        return self._host().heatmap(sweep_id, x, y)

    async def trial_job_config(
        self, sweep_id: str, trial: int, mode: PromoteMode = "backtest"
    ) -> JobConfig:
        return self._host().trial_config(sweep_id, trial, mode)

    # -- changes -----------------------------------------------------------------------------
    def watch(
        self,
        deliver: Deliver,
        *,
        known: Callable[[str], bool] = lambda job_id: True,
        alive: Callable[[], bool] = lambda: True,
    ) -> EventPump:
        return EventPump(self.manager.bus, deliver, known=known, alive=alive)

    def hold_foreground(self, seconds: float) -> None:
        self.manager.hold_foreground(seconds)


def strategy_fields(strategy_class: type) -> list[ParamField]:
    """The strategy's parameters, from its pydantic ``Params`` model."""
    params_model = getattr(strategy_class, "Params", None)
    fields = getattr(params_model, "model_fields", {}) or {}
    result = []
    for name, info in fields.items():
        required = info.is_required()
        default = None if required else info.get_default(call_default_factory=True)
        result.append(ParamField(name, default, info.description or "", required))
    return result
