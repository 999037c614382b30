"""Trials on every core of this machine: a pool of worker processes.

Workers are forks of this process or of a fork server (:mod:`ats.research.worker_start`).
A fork reads the parent's candle arrays, which it has already; a fork server's worker
attaches to a copy of them in shared memory (:mod:`ats.research.shared_candles`). Each
then runs trial after trial on them. A worker whose parent died (``kill -9``) exits at
once instead of waiting forever for work.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

from ats.data.candles import CandleData
from ats.exceptions import ATSError
from ats.research.shared_candles import CandleHandle, SharedCandles, attach
from ats.research.trial import TrialResult, TrialTask, run_trial
from ats.research.worker_start import worker_context
from ats.trading_job.job_config import JobConfig
from ats.utils.plugins import PluginLoader


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class _Worker:
    base: JobConfig
    data: CandleData
    memory: shared_memory.SharedMemory | None
    """The block the candles are read from (None in a fork: they are the parent's)."""
    loader: PluginLoader
    runner: asyncio.Runner
    """One event loop for every trial: its default executor's thread (the backtest's
    ``to_thread`` calls) is started once, not twice a trial (bench/optimize_speed.py)."""


_worker: _Worker | None = None


def _start_worker(candles: CandleData | CandleHandle, base_json: str, custom_root: str) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.enable()  # a fork of a command inherits its start-up without collections
    _exit_with_parent()
    data, memory = (candles, None) if isinstance(candles, CandleData) else attach(candles)
    base = JobConfig.model_validate_json(base_json)
    loader = PluginLoader(custom_root)
    with contextlib.suppress(ATSError):  # if it cannot load, each trial's row says why
        loader.strategy_class(base.strategy.name)  # imported now, not in the first trial
    _worker = _Worker(base, data, memory, loader, asyncio.Runner())
    # The engine's modules are imported for good: full collections need not walk their
    # objects after every few trials (a tenth of a trial, bench/optimize_speed.py).
    gc.freeze()


def _run(task: TrialTask) -> TrialResult:
    assert _worker is not None, "worker not started"
    return run_trial(_worker.base, _worker.data, task, _worker.loader, _worker.runner)


def _ready() -> bool:
    return _worker is not None


def _exit_with_parent() -> None:
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ProcessPool:
    """A :class:`~ats.research.executor.TrialExecutor` over local worker processes."""

    def __init__(
        self,
        base: JobConfig,
        data: CandleData,
        *,
        workers: int,
        custom_root: Path,
        fork: bool = False,
    ) -> None:
        """``fork``: the workers may be forks of this process (a one-shot command with one
        thread, :mod:`ats.research.worker_start`); otherwise they come from a fork server."""
        self.workers = max(int(workers), 1)
        self.queued = 2 * self.workers
        """One task running and one waiting per worker (see :meth:`run`)."""
        self.description = f"{self.workers} worker process{'es' if self.workers > 1 else ''}"
        context = worker_context(fork=fork)
        # A fork has the parent's arrays (their pages are shared until written, and none
        # is): no copy into shared memory, and no resource tracker process started to
        # watch the block, both serial time of a sweep (bench/optimize_speed.py).
        forks = context.get_start_method() == "fork"
        self._candles = None if forks else SharedCandles(data)
        try:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_start_worker,
                initargs=(
                    data if self._candles is None else self._candles.handle,
                    base.model_dump_json(),
                    str(custom_root.resolve()),
                ),
            )
        except BaseException:
            if self._candles is not None:
                self._candles.close()
            raise
        # Forks are made now, while this process has one thread (the pool's own thread
        # starts after them); a fork server's workers start in a thread, as the server
        # may still be importing. Either way the workers get ready (attach, import the
        # strategy) while the caller goes on with its own start-up: both are serial time
        # of a sweep (bench/optimize_speed.py).
        readiness = self._submit_ready() if forks else None
        self._starting = threading.Thread(
            target=self._start, args=(readiness,), name="start-workers", daemon=True
        )
        self._starting.start()

    def _submit_ready(self) -> list[Future[bool]]:
        return [self._pool.submit(_ready) for _ in range(self.workers)]

    def _start(self, readiness: list[Future[bool]] | None) -> None:
        with contextlib.suppress(BrokenProcessPool):  # the trials will say so
            for ready in readiness or self._submit_ready():
                ready.result()

    def warm_up(self) -> None:
        """Wait until every worker is started and ready (blocking: a console calls it in
        a thread, so that submitting trials on its loop never waits for a fork)."""
        for ready in self._submit_ready():
            ready.result()

    async def run(self, tasks: Sequence[TrialTask]) -> AsyncIterator[TrialResult]:
        """Hand the pool at most :attr:`queued` tasks at a time, the next as each ends.

        The pool runs what it is handed in that order: a task handed over later (the
        per-candle check of a sweep's best trial) starts after those few, not after
        every trial of the sweep. Enough are handed over that no worker waits for this
        loop between two trials.
        """
        loop = asyncio.get_running_loop()
        waiting = collections.deque(tasks)
        running: set[asyncio.Future[TrialResult]] = set()

        def hand_over() -> None:
            while waiting and len(running) < self.queued:
                running.add(loop.run_in_executor(self._pool, _run, waiting.popleft()))

        hand_over()
        try:
            while running:
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                hand_over()
                for future in finished:
                    yield future.result()
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        try:
            self._starting.join()
            self._pool.shutdown(wait=True, cancel_futures=True)
        finally:
            if self._candles is not None:
                self._candles.close()
