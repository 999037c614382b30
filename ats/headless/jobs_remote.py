"""``ats jobs ...`` while ATS runs: the same commands, sent to the running process through
its control API (``<saved_states>/ats.sock``) instead of refusing.

The process that holds the state directory owns its jobs (it would write a deleted job
back, and only it can start one), so while it runs, ``list``, ``show``, ``add``,
``delete`` and the job commands (``start``, ``stop``, ``pause``, ``resume``, ``reload``,
``speed``, ``kill-switch``) go to it and answer from its live read model. ``export``
keeps reading the files, which is safe while ATS runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ats.exceptions import ConfigError, JobError

if TYPE_CHECKING:
    from ats.apis.remote_control import RemoteJobControl
    from ats.trading_job.views import JobView
    from ats.utils.settings import Settings

EXIT_OK = 0
JOB_COMMANDS = {
    "start": "start it",
    "stop": "stop it (it is saved and can be started again)",
    "pause": "pause it",
    "resume": "resume it",
    "reload": "re-import its strategy code, keeping its state",
}
STOP_WAIT_S = 10.0
"""How long ``ats jobs stop`` waits for the job to end before saying it is stopping."""
STOP_POLL_S = 0.05
LIVE_ONLY = frozenset({"start", "stop", "pause", "resume", "reload", "speed", "kill-switch"})
"""Actions that need a running ATS (the others also work on the saved files)."""


def add_actions(actions: Any) -> None:
    """The job commands of ``ats jobs`` that only a running ATS can carry out."""
    for name, what in JOB_COMMANDS.items():
        parser = actions.add_parser(name, help=f"running ATS: {what}")
        parser.add_argument("job_id", metavar="ID", help="job id (a unique prefix or name)")
    speed = actions.add_parser("speed", help="running ATS: set a replay job's speed")
    speed.add_argument("job_id", metavar="ID")
    speed.add_argument("factor", type=float, metavar="FACTOR", help="times real time (0: max)")
    actions.add_parser("kill-switch", help="running ATS: cancel every open order of live jobs")


def running_control(settings: Settings) -> RemoteJobControl | None:
    """The control API of the ATS running on ``settings``' state directory, if one runs:
    its socket accepts connections (from the moment it is bound, before the restore; a
    socket left by a process that died refuses them)."""
    from ats.apis.listen import serving, socket_path
    from ats.apis.remote_control import RemoteJobControl

    socket_file = socket_path(settings)
    return RemoteJobControl(socket_file=socket_file) if serving(socket_file) else None


def not_running(settings: Settings, action: str) -> ConfigError:
    return ConfigError(
        f"'ats jobs {action}' needs a running ATS on {settings.saved_states_dir} (start "
        "'ats' or 'ats --no-ui'; 'ats jobs add JOB.yaml --start' starts a job next time)"
    )


async def run(control: RemoteJobControl, args: argparse.Namespace) -> int:
    async with control:
        action = args.jobs_action
        if action == "list":
            return await _list(control, as_json=args.json)
        if action == "kill-switch":
            cancelled = await control.kill_switch()
            print(f"kill switch: {cancelled} open order(s) cancelled")
            return EXIT_OK
        if action == "add":
            return await _add(control, args.config, args.new_id, start=args.start)
        view = await resolve(control, args.job_id)
        label = f"{view.name} ({view.job_id})"
        if action == "show":
            if args.trades or args.fills:  # the console's pages, from the running ATS
                from ats.headless.trades_command import print_rows, read_pages

                rows = await read_pages(control, view.job_id, fills=args.fills)
                return print_rows(view.name, view.job_id, rows, fills=args.fills, as_csv=args.csv)
            if args.csv:
                raise ConfigError("--csv goes with --trades or --fills")
            return await _show(control, view)
        if action == "delete":
            await control.delete(view.job_id)
            print(f"deleted job {label}")
        elif action == "speed":
            speed = await control.set_speed(view.job_id, args.factor)
            print(f"{label}: speed {speed:g}x")
        elif action == "stop":
            await control.stop(view.job_id)
            print(f"{label}: {await _once_stopped(control, view.job_id)}")
        elif action in JOB_COMMANDS:
            await getattr(control, action)(view.job_id)
            print(f"{label}: {(await control.job(view.job_id)).status}")
        else:
            raise ConfigError(f"'ats jobs {action}' works on the saved files only: stop ATS first")
    return EXIT_OK


async def _once_stopped(control: RemoteJobControl, job_id: str) -> str:
    """The job's status once its stop took effect: a stop is cooperative (the job ends
    at its next checkpoint, a loaded machine may take a while), so "running" right after
    it would be a wrong answer. ``stopping`` if it has not ended within
    :data:`STOP_WAIT_S`."""
    import asyncio
    import time

    from ats.apis.wire import ApiUnavailable

    deadline = time.monotonic() + STOP_WAIT_S
    while True:
        try:
            status = (await control.job(job_id)).status
        except ApiUnavailable:  # it was the last job: the process saved it and ended
            return "stopped; ATS ended (no job left running)"
        if not status.is_active:
            return str(status)
        if time.monotonic() > deadline:
            return "stopping (it ends at its next candle)"
        await asyncio.sleep(STOP_POLL_S)


async def resolve(control: RemoteJobControl, wanted: str) -> JobView:
    """Exact id, else a unique id prefix, else a unique job name (as for saved jobs)."""
    views = await control.jobs()
    for view in views:
        if view.job_id == wanted:
            return view
    matches = [view for view in views if view.job_id.startswith(wanted)]
    if not matches:
        matches = [view for view in views if view.name == wanted]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise JobError(f"no job {wanted!r} in the running ATS (see 'ats jobs list')")
    raise JobError(f"{wanted!r} matches {len(matches)} jobs; give more of the id")


async def _list(control: RemoteJobControl, *, as_json: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    from ats.trading_job.views import to_json

    views = await control.jobs()
    if as_json:
        print(json.dumps([json.loads(to_json(view)) for view in views], indent=2))
        return EXIT_OK
    table = Table(title=f"jobs in the running ATS ({control.where})", title_justify="left")
    table.add_column("ID", no_wrap=True)
    table.add_column("JOB", overflow="ellipsis", min_width=12)
    table.add_column("STATUS", no_wrap=True)
    for column in ("PROGRESS", "FILLS", "OPEN", "EQUITY", "P&L %"):
        table.add_column(column, justify="right")
    for view in views:
        fraction = view.progress.fraction
        table.add_row(
            view.job_id,
            f"{view.name} · {view.strategy} on {view.exchange}",
            str(view.status) + (" ⚠" if view.error else ""),
            f"{view.progress.done:,}" + ("" if fraction is None else f" ({fraction:.0%})"),
            "" if view.fill_count is None else str(view.fill_count),
            str(len(view.open_orders)),
            "" if view.equity is None else f"{view.equity:,.2f}",
            "" if view.pnl_pct is None else f"{view.pnl_pct:+.2f}",
        )
    Console().print(table)
    return EXIT_OK


async def _show(control: RemoteJobControl, view: JobView) -> int:
    import yaml
    from rich.console import Console

    console = Console()
    console.print(f"[bold]{view.name}[/] ({view.job_id}) — {view.status} (running ATS)")
    if view.error:
        console.print(f"error: {view.error}", markup=False, highlight=False)
    config = await control.job_config(view.job_id)
    console.print("\n[bold]config[/]")
    console.print(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False).rstrip())
    if view.balances:
        console.print("\n[bold]balances[/] (free + held)")
        for balance in view.balances:
            console.print(f"  {balance.asset:<8} {balance.free:>18,.8f} + {balance.used:,.8f}")
    if view.position is not None and not view.position.is_flat:
        console.print(f"\n[bold]position[/]: {view.position.amount:.8g} {view.base}")
    console.print(f"\n[bold]open orders[/]: {len(view.open_orders)}")
    for order in view.open_orders[:20]:
        price = order.price or order.stop_price or "market"
        console.print(
            f"  #{order.order_id} {order.side} {order.type} {order.amount:.8g} @ {price}",
            highlight=False,
        )
    console.print(f"fills: {view.fill_count or 0}   candles done: {view.progress.done}")
    if view.equity is not None:
        console.print(f"equity: {view.equity:,.2f}")
    page = await control.logs(view.job_id)
    if page.lines:
        console.print("\n[bold]recent log[/]")
        for line in page.lines[-15:]:
            console.print(f"  {line.level:<7} ", end="", highlight=False)
            console.print(line.message, markup=False, highlight=False)
    return EXIT_OK


async def _add(
    control: RemoteJobControl, config_path: Path, new_id: str | None, *, start: bool
) -> int:
    from ats.exceptions import ATSError, naming
    from ats.trading_job.job_config import load_job_config

    if new_id is not None:
        raise ConfigError("--id: the running ATS names its jobs; add without --id")
    config = load_job_config(config_path)
    try:
        job_id = await control.create(config)
    except ATSError as exc:
        raise naming(exc, str(config_path)) from None
    if start:
        await control.start(job_id)
    print(job_id)
    return EXIT_OK
