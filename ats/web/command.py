"""``ats web``: arguments, checks and the serving loop (see :mod:`ats.web`).

It refuses to start, with one line and exit 2, without ``ATS_API_TOKEN``, with a token
that is too short, on a non-loopback ``--host`` without ``--allow-remote``, or when no
ATS is running to attach to. The token is never printed: the line it prints names the
address to open with ``?token=<ATS_API_TOKEN>`` left for the user to fill in.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import signal
import sys
from typing import Any

from ats.exceptions import ConfigError

DEFAULT_PORT = 8642


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    from ats.apis import attach

    parser = subparsers.add_parser(
        "web",
        help="serve the console in a browser on 127.0.0.1 (open it through an ssh tunnel), "
        "protected by ATS_API_TOKEN and attached to the running ATS like 'ats attach'",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default loopback)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone reaching it can try the token; "
        "prefer an ssh tunnel)",
    )
    attach.add_arguments(parser)  # which running ATS: --socket or --url
    return parser


def run(args: argparse.Namespace) -> int:
    from ats.apis import attach
    from ats.apis.listen import MIN_TOKEN_LENGTH, is_loopback
    from ats.utils.settings import Settings

    secret = Settings().api_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        raise ConfigError(
            "ats web needs a token: set ATS_API_TOKEN in the environment or .env (the "
            "console in a browser is never served without one)"
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"ATS_API_TOKEN is too short (at least {MIN_TOKEN_LENGTH} characters)")
    if not is_loopback(args.host) and not args.allow_remote:
        raise ConfigError(
            f"--host {args.host} is not a loopback address: use an ssh tunnel, or add "
            "--allow-remote if that is what you want"
        )
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port: {args.port} is not a port number")
    control = attach.remote_control(args)  # ConfigError when no ATS runs there
    asyncio.run(_reachable(control))
    where = ["--url", args.url] if args.url else ["--socket", str(control.socket_file.resolve())]
    command = shlex.join([sys.executable, "-m", "ats.cli", "attach", *where])
    return asyncio.run(serve(command, token, args.host, args.port))


async def _reachable(control: Any) -> None:
    """One line now, rather than a console that closes at once in the browser."""
    try:
        await control.job_ids()
    finally:
        await control.close()


async def serve(command: str, token: str, host: str, port: int) -> int:
    """Serve ``command``'s console until SIGINT or SIGTERM; 0."""
    from aiohttp import web

    from ats.web.console_server import ConsoleServer

    server = ConsoleServer(command, token=token)
    runner = web.AppRunner(await server.make_app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"ats web: cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = runner.addresses[0][1]
    url = f"http://{host}:{bound}/"
    print(
        f"ats web: serving the console on {url} ; open {url}?token=<ATS_API_TOKEN> "
        f"(from your machine: ssh -N -L {bound}:127.0.0.1:{bound} you@this-host)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0
