"""The console's sweeps: created from a YAML spec, run, listed, saved and resumed.

This is the :class:`~ats.trading_job.sweep_host.SweepHost` a console's JobControl routes
sweep ids to. Each sweep's spec path and status are kept in the trial journal
(``console_sweeps`` in ``saved_states/research.sqlite3``) beside its trials: a console
started again lists every sweep, shows the trials it had finished and starts again the
ones that were running when it quit (or was killed), which read their finished trials
back from the journal instead of computing them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ats.exceptions import ATSError, ConfigError, JobError
from ats.research.journal import TrialJournal
from ats.research.search import Search
from ats.research.sweep_job import SweepJob
from ats.trading_job import view_builder
from ats.trading_job.events import EventBus, JobRemoved, JobStatusChanged
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import new_job_id
from ats.trading_job.status import JobStatus
from ats.trading_job.sweep_host import PromoteMode
from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
from ats.trading_job.views import JobView, LogPage
from ats.utils.plugins import PluginLoader

SPEC_PATTERNS = ("*.sweep.yaml", "*.sweep.yml")
_STATUSES = {status.value for status in JobStatus}
PAPER_SPEED = 1.0
"""A trial promoted to a paper job replays the sweep's candles at real-time pace."""


class SweepJobs:
    """Every sweep of one console, by id (oldest first)."""

    def __init__(
        self,
        bus: EventBus,
        loader: PluginLoader,
        journal_path: Path,
        *,
        spec_dirs: tuple[Path, ...] | None = None,
    ) -> None:
        self._bus = bus
        self._loader = loader
        self._journal_path = journal_path
        self._journal: TrialJournal | None = None
        self._sweeps: dict[str, SweepJob] = {}
        self._spec_dirs = spec_dirs
        self._shutting_down = False

    @property
    def journal(self) -> TrialJournal:
        """Opened on first use: a console that never sweeps never creates the file."""
        if self._journal is None:
            self._journal = TrialJournal(self._journal_path)
        return self._journal

    # -- restore and shut down -------------------------------------------------------------
    def open(self) -> list[str]:
        """List the saved sweeps and start again those saved running; their ids."""
        if not self._journal_path.exists():
            return []
        resumed = []
        for sweep_id, spec, status in self.journal.console_sweeps():
            sweep = self._make(sweep_id, Path(spec))
            if status == JobStatus.RUNNING and sweep.search is not None:
                sweep.log("INFO", "resumed: the console stopped while it ran")
                self.start(sweep_id)
                resumed.append(sweep_id)
            else:
                if sweep.search is not None and status in _STATUSES:
                    sweep.status = JobStatus(status)
                sweep.load_journaled()
        return resumed

    async def shutdown(self) -> None:
        """Stop every sweep, leaving the running ones saved as running (they resume)."""
        self._shutting_down = True
        for sweep in self._sweeps.values():
            sweep.stop()
        await asyncio.gather(*(sweep.wait() for sweep in self._sweeps.values()))
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- queries ---------------------------------------------------------------------------
    def __contains__(self, sweep_id: object) -> bool:
        return sweep_id in self._sweeps

    def ids(self) -> list[str]:
        return list(self._sweeps)

    def get(self, sweep_id: str) -> SweepJob:
        try:
            return self._sweeps[sweep_id]
        except KeyError:
            raise JobError(f"no sweep with id {sweep_id!r}") from None

    def job_view(self, sweep_id: str) -> JobView:
        from ats.research import sweep_view_builder

        sweep = self.get(sweep_id)
        try:
            return sweep_view_builder.job_view(sweep)
        except Exception as exc:  # a bug must not break the whole jobs table: say so
            error = view_builder.failure(sweep_id, "building the sweep's row", exc)
            return JobView(
                job_id=sweep_id,
                name=sweep.name,
                strategy="",
                strategy_params={},
                symbol="",
                base="",
                quote="",
                exchange="",
                venue=None,
                mode="sweep",
                live=False,
                built=False,
                status=sweep.status,
                error=error,
            )

    def sweep_view(self, sweep_id: str) -> SweepView:
        from ats.research import sweep_view_builder

        return sweep_view_builder.sweep_view(self.get(sweep_id))

    def trial_page(
        self, sweep_id: str, sort: str, descending: bool | None, offset: int, limit: int
    ) -> TrialPage:
        from ats.research import sweep_view_builder

        return sweep_view_builder.trial_page(self.get(sweep_id), sort, descending, offset, limit)

    def heatmap(self, sweep_id: str, x: str | None, y: str | None) -> SweepHeatmap:
        from ats.research import sweep_view_builder

        return sweep_view_builder.heatmap(self.get(sweep_id), x, y)

    def log_page(self, sweep_id: str, after: int | None) -> LogPage:
        from ats.research import sweep_view_builder

        return sweep_view_builder.log_page(self.get(sweep_id), after)

    def config(self, sweep_id: str) -> JobConfig:
        search = self.get(sweep_id).search
        if search is None:
            raise JobError(f"sweep {sweep_id}: its spec could not be read")
        return search.base

    def specs(self) -> list[str]:
        folders = self._spec_dirs or (Path.cwd(), Path.cwd() / "examples", Path.cwd() / "configs")
        found = {
            str(path)
            for folder in folders
            if folder.is_dir()
            for pattern in SPEC_PATTERNS
            for path in folder.glob(pattern)
        }
        return sorted(found)

    def trial_config(self, sweep_id: str, trial: int, mode: PromoteMode) -> JobConfig:
        """The sweep's job with trial ``trial``'s params: what ``ats backtest`` with those
        params runs (per candle unless the job itself asked for ``vectorised``), or the
        same strategy paper-trading a replay of the sweep's candles."""
        from ats.research.trial import TrialTask, trial_config

        sweep = self.get(sweep_id)
        search = sweep.search
        result = sweep.trials.get(trial)
        if search is None or result is None:
            raise JobError(f"sweep {sweep.name} has no finished trial {trial}")
        base = search.per_candle_base if search.check_per_candle else search.base
        config = trial_config(base, TrialTask(trial, result.params))
        name = f"{sweep.name} trial {trial}"  # the title shows the params beside it
        if mode == "paper":
            exchange = config.exchange.model_copy(
                update={
                    "name": "paper",
                    "params": {
                        "feed": "replay",
                        "data": str(search.data_path),
                        "speed": PAPER_SPEED,
                    },
                }
            )
            return config.model_copy(update={"name": f"paper {name}", "exchange": exchange})
        return config.model_copy(update={"name": name})

    # -- commands --------------------------------------------------------------------------
    def create(self, spec: str) -> str:
        from ats.research.spec_file import load_search_spec

        path = Path(spec).expanduser()
        if not path.is_file():
            raise ConfigError(f"{spec}: no such sweep spec")
        search = load_search_spec(path, self._loader)
        if search.walk_forward:
            raise ConfigError(f"{path}: walk_forward: run a walk-forward with ats optimize")
        search.make_method()  # an impossible grid or constraint fails now, not once started
        sweep_id = new_job_id(f"sweep {path.name.split('.')[0]}")
        self.journal.save_console_sweep(sweep_id, str(path.resolve()), JobStatus.CREATED)
        self._add(self._new(sweep_id, path.resolve(), search))
        return sweep_id

    def start(self, sweep_id: str) -> None:
        sweep = self.get(sweep_id)
        sweep.start()

    def stop(self, sweep_id: str) -> None:
        self.get(sweep_id).stop()

    async def delete(self, sweep_id: str) -> None:
        sweep = self.get(sweep_id)
        sweep.stop()
        await sweep.wait()
        del self._sweeps[sweep_id]
        self.journal.forget_console_sweep(sweep_id)
        self._bus.publish(JobRemoved(sweep_id))

    # -- plumbing --------------------------------------------------------------------------
    def _new(
        self, sweep_id: str, spec: Path, search: Search | None, error: str | None = None
    ) -> SweepJob:
        return SweepJob(
            sweep_id,
            spec,
            search,
            bus=self._bus,
            loader=self._loader,
            journal=self.journal,
            error=error,
            on_status=self._save_status,
        )

    def _make(self, sweep_id: str, spec: Path) -> SweepJob:
        """A saved sweep; one whose spec cannot be read any more stays listed, in error."""
        try:
            from ats.research.spec_file import load_search_spec

            search = load_search_spec(spec, self._loader)
            sweep = self._new(sweep_id, spec, search)
        except ATSError as exc:
            sweep = self._new(sweep_id, spec, None, str(exc))
        self._add(sweep)
        return sweep

    def _add(self, sweep: SweepJob) -> None:
        self._sweeps[sweep.id] = sweep
        self._bus.publish(JobStatusChanged(sweep.id, sweep.status, sweep.error))

    def _save_status(self, sweep: SweepJob) -> None:
        """Remember each status change; a sweep stopped by the console's quit stays
        saved as running, so the next console resumes it."""
        if self._shutting_down and sweep.status is JobStatus.STOPPED:
            return
        if sweep.id in self._sweeps and self._journal is not None:
            self._journal.save_console_sweep(sweep.id, str(sweep.spec), sweep.status)
