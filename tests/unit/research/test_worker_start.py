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
