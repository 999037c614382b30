"""``ats jobs list|show|export|delete|add`` and ``ats --no-ui`` over saved jobs.

Headless inspection of what ``saved_states/`` holds, for servers without the console.
Reading works while ATS runs (snapshots are replaced atomically, the journal is WAL);
``delete`` refuses while another ATS process holds the directory, because that process
would write the job back.

Only argparse is imported at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

    from ats.database.journal import Journal
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.persistence.snapshot_store import Candidate, SnapshotStore
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.stop_deadline import StopDeadline
    from ats.utils.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``ats jobs`` on the main parser's sub-commands."""
    jobs = subparsers.add_parser(
        "jobs", help="inspect and manage saved jobs (saved_states/) without the console"
    )
    actions = jobs.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="one line per saved job")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    show = actions.add_parser("show", help="a job's config, balances, orders and recent log")
    show.add_argument("job_id", metavar="ID", help="job id (a unique prefix or name will do)")
    export = actions.add_parser("export", help="everything saved about a job, as JSON")
    export.add_argument("job_id", metavar="ID")
    export.add_argument("--json", action="store_true", help="JSON output (the only format)")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE")
    delete = actions.add_parser("delete", help="delete a job's snapshots and journal rows")
    delete.add_argument("job_id", metavar="ID")
    add = actions.add_parser("add", help="save a job from a YAML config (ats --no-ui runs it)")
    add.add_argument("config", type=Path, metavar="JOB.yaml")
    add.add_argument("--start", action="store_true", help="start it on the next ats start")
    add.add_argument("--id", dest="new_id", metavar="ID", help="job id (default: from name)")
    return jobs


def run_jobs_command(args: argparse.Namespace) -> int:
    """Entry point for ``ats jobs ...``; ATSError propagates to the CLI's handler."""
    from ats.utils.settings import Settings

    settings = Settings()
    action = args.jobs_action
    if action == "list":
        return asyncio.run(_list(settings, as_json=args.json))
    if action == "show":
        return asyncio.run(_show(settings, args.job_id))
    if action == "export":
        return asyncio.run(_export(settings, args.job_id, args.output))
    if action == "delete":
        return asyncio.run(_delete(settings, args.job_id))
    if action == "add":
        return _add(settings, args.config, args.new_id, start=args.start)
    raise AssertionError(action)


# -- ats --no-ui ---------------------------------------------------------------------------
async def run_saved_jobs(
    settings: Settings | None = None, console: Console | None = None, *, yes_live: bool = False
) -> int | None:
    """Restore every saved job and run those that were running until they finish or a
    stop signal arrives (then they are saved as running). None when nothing is saved.

    A saved running live job needs ``yes_live`` (``--yes-live``): without it
    :class:`~ats.headless.live_guard.LiveNotConfirmed` is raised before the directory is
    locked or anything restored, so the saved jobs stay exactly as they were."""
    from rich.console import Console

    from ats.alerts.service import alert_service, alerts_running, warn_on_stderr
    from ats.headless.live_guard import require_yes_live, saved_live_jobs
    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.persistence.snapshot_store import SnapshotStore
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.stop_deadline import StopDeadline
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
    console = console or Console()
    install(WatchdogLimits.from_settings(settings))  # a setup() that hangs fails the restore
    manager = JobManager(loader=PluginLoader(settings.custom_modules_dir))
    alerts = alert_service(manager, settings, report=warn_on_stderr)  # a bad setting: now
    persistence = PersistentJobs(manager, settings)
    # Signals are handled from before the restore until the last save: a first one
    # starts the stop deadline, a second one saves what it can and exits at once.
    stop = StopDeadline(
        manager,
        deadline_s=settings.stop_deadline_s,
        unsaved=persistence.unsaved_jobs,
        save_now=persistence.save_now,
        owns_process=True,
    )
    stop.install_signals()
    try:
        async with alerts_running(alerts):  # subscribed before the restore
            return await _run_restored(persistence, console, stop, yes_live=yes_live)
    finally:
        stop.remove_signals()


async def _run_restored(
    persistence: PersistentJobs, console: Console, stop: StopDeadline, *, yes_live: bool
) -> int:
    """:func:`run_saved_jobs` from the restore on: run, save, report."""
    from ats.headless.live_guard import job_label, require_yes_live
    from ats.headless.runner import HeadlessRunner
    from ats.trading_job.live_mode import is_live_config
    from ats.trading_job.trading_job import JobStatus

    manager = persistence.manager
    await persistence.open()
    runner: HeadlessRunner | None = None
    try:
        to_run = [job_id for job_id, status in persistence.resumable.items() if status == "running"]
        # Again on what was restored: a snapshot that failed to load may have been
        # replaced by its backup. Refusing here still starts nothing (and is the one line).
        live = [
            job_label(job.config.name, job.id)
            for job in map(manager.get, to_run)
            if is_live_config(job.config)
        ]
        require_yes_live(live, yes_live=yes_live, command="ats --no-ui")
        for notice in persistence.notices:  # a damaged journal set aside, a job rolled back
            print(f"ats: warning: {notice}", file=sys.stderr)
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
        runner = HeadlessRunner(
            manager,
            console,
            before_stop=persistence.begin_shutdown,
            stop=stop,
            settings=persistence.settings,
        )
        await runner.run(to_run, show_reports=False)
    finally:
        await persistence.close()  # state first, printing after
    assert runner is not None
    unsaved = persistence.unsaved_message()
    if unsaved is not None:
        print(f"ats: error: {unsaved}", file=sys.stderr)
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


# -- reading -------------------------------------------------------------------------------
class _Saved:
    """One saved job as the listing sees it: its best snapshot plus journal figures."""

    def __init__(self, job_id: str, candidates: list[Candidate]) -> None:
        self.job_id = job_id
        self.candidate = next((c for c in candidates if c.payload is not None), None)
        self.problems = [f"{c.path.name}: {c.error}" for c in candidates if c.payload is None]

    @property
    def payload(self) -> dict[str, Any]:
        return self.candidate.payload if self.candidate and self.candidate.payload else {}

    @property
    def from_backup(self) -> bool:
        """The job runs on (or would be restored from) an older snapshot than its latest."""
        on_backup = self.candidate is not None and self.candidate.path.name.endswith(".bak")
        return on_backup or bool(self.payload.get("restore_note"))

    def summary(self) -> dict[str, Any]:
        payload = self.payload
        config = payload.get("config") or {}
        exchange = payload.get("exchange") or {}
        orders = exchange.get("orders") or []
        return {
            "job_id": self.job_id,
            "name": config.get("name", "?"),
            "exchange": (config.get("exchange") or {}).get("name"),
            "strategy": (config.get("strategy") or {}).get("name"),
            "status": payload.get("status", "unreadable"),
            "error": payload.get("error"),
            "saved_at": self.candidate.saved_at if self.candidate else None,
            "from_backup": self.from_backup,
            "restore_note": payload.get("restore_note"),
            "problems": self.problems,
            "candles_done": _candles_done(exchange),
            "fills": len(exchange.get("fills") or []),
            "open_orders": sum(1 for o in orders if o.get("status") in _OPEN),
            "equity": _equity(payload),
        }


_OPEN = ("open", "partially_filled")


def _candles_done(exchange: dict[str, Any]) -> int | None:
    """back_trading keeps its cursor at the top level, a replay feed inside ``feed``."""
    for source in (exchange, exchange.get("feed") or {}):
        if isinstance(source.get("cursor"), int):
            return int(source["cursor"])
    return None


def _equity(payload: dict[str, Any]) -> float | None:
    """Account value at the last candle, from the snapshot's wallet (quote currency)."""
    report = payload.get("report") or {}
    if isinstance(report.get("final_equity"), int | float):
        return float(report["final_equity"])
    exchange = payload.get("exchange") or {}
    wallet = exchange.get("wallet") or {}
    symbol = (payload.get("config") or {}).get("symbol", "BTC/USDT")
    base, _, quote = str(symbol).partition("/")
    totals: dict[str, float] = {}
    for asset, amount in (wallet.get("free") or {}).items():
        totals[asset] = totals.get(asset, 0.0) + float(amount)
    for asset, amount in (wallet.get("holds") or {}).values():
        totals[asset] = totals.get(asset, 0.0) + float(amount)
    candle = exchange.get("candle")
    price = float(candle[5]) if isinstance(candle, list) and len(candle) == 7 else 0.0
    if not totals:
        return None
    return totals.get(quote, 0.0) + totals.get(base, 0.0) * price


def _position_line(payload: dict[str, Any]) -> str | None:
    """The base asset held, with the dust the market will not take shown apart."""
    from ats.exceptions import ConfigError
    from ats.exchanges.market_rules import MarketRules

    exchange = payload.get("exchange") or {}
    base = str((payload.get("config") or {}).get("symbol", "?/?")).partition("/")[0]
    wallet = exchange.get("wallet") or {}
    held = float((wallet.get("free") or {}).get(base, 0.0))
    holds = (wallet.get("holds") or {}).values()
    held += sum(float(amount) for asset, amount in holds if asset == base)
    if "balances" in exchange:  # live: the account's balances as last seen
        held = sum(float(v) for v in (exchange["balances"] or {}).get(base, [0.0, 0.0]))
    if not held:
        return None if not exchange else "flat"
    candle = exchange.get("candle")
    price = float(candle[5]) if isinstance(candle, list) and len(candle) == 7 else None
    try:
        sellable = MarketRules.from_config(exchange.get("market_rules")).sellable(held, price)
    except ConfigError:
        sellable = held
    dust = held - sellable
    if not sellable:
        return f"flat (dust {dust:.8g} {base}, below what the market takes)"
    return f"{sellable:.8g} {base}" + (f" + dust {dust:.8g} {base}" if dust > 0 else "")


def _store(settings: Settings) -> SnapshotStore:
    from ats.persistence.snapshot_store import SnapshotStore

    return SnapshotStore(settings.saved_states_dir)


def _load_saved(settings: Settings) -> list[_Saved]:
    store = _store(settings)
    return [_Saved(job_id, store.candidates(job_id)) for job_id in store.job_ids()]


def _resolve(saved: list[_Saved], wanted: str) -> _Saved:
    """Exact id, else a unique id prefix, else a unique job name."""
    from ats.exceptions import JobError

    for item in saved:
        if item.job_id == wanted:
            return item
    matches = [item for item in saved if item.job_id.startswith(wanted)]
    if not matches:
        matches = [item for item in saved if item.summary()["name"] == wanted]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JobError(f"no saved job {wanted!r} (see 'ats jobs list')")
    raise JobError(f"{wanted!r} matches {len(matches)} jobs; give more of the id")


async def _open_journal(settings: Settings) -> Journal | None:
    from ats.database.journal import Journal

    if not settings.journal_enabled or not settings.journal_file.is_file():
        return None
    return await Journal(settings.journal_file, readonly=True).open()


async def _from_journal(
    settings: Settings, read: Callable[[Journal], Awaitable[T]]
) -> tuple[T | None, str | None]:
    """``read`` on the journal opened read-only: (result, None); (None, None) without a
    journal; (None, why) when it cannot be read (damaged: the next start sets it aside).
    The snapshots are shown either way."""
    import sqlite3

    from ats.exceptions import StateError

    try:
        journal = await _open_journal(settings)
    except StateError as exc:
        return None, f"journal not read: {exc}"
    if journal is None:
        return None, None
    try:
        return await read(journal), None
    except sqlite3.DatabaseError as exc:
        return None, f"journal not read: {settings.journal_file}: {exc}"
    finally:
        await journal.close()


async def _list(settings: Settings, *, as_json: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from ats.persistence.directory_lock import holder_pid

    rows = [item.summary() for item in _load_saved(settings)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    console = Console()
    pid = holder_pid(settings.saved_states_dir) if settings.saved_states_dir.is_dir() else None
    if not rows:
        console.print(f"no saved jobs in {settings.saved_states_dir}")
        return EXIT_OK
    title = f"saved jobs in {settings.saved_states_dir}"
    if pid:
        title += f" (ATS running, pid {pid})"
    table = Table(title=title, title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("JOB", overflow="ellipsis", min_width=12)
    table.add_column("STATUS", no_wrap=True)
    for column in ("CANDLES", "FILLS", "OPEN", "EQUITY"):
        table.add_column(column, justify="right")
    table.add_column("SAVED")
    for row in rows:
        status = row["status"]
        if row["from_backup"]:
            status += " (backup)"
        table.add_row(
            row["job_id"],
            f"{row['name']} · {row['strategy'] or '?'} on {row['exchange'] or '?'}",
            status,
            "" if row["candles_done"] is None else f"{row['candles_done']:,}",
            str(row["fills"]),
            str(row["open_orders"]),
            "" if row["equity"] is None else f"{row['equity']:,.2f}",
            (row["saved_at"] or "")[5:16].replace("T", " "),
        )
    console.print(table)
    for row in rows:
        for problem in row["problems"]:
            console.print(f"[yellow]{row['job_id']}: {problem}[/]", highlight=False)
        if row["restore_note"]:
            text = f"{row['job_id']}: {row['restore_note']}"
            console.print(text, style="yellow", markup=False, highlight=False)
    return EXIT_OK


async def _show(settings: Settings, wanted: str) -> int:
    import yaml
    from rich.console import Console

    item = _resolve(_load_saved(settings), wanted)
    summary = item.summary()
    payload = item.payload
    console = Console()
    console.print(f"[bold]{summary['name']}[/] ({item.job_id}) — {summary['status']}")
    if summary["error"]:
        console.print(f"error: {summary['error']}", markup=False, highlight=False)
    for problem in item.problems:
        console.print(f"[yellow]{problem}[/]", highlight=False)
    if summary["restore_note"]:
        console.print(summary["restore_note"], style="yellow", markup=False, highlight=False)
    if item.candidate is not None:
        on_backup = item.candidate.path.name.endswith(".bak")
        source = "previous good copy" if on_backup else "current snapshot"
        console.print(f"saved at {summary['saved_at']} ({source})")
    if payload.get("config"):
        console.print("\n[bold]config[/]")
        console.print(yaml.safe_dump(payload["config"], sort_keys=False).rstrip(), markup=False)
    exchange = payload.get("exchange") or {}
    wallet = exchange.get("wallet") or {}
    if wallet:
        console.print("\n[bold]balances[/] (free + held)")
        held: dict[str, float] = {}
        for asset, amount in (wallet.get("holds") or {}).values():
            held[asset] = held.get(asset, 0.0) + amount
        for asset in sorted(set(wallet.get("free") or {}) | set(held)):
            free = (wallet.get("free") or {}).get(asset, 0.0)
            console.print(f"  {asset:<8} {free:>18,.8f} + {held.get(asset, 0.0):,.8f}")
    position = _position_line(payload)
    if position:
        console.print(f"\n[bold]position[/]: {position}", highlight=False)
    open_orders = [o for o in exchange.get("orders") or [] if o.get("status") in _OPEN]
    console.print(f"\n[bold]open orders[/]: {len(open_orders)}")
    for order in open_orders[:20]:
        console.print(
            f"  #{order['id']} {order['client_order_id']} {order['side']} {order['type']} "
            f"{order['amount']:.8g} @ {order.get('price') or order.get('stop_price') or 'market'}",
            highlight=False,
        )
    console.print(f"fills: {summary['fills']}   candles done: {summary['candles_done']}")
    if summary["equity"] is not None:
        console.print(f"equity: {summary['equity']:,.2f}")

    async def read(journal: Journal) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return await journal.logs(item.job_id, limit=15), await journal.trades(item.job_id)

    found, unread = await _from_journal(settings, read)
    if unread is not None:
        console.print(unread, style="yellow", markup=False, highlight=False)
    if found is not None:
        logs, trades = found
        console.print(f"trades (journal): {len(trades)}")
        if logs:
            console.print("\n[bold]recent log[/]")
            for line in logs:
                console.print(f"  {line['level']:<7} ", end="", highlight=False)
                console.print(line["message"], markup=False, highlight=False)
    return EXIT_OK


async def _export(settings: Settings, wanted: str, output: Path | None) -> int:
    import os

    item = _resolve(_load_saved(settings), wanted)
    data: dict[str, Any] = {
        "job_id": item.job_id,
        "saved_at": item.candidate.saved_at if item.candidate else None,
        "from_backup": item.from_backup,
        "problems": item.problems,
        "snapshot": item.payload or None,
        "journal": None,
    }
    data["journal"], unread = await _from_journal(settings, lambda j: j.export(item.job_id))
    if unread is not None:
        data["problems"] = [*item.problems, unread]
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    return EXIT_OK


async def _delete(settings: Settings, wanted: str) -> int:
    import sqlite3

    from ats.database.journal import Journal
    from ats.exceptions import JobError, StateError
    from ats.persistence.directory_lock import holder_pid

    item = _resolve(_load_saved(settings), wanted)
    pid = holder_pid(settings.saved_states_dir) if settings.saved_states_dir.is_dir() else None
    if pid:
        raise JobError(
            f"ATS is running on {settings.saved_states_dir} (pid {pid}); delete the job from "
            "the console or stop ATS first"
        )
    _store(settings).delete(item.job_id)
    if settings.journal_enabled and settings.journal_file.is_file():
        try:
            async with Journal(settings.journal_file) as journal:
                await journal.delete_job(item.job_id)
        except (StateError, sqlite3.DatabaseError) as exc:  # damaged: the next start sets
            print(f"ats: warning: journal rows kept: {exc}", file=sys.stderr)  # it aside
    print(f"deleted job {item.job_id}")
    return EXIT_OK


def _add(settings: Settings, config_path: Path, new_id: str | None, *, start: bool) -> int:
    from ats.exceptions import ATSError, JobError, naming
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
    store = _store(settings)
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
