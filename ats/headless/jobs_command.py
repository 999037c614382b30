"""``ats jobs list|show|export|delete|add``: saved jobs from a shell, without the console.

Headless inspection of what ``saved_states/`` holds, for servers without the console.
While an ATS process holds the directory, the commands go to it through its control
API instead (:mod:`ats.headless.jobs_remote`: live views, and start/stop/...); without
its socket (an older ATS), reading still works on the files and ``delete`` refuses,
because that process would write the job back.

Only argparse is imported at module level: ``ats --help`` must stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ats.headless.exit_codes import EXIT_OK
from ats.headless.saved_jobs import (
    OPEN,
    from_journal,
    load_saved,
    position_line,
    resolve,
    snapshot_store,
)

if TYPE_CHECKING:
    from ats.database.journal import Journal
    from ats.utils.settings import Settings


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
    show.add_argument(
        "--trades", action="store_true", help="every round trip, newest first (as the console)"
    )
    show.add_argument("--fills", action="store_true", help="every fill, newest first")
    show.add_argument("--csv", action="store_true", help="with --trades/--fills: CSV output")
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
    from ats.headless.jobs_remote import add_actions

    add_actions(actions)
    return jobs


def run_jobs_command(args: argparse.Namespace) -> int:
    """Entry point for ``ats jobs ...``; ATSError propagates to the CLI's handler."""
    from ats.headless import jobs_remote
    from ats.utils.settings import Settings

    settings = Settings()
    action = args.jobs_action
    control = jobs_remote.running_control(settings)  # ATS runs: ask it (its socket)
    if control is not None and action != "export":
        return asyncio.run(jobs_remote.run(control, args))
    if action in jobs_remote.LIVE_ONLY:
        raise jobs_remote.not_running(settings, action)
    if action == "list":
        return asyncio.run(_list(settings, as_json=args.json))
    if action == "show":
        if args.trades or args.fills:
            from ats.headless.trades_command import show_trades

            saved = resolve(load_saved(settings), args.job_id)
            return show_trades(saved.job_id, saved.payload, fills=args.fills, as_csv=args.csv)
        if args.csv:
            from ats.exceptions import ConfigError

            raise ConfigError("--csv goes with --trades or --fills")
        return asyncio.run(_show(settings, args.job_id))
    if action == "export":
        return asyncio.run(_export(settings, args.job_id, args.output))
    if action == "delete":
        return asyncio.run(_delete(settings, args.job_id))
    if action == "add":
        from ats.headless.job_add import add_job

        return add_job(settings, args.config, args.new_id, start=args.start)
    raise AssertionError(action)


async def _list(settings: Settings, *, as_json: bool) -> int:
    from rich.console import Console

    from ats.headless.fitted_table import FitColumn, FittedTable
    from ats.persistence.directory_lock import holder_pid

    rows = [item.summary() for item in load_saved(settings)]
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
    columns = (
        FitColumn("ID", 0),
        FitColumn("JOB", 0, wrap=True),
        FitColumn("STATUS", 1),
        FitColumn("EQUITY", 2, "right"),
        FitColumn("FILLS", 3, "right"),
        FitColumn("CANDLES", 4, "right"),
        FitColumn("OPEN", 5, "right"),
        FitColumn("SAVED", 6),
    )
    cells = []
    for row in rows:
        status = row["status"]
        if row["from_backup"]:
            status += " (backup)"
        cells.append(
            (
                row["job_id"],
                f"{row['name']} · {row['strategy'] or '?'} on {row['exchange'] or '?'}",
                status,
                "" if row["equity"] is None else f"{row['equity']:,.2f}",
                str(row["fills"]),
                "" if row["candles_done"] is None else f"{row['candles_done']:,}",
                str(row["open_orders"]),
                (row["saved_at"] or "")[5:16].replace("T", " "),
            )
        )
    note = "narrow terminal: {} not shown (--json has every column)"
    table = FittedTable(columns, cells, title=title, dropped_note=note)
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

    item = resolve(load_saved(settings), wanted)
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
    position = position_line(payload)
    if position:
        console.print(f"\n[bold]position[/]: {position}", highlight=False)
    open_orders = [o for o in exchange.get("orders") or [] if o.get("status") in OPEN]
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

    found, unread = await from_journal(settings, read)
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

    item = resolve(load_saved(settings), wanted)
    data: dict[str, Any] = {
        "job_id": item.job_id,
        "saved_at": item.candidate.saved_at if item.candidate else None,
        "from_backup": item.from_backup,
        "problems": item.problems,
        "snapshot": item.payload or None,
        "journal": None,
    }
    data["journal"], unread = await from_journal(settings, lambda j: j.export(item.job_id))
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

    item = resolve(load_saved(settings), wanted)
    pid = holder_pid(settings.saved_states_dir) if settings.saved_states_dir.is_dir() else None
    if pid:
        raise JobError(
            f"ATS is running on {settings.saved_states_dir} (pid {pid}); delete the job from "
            "the console or stop ATS first"
        )
    snapshot_store(settings).delete(item.job_id)
    if settings.journal_enabled and settings.journal_file.is_file():
        try:
            async with Journal(settings.journal_file) as journal:
                await journal.delete_job(item.job_id)
        except (StateError, sqlite3.DatabaseError) as exc:  # damaged: the next start sets
            print(f"ats: warning: journal rows kept: {exc}", file=sys.stderr)  # it aside
    print(f"deleted job {item.job_id}")
    return EXIT_OK
