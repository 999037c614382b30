"""The fork server that worker processes start from.

A fork server is a clean process that imported the engine once (``WORKER_MODULE``): each
worker is a fork of it, so it starts in milliseconds and inherits no thread or open file
of the command. Starting it first thing lets it import while the command parses its
arguments and reads the candles (bench/optimize_speed.py: about half a second less per
sweep, all of it serial time).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import sys
from multiprocessing.context import BaseContext

WORKER_MODULE = "ats.research.process_pool"
PRELOAD = (
    WORKER_MODULE,
    # What each worker's first trial would import otherwise: every trial is a back_trading
    # backtest. And ats.cli, which each worker imports again as the ``ats`` script's
    # ``__mp_main__`` (multiprocessing's spawn preparation): then it is already there.
    "ats.exchanges.exchanges.back_trading.exchange",
    "ats.cli",
)


def fork_server_context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def start_fork_server() -> None:
    """Start it now (it is started on the first worker otherwise).

    Under a Textual app ``sys.stderr`` is the app's print capture, whose ``fileno()``
    is -1: multiprocessing's resource tracker would hand that to the new process and
    fail ("bad value(s) in fds_to_keep"). The process's real stderr is handed instead,
    as it would be without a console.
    """
    fork_server_context()
    captured = sys.stderr
    try:
        if sys.__stderr__ is not None and _fileno(captured) < 0:
            sys.stderr = sys.__stderr__
        multiprocessing.forkserver.ensure_running()
    finally:
        sys.stderr = captured


def _fileno(stream: object) -> int:
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return -1
