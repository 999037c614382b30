"""Workers are forks of a one-threaded command, and come from a fork server otherwise."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="forks only on Linux")


def _start_method(setup: str, *, fork: bool = True) -> str:
    """The start method a fresh process gets after ``setup`` (a fresh process: a test
    runner may have threads of its own)."""
    code = textwrap.dedent(
        f"""
        import threading
        from ats.research.worker_start import worker_context
        {setup}
        print(worker_context(fork={fork}).get_start_method())
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_a_one_threaded_process_forks_its_workers() -> None:
    assert _start_method("") == "fork"


def test_a_process_with_another_thread_uses_the_fork_server() -> None:
    setup = "threading.Thread(target=threading.Event().wait, daemon=True).start()"
    assert _start_method(setup) == "forkserver"


def test_forks_inherit_the_worker_modules() -> None:
    """Nothing is left for a forked worker's first trial to import."""
    code = textwrap.dedent(
        """
        import sys
        from ats.research.worker_start import WORKER_MODULES, worker_context
        worker_context(fork=True)
        print(all(name in sys.modules for name in WORKER_MODULES))
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert output == "True"


def test_a_pool_that_may_not_fork_uses_the_fork_server() -> None:
    """The console's pools: its threads must never be forked, even when none runs yet."""
    assert _start_method("", fork=False) == "forkserver"


def test_a_forked_worker_collects_garbage_though_its_command_started_without() -> None:
    """``ats optimize`` starts up with collections off (see its ``run``); its forks must
    not inherit that, or every reference cycle of every trial would stay in memory."""
    code = textwrap.dedent(
        """
        import gc
        from pathlib import Path
        import numpy as np
        from ats.data.candles import CandleData
        from ats.research.process_pool import ProcessPool
        from ats.trading_job.job_config import parse_job_config
        gc.disable()
        prices = np.full(10, 100.0)
        data = CandleData(
            path=Path("x.csv"), timeframe_ms=60_000,
            timestamps=np.arange(10, dtype=np.int64) * 60_000,
            open=prices, high=prices, low=prices, close=prices, volume=prices,
        )
        base = parse_job_config({
            "name": "gc", "strategy": {"name": "sma_cross", "params": {}},
            "exchange": {"name": "back_trading", "params": {"data": "x.csv"}},
        })
        pool = ProcessPool(base, data, workers=1, custom_root=Path("custom_modules"), fork=True)
        try:
            method = pool._pool._mp_context.get_start_method()
            print(method, pool._pool.submit(gc.isenabled).result())
        finally:
            pool.close()
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert output == "fork True"


def test_forked_workers_read_the_parents_candles_without_a_shared_memory_copy() -> None:
    """A fork has the candles already: the pool makes no shared-memory block, so no
    resource tracker process is started either (both were serial time of every sweep),
    and a trial's row is the one the same backtest gives in the parent."""
    code = textwrap.dedent(
        """
        import asyncio, os
        from pathlib import Path
        import numpy as np
        from ats.data.candles import CandleData
        from ats.research.process_pool import ProcessPool
        from ats.research.trial import TrialTask, run_trial
        from ats.trading_job.job_config import parse_job_config
        prices = 100 + np.cumsum(np.random.default_rng(1).normal(size=5_000))
        data = CandleData(
            path=Path("x.csv"), timeframe_ms=60_000,
            timestamps=np.arange(5_000, dtype=np.int64) * 60_000,
            open=prices, high=prices + 1, low=prices - 1, close=prices, volume=prices,
        )
        base = parse_job_config({
            "name": "fork", "strategy": {"name": "sma_cross", "params": {}},
            "exchange": {"name": "back_trading", "params": {"data": "x.csv"}},
        })
        task = TrialTask(0, {"fast": 5, "slow": 30})
        blocks = set(os.listdir("/dev/shm"))
        pool = ProcessPool(base, data, workers=2, custom_root=Path("custom_modules"), fork=True)
        try:
            async def sweep():
                return [row async for row in pool.run([task])]
            [row] = asyncio.run(sweep())
            children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text()
            own = Path("/proc/self/cmdline").read_bytes()
            commands = [Path(f"/proc/{child}/cmdline").read_bytes() for child in children.split()]
            print(pool._pool._mp_context.get_start_method())
            print(sorted(set(os.listdir("/dev/shm")) - blocks))
            # Two children, both forks (a resource tracker is a new interpreter).
            print(len(commands), all(command == own for command in commands))
            print(row.trades > 0 and row == run_trial(base, data, task))
        finally:
            pool.close()
        """
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split("\n")
    assert output[:4] == ["fork", "[]", "2 True", "True"]
