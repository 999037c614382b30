"""``ats jobs add JOB.yaml``: save a job from a config file without running it.

The config and its candle file are checked first (a bad one fails here, not at the next
start); ``--start`` saves it as running, so the next ``ats --no-ui`` or console start
runs it. ATS may be running: it loads the job at its next start.

Only the standard library at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ats.headless.exit_codes import EXIT_OK

if TYPE_CHECKING:
    from ats.utils.settings import Settings


def add_job(settings: Settings, config_path: Path, new_id: str | None, *, start: bool) -> int:
    """Check and save the job; print its id. ATSError (naming the file) when it is bad."""
    from ats.exceptions import ATSError, JobError, naming
    from ats.headless.saved_jobs import snapshot_store
    from ats.persistence.directory_lock import holder_pid, unwritable_error
    from ats.persistence.snapshot_store import check_job_id
    from ats.trading_job.events import EventBus
    from ats.trading_job.job_config import load_job_config
    from ats.trading_job.job_manager import new_job_id
    from ats.trading_job.trading_job import TradingJob
    from ats.trading_job.watchdog import WatchdogLimits, install
    from ats.utils.plugins import PluginLoader
    from ats.utils.redaction import scrub_config

    install(WatchdogLimits.from_settings(settings))  # a setup() that hangs is a plugin error
    config = load_job_config(config_path)
    job_id = check_job_id(new_id or new_job_id(config.name))
    store = snapshot_store(settings)
    if job_id in store.job_ids():
        raise JobError(f"a saved job with id {job_id!r} already exists")
    job = TradingJob(
        job_id, config, bus=EventBus(), loader=PluginLoader(settings.custom_modules_dir)
    )
    try:  # a bad config or candle file fails here, not at the next start
        job.build()
        _run_sync(job.load_inputs())
    except ATSError as exc:
        raise naming(exc, str(config_path)) from None
    payload = job.snapshot()
    payload["config"], masked = scrub_config(payload["config"])
    if masked:
        print(
            f"ats: warning: {', '.join(masked)} look like credentials and were not saved; "
            "reference an environment setting instead (e.g. api_key_env: BINANCE_API_KEY)",
            file=sys.stderr,
        )
    payload["status"] = "running" if start else "created"
    payload["report"] = None
    try:
        store.save(job_id, payload)
    except OSError as exc:
        raise unwritable_error(store.directory, exc) from None
    print(job_id)
    pid = holder_pid(settings.saved_states_dir)
    if pid:
        print(f"ats: note: ATS is running (pid {pid}); it loads the job at its next start")
    return EXIT_OK


def _run_sync(coroutine: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run``, also from inside a running loop (tests drive ``_add`` from one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()
