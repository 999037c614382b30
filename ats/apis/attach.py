"""``ats attach``: the console on a running ATS, through its control API.

The very same console (:class:`~ats.ui.app.AtsApp`, one UI code path) runs on a
:class:`~ats.apis.remote_control.RemoteJobControl` instead of an in-process JobManager:
everything it shows comes from the same views, every key sends the same command. The
jobs belong to the other process: ``ctrl+d`` detaches and leaves them running, and so
does a dropped ssh connection. ``q`` does what it does in the console that runs them:
that process stops every job, saves and exits (POST /api/v1/process/stop), and this
console closes saying so. Several consoles may attach at once.

No engine module is loaded here: attaching costs the console's own start-up only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ats.exceptions import ConfigError

EXIT_LOST = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--socket PATH`` or ``--url URL`` (token from ATS_API_TOKEN); also for ats jobs."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--socket",
        type=Path,
        metavar="PATH",
        help="the control API's unix socket (default: <saved_states>/ats.sock)",
    )
    where.add_argument(
        "--url",
        metavar="URL",
        help="the control API over TCP, e.g. http://127.0.0.1:8765 (token: ATS_API_TOKEN)",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "attach",
        help="open the console on a running ATS (ats --no-ui, or another console); "
        "ctrl+d detaches and leaves the jobs running, q stops and saves them as in the "
        "console that runs them",
    )
    add_arguments(parser)
    return parser


def remote_control(args: argparse.Namespace, *, required: bool = True) -> Any:
    """The RemoteJobControl ``args`` point at; ConfigError (one line) when there is none
    to reach. Not required (``ats jobs``): None when no ATS runs on the state directory."""
    from ats.apis.listen import socket_path
    from ats.apis.remote_control import RemoteJobControl
    from ats.utils.settings import Settings

    settings = Settings()
    if getattr(args, "url", None):
        token = settings.api_token.get_secret_value() if settings.api_token else None
        if not token:
            raise ConfigError("--url needs the API's token: set ATS_API_TOKEN (env or .env)")
        return RemoteJobControl(url=args.url, token=token)
    socket_file = getattr(args, "socket", None) or socket_path(settings)
    if not socket_file.exists():
        if not required:
            return None
        raise ConfigError(
            f"no ATS is running on {settings.saved_states_dir} (no {socket_file}); start it "
            "with 'ats' or 'ats --no-ui', or give --socket/--url"
        )
    return RemoteJobControl(socket_file=socket_file)


def run(args: argparse.Namespace) -> int:
    from ats.ui.settings import UI_SETTINGS_NAME

    control = remote_control(args)
    asyncio.run(_reachable(control))  # one line before Textual takes the terminal
    # On the same machine, the theme is the one the process's own console uses.
    settings_path = control.socket_file.parent / UI_SETTINGS_NAME if control.socket_file else None
    return asyncio.run(attach(control, settings_path=settings_path))


async def _reachable(control: Any) -> None:
    try:
        await control.job_ids()
    finally:
        await control.close()


async def attach(control: Any, **app_options: Any) -> int:
    """Run the console on ``control`` until it detaches (0) or the process goes away (1)."""
    from ats.ui.app import AtsApp

    app_options.setdefault("settings_path", None)
    app = AtsApp(control=control, demo=False, stop_process=control.stop_process, **app_options)
    control.on_lost = app.lose_connection
    try:
        await app.run_async()
    finally:
        await control.close()
    if app.process_stopping:
        print(
            f"ats attach: the ATS at {control.where} is stopping its jobs and saving them "
            "(running ones resume at its next start)"
        )
        return 0
    if app.lost is not None:
        print(f"ats attach: {app.lost}", file=sys.stderr)
        return EXIT_LOST
    print(f"detached from {control.where}; the jobs keep running ('ats attach' to return)")
    return app.return_code or 0
