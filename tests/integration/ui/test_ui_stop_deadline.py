"""Issue 14, item 2 in the console: ``q`` is bounded by the stop deadline.

A job that does not honour a stop (its exchange waits on something that never comes,
as a live job behind an unreachable exchange does) is cancelled where it waits once half
the deadline has passed; the console saves and exits within the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from job_configs import backtest_config
from ui_helpers import press, wait_for

from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus
from ats.ui.app import AtsApp
from ats.utils.plugins import PluginLoader

DEAF_EXCHANGE = '''
import asyncio

from ats.exchanges.exchanges.back_trading.exchange import Exchange as BackTrading


class Exchange(BackTrading):
    """Waits for candles that never come, and never looks at the stop request."""

    name = "deaf"

    async def run(self, control: object) -> None:
        self.deaf = True  # the test presses q once the job waits here
        await asyncio.Event().wait()
'''
DEADLINE = 1.0


async def test_q_exits_within_the_deadline_whatever_a_job_waits_for(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    plugin = tmp_path / "custom" / "exchanges" / "deaf.py"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(DEAF_EXCHANGE)
    manager = JobManager(loader=PluginLoader(tmp_path / "custom"))
    config = backtest_config(name="deaf").model_dump()
    config["exchange"]["name"] = "deaf"
    deaf = manager.create(type(backtest_config()).model_validate(config))
    good = manager.create(backtest_config(name="good"))
    saved: list[tuple[JobStatus, JobStatus]] = []

    async def on_quit() -> None:
        saved.append((deaf.status, good.status))

    app = make_app(manager, on_quit=on_quit, stop_deadline_s=DEADLINE)
    async with app.run_test() as pilot:
        manager.start(deaf.id)
        await wait_for(pilot, lambda: getattr(deaf.exchange, "deaf", False), timeout=15)
        began = time.monotonic()
        await press(pilot, "q")
        await wait_for(pilot, lambda: bool(saved), timeout=DEADLINE + 4)
        quit_seconds = time.monotonic() - began
    assert saved == [(JobStatus.STOPPED, JobStatus.CREATED)]
    assert quit_seconds < DEADLINE + 4
    messages = [log.message for log in deaf.logs]
    assert "stop deadline: not stopped 0.5s after the stop: cancelled where it was waiting" in (
        messages
    )
    assert app.return_code == 0
