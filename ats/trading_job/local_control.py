"""The in-process :class:`~ats.trading_job.control.JobControl`: the JobManager's commands
and the read model, for a front end running in the same process as the jobs.

Every coroutine here answers without yielding to the event loop, so a console awaiting
it costs no loop turn (bench/ui_latency.py); the one exception is the first chart or
equity curve of a restored backtest, which reads its candle file in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ats.exceptions import JobError
from ats.trading_job import view_builder
from ats.trading_job.change_feed import Deliver, EventPump
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import JobManager
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


class LocalJobControl:
    """JobControl over a :class:`JobManager` in this process."""

    def __init__(self, manager: JobManager) -> None:
        self.manager = manager

    # -- queries: jobs ---------------------------------------------------------------------
    async def job_ids(self) -> list[str]:
        return [job.id for job in self.manager.jobs]

    async def jobs(self) -> list[JobView]:
        return [view_builder.view_of(job) for job in self.manager.jobs]

    async def job(self, job_id: str) -> JobView:
        return view_builder.view_of(self.manager.get(job_id))

    async def views(self, job_ids: Iterable[str]) -> list[JobView]:
        views = []
        for job_id in job_ids:
            try:
                job = self.manager.get(job_id)
            except JobError:  # removed since the front end last looked
                continue
            views.append(view_builder.view_of(job))
        return views

    async def job_config(self, job_id: str) -> JobConfig:
        return self.manager.get(job_id).config

    async def chart_window(
        self, job_id: str, bars: int, factor: int = 1, offset: int = 0, around: int | None = None
    ) -> ChartWindow:
        job = self.manager.get(job_id)
        error = await view_builder.load_replayed_candles(job)  # yields only the first time
        if error is not None:
            return ChartWindow(error=error)
        return view_builder.chart_window(job, bars, factor, offset, around)

    async def equity_curve(self, job_id: str, points: int) -> EquityCurve:
        job = self.manager.get(job_id)
        error = await view_builder.load_replayed_candles(job)
        if error is not None:
            return EquityCurve(error=error)
        return view_builder.equity_curve(job, points)

    async def logs(self, job_id: str, after: int | None = None) -> LogPage:
        return view_builder.log_page(self.manager.get(job_id), after)

    async def trades(self, job_id: str, offset: int = 0, limit: int = 100) -> TradePage:
        return view_builder.trade_page(self.manager.get(job_id), offset, limit)

    async def fills(self, job_id: str, offset: int = 0, limit: int = 100) -> FillPage:
        return view_builder.fill_page(self.manager.get(job_id), offset, limit)

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
        return self.manager.edit(job_id, config).id

    async def start(self, job_id: str) -> None:
        self.manager.start(job_id)

    async def stop(self, job_id: str) -> None:
        self.manager.stop(job_id)

    async def toggle(self, job_id: str) -> None:
        self.manager.toggle(job_id)

    async def pause(self, job_id: str) -> None:
        self.manager.pause(job_id)

    async def resume(self, job_id: str) -> None:
        self.manager.resume(job_id)

    async def toggle_pause(self, job_id: str) -> None:
        self.manager.toggle_pause(job_id)

    async def reload(self, job_id: str) -> None:
        self.manager.reload(job_id)

    async def delete(self, job_id: str) -> None:
        await self.manager.delete(job_id)
        view_builder.forget_failures(job_id)

    async def set_speed(self, job_id: str, factor: float) -> float:
        return self.manager.set_speed(job_id, factor)

    async def kill_switch(self) -> int:
        return self.manager.kill_switch()

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
