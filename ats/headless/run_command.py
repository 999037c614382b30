"""``ats run JOB.yaml --no-ui``: config files run as saved, restart-safe jobs.

Each config file becomes a job whose id stays the same from one run to the next: derived
from the file's resolved path and the job's name, or given with ``--id``. The jobs are
snapshotted and journaled in the saved_states directory, under its lock, exactly as
``ats --no-ui`` does, and served on the same control API (``ats attach``, ``ats jobs``
through ``<saved_states>/ats.sock``; TCP with ``--api-port``). So a rerun after a
crash, ``kill -9`` or a SIGTERM takes the job up where it was: a backtest resumes from
the candle its snapshot reached, a live job reconciles its orders with the exchange by
client order id. A job that finished before runs afresh. The output says which, one
line per job.

Only the standard library at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ats.headless.exit_codes import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from rich.console import Console

    from ats.apis.listen import ApiOptions
    from ats.headless.session import HeadlessSession
    from ats.trading_job.job_config import JobConfig
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.trading_job import TradingJob
    from ats.utils.settings import Settings


def config_job_id(path: Path, name: str) -> str:
    """The id a config file's job keeps across runs: the job name's slug plus a hash of
    the file's resolved path and that name (two files, or two names, never share one)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "job"
    digest = hashlib.sha256(f"{path.resolve()}\n{name}".encode()).hexdigest()[:10]
    return f"{slug}-{digest}"


async def run_config_files(
    paths: list[Path],
    *,
    job_ids: list[str] | None = None,
    json_out: Path | None = None,
    yes_live: bool = False,
    settings: Settings | None = None,
    console: Console | None = None,
    api: ApiOptions | None = None,
) -> int:
    """Run each config as a saved job until they all end or a stop signal arrives (they
    are then saved to resume), serving them on the control API (``api``: its TCP
    options) meanwhile. Bad input raises an ATSError before anything is opened or
    locked; a live config without ``yes_live`` is refused the same way."""
    from ats.headless.live_guard import require_yes_live
    from ats.headless.session import run_session
    from ats.trading_job.job_config import load_job_config
    from ats.trading_job.live_mode import is_live_config
    from ats.trading_job.watchdog import WatchdogLimits, install
    from ats.utils.plugins import PluginLoader
    from ats.utils.settings import Settings

    configs = [load_job_config(path) for path in paths]
    ids = _job_ids(paths, configs, job_ids)
    command = "ats run " + " ".join(map(str, paths)) + " --no-ui"
    pairs = list(zip(paths, configs, strict=True))
    live = [f"{config.name} ({path})" for path, config in pairs if is_live_config(config)]
    require_yes_live(live, yes_live=yes_live, command=command)
    settings = settings or Settings()
    install(WatchdogLimits.from_settings(settings))  # a setup() that hangs fails the build
    loader = PluginLoader(settings.custom_modules_dir)
    for path, config in pairs:
        with _named(path):
            _probe(config, loader).discard()  # a bad strategy or param fails before any lock
    again = command + (" --yes-live" if live else "")

    async def body(session: HeadlessSession) -> int:
        return await _run(session, console, pairs, ids, again, json_out)

    return await run_session(settings, loader, body, api)


async def _run(
    session: HeadlessSession,
    console: Console | None,
    pairs: list[tuple[Path, JobConfig]],
    ids: list[str],
    again: str,
    json_out: Path | None,
) -> int:
    """:func:`run_config_files` from the restore on: take the jobs up, run, save, report."""
    import json

    from rich.console import Console

    from ats.exceptions import JobError
    from ats.headless.report import render_report
    from ats.trading_job.trading_job import JobStatus

    console = console or Console()
    manager = session.manager
    async with session.restored(only=ids):
        triples = zip(pairs, ids, strict=True)
        plans = [_plan(manager, path, config, job_id) for (path, config), job_id in triples]
        refusals = [plan.refusal for plan in plans if plan.refusal]
        if refusals:  # before any job is created or changed
            raise JobError("; ".join(refusals))
        session.print_notices()
        await _take_up(manager, plans)
        for plan in plans:
            console.print(plan.line, markup=False, highlight=False, soft_wrap=True)
        runner = await session.run(console, ids)
    if session.unsaved():
        return EXIT_FAILED
    jobs = [manager.get(job_id) for job_id in ids]
    if runner.stop_signal is not None:
        console.print(f"{len(jobs)} job(s) saved; '{again}' again resumes them")
    reports = [job.report for job in jobs if job.report is not None]
    for report in reports:
        console.print(render_report(report))
    if json_out is not None and reports:
        payload: Any = reports[0] if len(reports) == 1 else reports
        json_out.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    failed = [job for job in jobs if job.status is JobStatus.ERROR]
    for job in failed:
        print(f"ats: job {job.config.name} failed: {job.error}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _job_ids(paths: list[Path], configs: list[JobConfig], given: list[str] | None) -> list[str]:
    from ats.exceptions import ConfigError
    from ats.persistence.snapshot_store import check_job_id

    if given:
        if len(given) != len(paths):
            raise ConfigError(
                f"--id given {len(given)} time(s) for {len(paths)} config file(s); "
                "give one per file, in the same order"
            )
        ids = [check_job_id(job_id) for job_id in given]
    else:
        ids = [config_job_id(path, c.name) for path, c in zip(paths, configs, strict=True)]
    seen: dict[str, Path] = {}
    for path, job_id in zip(paths, ids, strict=True):
        if job_id in seen:
            raise ConfigError(f"{path} and {seen[job_id]} would run as the same job {job_id}")
        seen[job_id] = path
    return ids


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """ATS errors raised inside name the config file they come from."""
    from ats.exceptions import ATSError, naming

    try:
        yield
    except ATSError as exc:
        raise naming(exc, str(path)) from None


def _probe(config: JobConfig, loader: Any) -> TradingJob:
    """The job built once, unregistered and unsaved: ConfigError/PluginError name what is
    wrong. The caller discards it."""
    from ats.trading_job.events import EventBus
    from ats.trading_job.trading_job import TradingJob

    probe = TradingJob("probe", config, bus=EventBus(), loader=loader)
    probe.build()
    return probe


@dataclasses.dataclass
class _Plan:
    """What a rerun does with one config's job, decided before anything changes."""

    path: Path
    config: JobConfig
    job_id: str
    action: Literal["new", "resume", "afresh", "replace"]
    """``afresh``: a finished (or failed) backtest, rebuilt when it starts; ``replace``:
    a backtest whose config changed or whose saved state is unusable, rebuilt now."""
    line: str
    refusal: str | None = None
    """Why this config must not take up the saved job (its orders would be forgotten)."""


def _plan(manager: JobManager, path: Path, config: JobConfig, job_id: str) -> _Plan:
    from ats.exceptions import JobError
    from ats.trading_job.trading_job import JobStatus

    label = f"job {config.name} ({job_id})"
    try:
        job = manager.get(job_id)
    except JobError:
        return _Plan(path, config, job_id, "new", f"{label}: new")
    backtest = _is_backtest(manager, job, config)
    if job.exchange is None:  # the saved state could not be restored
        line = f"{label}: its saved state cannot be restored; running it afresh"
        refusal = (
            f"{label}: its saved state cannot be restored ({job.error}); see "
            f"'ats jobs show {job_id}', or give --id to run {path} as a new job"
        )
        return _Plan(path, config, job_id, "replace", line, None if backtest else refusal)
    changed = _changed_fields(_saved_form(job.config), _saved_form(config))
    if changed:
        line = f"{label}: {path} changed since its last run ({_names(changed)}); running it afresh"
        refusal = (
            f"{label}: {path} changed since its saved run ({_names(changed)}); its orders "
            f"and fills are kept: run it unchanged, give --id to run it as a new job, or "
            f"'ats jobs delete {job_id}' first"
        )
        return _Plan(path, config, job_id, "replace", line, None if backtest else refusal)
    if job.status is JobStatus.FINISHED:
        return _Plan(path, config, job_id, "afresh", f"{label} finished before; running it afresh")
    if job.status is JobStatus.ERROR and backtest:
        line = f"{label} ended in an error before; running it afresh"
        return _Plan(path, config, job_id, "afresh", line)
    done = job.exchange.progress.done
    where = f"from candle {done:,}" if done else "from its first candle"
    open_orders = len(job.exchange.get_open_orders())
    if job.mode == "live" and open_orders:
        where += f"; {open_orders} open order(s) are looked up by client order id"
    return _Plan(path, config, job_id, "resume", f"resuming {label} {where}")


async def _take_up(manager: JobManager, plans: list[_Plan]) -> None:
    """Carry the plans out once every job's input files read well (a bad candle file:
    one line naming it, and no job created or changed)."""
    from ats.trading_job.trading_job import JobStatus

    for plan in plans:  # input files first, changing nothing
        with _named(plan.path):
            if plan.action == "resume":
                await manager.get(plan.job_id).load_inputs()  # kept for the run
            elif plan.action in ("afresh", "replace"):
                # The saved run is only replaced once the new one can start. (Read again
                # by the rebuilt job: a rerun of a finished backtest reads its file twice.)
                probe = _probe(plan.config, manager.loader)
                try:
                    await probe.load_inputs()
                finally:
                    probe.discard()
    created: list[str] = []
    try:
        for plan in plans:
            if plan.action == "new":
                job = manager.create(plan.config, job_id=plan.job_id)
                created.append(job.id)
                with _named(plan.path):
                    await job.load_inputs()
    except BaseException:
        for job_id in created:  # nothing of a refused run is saved
            await manager.delete(job_id)
        raise
    for plan in plans:
        job = manager.get(plan.job_id)
        if plan.action == "replace":
            manager.edit(plan.job_id, plan.config)
        elif plan.action == "resume" and job.status is JobStatus.ERROR:
            # A paper or live job that failed keeps its book: started from scratch it
            # would forget the orders it has on the exchange. Its saved state resumes.
            job.status = JobStatus.STOPPED


def _is_backtest(manager: JobManager, job: TradingJob, config: JobConfig) -> bool:
    """The saved job and the config both backtest: nothing on an exchange to forget."""
    from ats.exceptions import ATSError

    def mode(of: JobConfig) -> str | None:
        try:
            return manager.loader.exchange_class(of.exchange.name).mode
        except ATSError:  # e.g. the placeholder config of a job that failed to load
            return None

    return mode(config) == "backtest" and mode(job.config) == "backtest"


def _names(fields: list[str]) -> str:
    return ", ".join(fields[:5]) + (", ..." if len(fields) > 5 else "")


def _saved_form(config: JobConfig) -> dict[str, Any]:
    """A config as its snapshot keeps it (credential-like values masked)."""
    from ats.utils.redaction import scrub_config

    return scrub_config(config.model_dump(mode="json"))[0]


def _changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted names of what differs between two configs."""
    if isinstance(old, dict) and isinstance(new, dict):
        changed = []
        for key in [*old, *(k for k in new if k not in old)]:
            name = f"{prefix}.{key}" if prefix else str(key)
            changed += _changed_fields(old.get(key), new.get(key), name)
        return changed
    return [] if old == new else [prefix or "config"]
