"""How a sweep's worker processes start: forked from this process, or from a fork server.

* A one-shot command (``ats optimize``) has one thread when its pool starts, and it has
  imported much of the engine already to check the search. It imports the rest
  (``WORKER_MODULES``) and forks: each worker starts in a millisecond with everything
  imported, and no second interpreter imports the same modules beside the command. On
  two cores the two import runs slowed each other down: a sweep's first trial began
  0.40-0.47 s after the command started with a fork server, 0.31 s with forks
  (bench/optimize_speed.py, whose scaling from one worker to two is mostly that
  serial start-up).
* A process with other threads (the console) must not fork: a thread holding a lock at
  that moment leaves the lock held forever in the child. Its workers are forks of a
  fork server, a clean process that imports ``WORKER_MODULES`` once; it is started
  first thing, so that it imports while the console reads the candles.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import multiprocessing.forkserver
import sys
import threading
from multiprocessing.context import BaseContext

WORKER_MODULES = (
    "ats.research.process_pool",
    # What each worker's first trial would import otherwise: every trial is a back_trading
    # backtest run by a job manager.
    "ats.exchanges.exchanges.back_trading.exchange",
    "ats.trading_job.backtest",
    "ats.trading_job.job_manager",
    # And ats.cli, which a fork server's worker imports again as the ``ats`` script's
    # ``__mp_main__`` (multiprocessing's spawn preparation): then it is already there.
    "ats.cli",
)


def can_fork() -> bool:
    """Whether workers may be forks of this process: on Linux, while it has one thread."""
    return sys.platform == "linux" and threading.active_count() == 1


def worker_context(*, fork: bool) -> BaseContext:
    """The context to start workers with: ``fork`` asks for forks of this process, which
    it gets while :func:`can_fork`; otherwise, and by default, the fork server."""
    if fork and can_fork():
        for module in WORKER_MODULES:
            importlib.import_module(module)
        # Objects made so far live as long as the command: the workers' collections need
        # not walk them, nor copy their pages by touching their reference counts.
        gc.freeze()
        return multiprocessing.get_context("fork")
    return fork_server_context()


def fork_server_context() -> BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WORKER_MODULES))
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
