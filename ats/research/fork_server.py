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
from multiprocessing.context import BaseContext

WORKER_MODULE = "ats.research.process_pool"


def fork_server_context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([WORKER_MODULE])
    return context


def start_fork_server() -> None:
    """Start it now (it is started on the first worker otherwise)."""
    fork_server_context()
    multiprocessing.forkserver.ensure_running()
