"""Issue 14, item 2: stops are bounded.

Real ``ats --no-ui`` processes are sent SIGTERM while a strategy is stuck (the
watchdog's own limit turned off, so only the stop deadline can end it), while a job
waits on something that never comes, and twice in a row. Each exits within the
configured deadline (plus a generous margin for a loaded machine) and leaves snapshots
that ``ats jobs list`` reads. The live exchange case is in tests/ccxt.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from persist_helpers import write_candles
from stuck_jobs import (
    AtsProcess,
    custom_modules,
    env,
    replay,
    save_jobs,
    saved_jobs,
    stuck,
)

DEADLINE = 2.0
MARGIN = 8.0
"""Start-up of the interpreter is not in it, but a loaded 2-core CI box is."""

NEVER_CONNECTS = '''
import asyncio
import time

from ats.exchanges.exchanges.back_trading.exchange import Exchange as BackTrading


class Exchange(BackTrading):
    """Connects through a worker thread that never returns (a library call hung in C)."""

    name = "never_connects"

    async def connect(self) -> None:
        Exchange.started.touch()
        await asyncio.to_thread(time.sleep, 3600)
'''


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_candles(tmp_path_factory.mktemp("candles") / "candles.csv", 2_000)


def stuck_and_replay(tmp_path: Path, candles: Path, **settings: str) -> tuple[Path, AtsProcess]:
    """``ats --no-ui`` running a replay beside a strategy spinning at its 50th candle,
    with the watchdog's own limits off: only a stop can interrupt it."""
    custom = custom_modules(tmp_path)
    state, marker = tmp_path / "state", tmp_path / "hanging"
    jobs = {
        "replay": replay(candles, speed=1.0),
        "stuck": stuck(candles, "spin", marker=str(marker)),
    }
    save_jobs(state, custom, jobs)
    ats = env(state, custom, watchdog_backtest_s="0", watchdog_paper_s="0", **settings)
    return marker, AtsProcess(tmp_path, ats, "--no-ui")


async def test_sigterm_ends_a_process_whose_strategy_is_stuck(
    tmp_path: Path, candles: Path
) -> None:
    marker, ats = stuck_and_replay(tmp_path, candles, stop_deadline_s=str(DEADLINE))
    try:
        await ats.until(marker.exists, 60, "the strategy to hang")
        status, _ = await ats.stopped_by(signal.SIGTERM, DEADLINE + MARGIN)
    finally:
        ats.kill()
    assert status == 1, ats.output()  # a job ended in error
    saved = saved_jobs(tmp_path / "state", tmp_path)
    assert saved["stuck"]["status"] == "error"
    assert "while stopping" in saved["stuck"]["error"]
    assert saved["replay"]["status"] == "running"  # stopped by the signal: resumes next time


async def test_a_second_sigterm_exits_at_once_after_a_last_snapshot(
    tmp_path: Path, candles: Path
) -> None:
    # A long deadline: only the second signal can make it quick.
    marker, ats = stuck_and_replay(tmp_path, candles, stop_deadline_s="120")
    try:
        await ats.until(marker.exists, 60, "the strategy to hang")
        ats.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)  # two signals at once are one to Python's handler
        assert ats.process.poll() is None
        status, _ = await ats.stopped_by(signal.SIGTERM, MARGIN)
    finally:
        ats.kill()
    assert "second SIGTERM: exiting now; state saved" in ats.output()
    assert status == 0
    saved = saved_jobs(tmp_path / "state", tmp_path)
    assert saved["stuck"]["status"] == "error"
    assert "interrupted by a second SIGTERM" in saved["stuck"]["error"]
    assert saved["replay"]["status"] == "running"


async def test_past_the_deadline_the_process_ends_with_one_line(
    tmp_path: Path, candles: Path
) -> None:
    """The last resort: a worker thread that never returns keeps Python from exiting
    after everything was saved; the watchdog thread ends the process at the deadline."""
    custom = custom_modules(tmp_path)
    started = tmp_path / "connecting"
    plugin = custom / "exchanges" / "never_connects.py"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text(
        NEVER_CONNECTS.replace("Exchange.started", f"__import__('pathlib').Path({str(started)!r})")
    )
    job = replay(candles, name="hung")
    job["exchange"] = {"name": "never_connects", "params": {"data": str(candles)}}
    state = tmp_path / "state"
    save_jobs(state, custom, {"hung": job})
    ats = AtsProcess(tmp_path, env(state, custom, stop_deadline_s=str(DEADLINE)), "--no-ui")
    try:
        await ats.until(started.exists, 60, "the connect to start")
        status, _ = await ats.stopped_by(signal.SIGTERM, DEADLINE + MARGIN)
    finally:
        ats.kill()
    lines = [line for line in ats.output().splitlines() if "stop deadline" in line]
    assert lines == [
        f"ats: stop deadline of {DEADLINE:g}s passed after every job was saved; exiting"
    ]
    assert status == 0
    assert saved_jobs(state, tmp_path)["hung"]["status"] == "running"
