"""``ats --no-ui``: restore every saved job and run those that were running.

They run until they finish or a stop signal arrives (then they are saved as running, and
the next ``ats --no-ui`` resumes them). Bad input (a broken plugin, a bad candle file) is
one line each on stderr and exit code 2 at the end; that job is kept as saved and the
others run.

Only the standard library at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ats.headless.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from rich.console import Console

    from ats.apis.listen import ApiOptions
    from ats.headless.session import HeadlessSession
    from ats.persistence.snapshot_store import SnapshotStore
    from ats.trading_job.job_manager import JobManager
    from ats.utils.settings import Settings


async def run_saved_jobs(
    settings: Settings | None = None,
    console: Console | None = None,
    *,
    yes_live: bool = False,
    api: ApiOptions | None = None,
) -> int | None:
    """Restore every saved job and run those that were running until they finish or a
    stop signal arrives (then they are saved as running). None when nothing is saved.

    The control API serves the jobs from the restore on (``ats attach``, ``ats jobs``);
    the process runs as long as any job runs, also one started through the API, or a
    console is attached.

    A saved running live job needs ``yes_live`` (``--yes-live``): without it
    :class:`~ats.headless.live_guard.LiveNotConfirmed` is raised before the directory is
    locked or anything restored, so the saved jobs stay exactly as they were."""
    from rich.console import Console

    from ats.headless.live_guard import require_yes_live, saved_live_jobs
    from ats.headless.session import run_session
    from ats.persistence.snapshot_store import SnapshotStore
    from ats.trading_job.watchdog import WatchdogLimits, install
    from ats.utils.plugins import PluginLoader
    from ats.utils.settings import Settings

    settings = settings or Settings()
    store = SnapshotStore(settings.saved_states_dir)
    job_ids = store.job_ids()
    if not job_ids:
        return None
    if not yes_live:  # before anything is locked or restored: nothing changes
        live = saved_live_jobs(_first_payloads(store, job_ids))
        require_yes_live(live, yes_live=yes_live, command="ats --no-ui")
    shown = console or Console()
    install(WatchdogLimits.from_settings(settings))  # a setup() that hangs fails the restore

    async def body(session: HeadlessSession) -> int:
        return await _run_restored(session, shown, yes_live=yes_live)

    loader = PluginLoader(settings.custom_modules_dir)
    return await run_session(settings, loader, body, api)


async def _run_restored(session: HeadlessSession, console: Console, *, yes_live: bool) -> int:
    """:func:`run_saved_jobs` from the restore on: run, save, report."""
    from ats.headless.live_guard import job_label, require_yes_live
    from ats.trading_job.live_mode import is_live_config
    from ats.trading_job.trading_job import JobStatus

    manager, persistence = session.manager, session.persistence
    async with session.restored():
        to_run = [job_id for job_id, status in persistence.resumable.items() if status == "running"]
        # Again on what was restored: a snapshot that failed to load may have been
        # replaced by its backup. Refusing here still starts nothing (and is the one line).
        live = [
            job_label(job.config.name, job.id)
            for job in map(manager.get, to_run)
            if is_live_config(job.config)
        ]
        require_yes_live(live, yes_live=yes_live, command="ats --no-ui")
        session.print_notices()
        # Bad input (a broken plugin, a bad candle file): one line each on stderr, exit 2
        # at the end; the job is kept as saved and the others run.
        bad_input = {job_id: manager.get(job_id).error or "" for job_id in persistence.unloadable}
        for job in manager:
            if job.status is JobStatus.ERROR and job.error and job.id not in bad_input:
                console.print(f"[bold red]{job.config.name}[/] ({job.id}) error: ", end="")
                console.print(job.error, markup=False, highlight=False)
        bad_input.update(await _check_inputs(manager, to_run))
        for job_id, message in bad_input.items():
            name = manager.get(job_id).config.name
            _error_line(f"job {name} ({job_id}): {message}")
        to_run = [job_id for job_id in to_run if job_id not in bad_input]
        if not to_run:
            if not bad_input:
                console.print(
                    f"no saved job to resume ({len(manager)} saved; see 'ats jobs list'). "
                    "Add one with 'ats jobs add JOB.yaml --start'."
                )
            return EXIT_USAGE if bad_input else EXIT_OK
        runner = await session.run(console, to_run)
    if session.unsaved():
        return EXIT_FAILED
    failed = [job_id for job_id in to_run if manager.get(job_id).status is JobStatus.ERROR]
    if runner.stop_signal is not None:
        resumed = len(to_run) - len(failed)
        console.print(f"{resumed} job(s) saved to resume; 'ats --no-ui' resumes them")
    else:
        from ats.headless.report import render_report

        for job_id in to_run:
            report = manager.get(job_id).report
            if report is not None:
                console.print(render_report(report))
    if bad_input:
        return EXIT_USAGE
    return EXIT_FAILED if failed else EXIT_OK


async def _check_inputs(manager: JobManager, job_ids: list[str]) -> dict[str, str]:
    """Read the candle files of the jobs about to resume: a bad one is reported and its
    job not started (it stays saved as running, so fixing the file is enough)."""
    from ats.exceptions import ATSError

    bad: dict[str, str] = {}
    for job_id in job_ids:
        job = manager.get(job_id)
        try:
            await job.load_inputs()
        except ATSError as exc:
            bad[job_id] = str(exc)
            job.log("ERROR", f"not started: {exc}")
    return bad


def _error_line(message: str) -> None:
    from ats.utils.validation import one_line

    print(f"ats: error: {one_line(message)}", file=sys.stderr)


def _first_payloads(
    store: SnapshotStore, job_ids: list[str]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each job's first readable snapshot (current, else backup), as a restore picks it;
    read only, no lock taken."""
    for job_id in job_ids:
        for path in (store.path(job_id), store.backup_path(job_id)):
            if path.exists() and (payload := store.read(path, job_id).payload) is not None:
                yield job_id, payload
                break
