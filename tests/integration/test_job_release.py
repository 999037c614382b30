"""A finished run's objects are freed by reference counting when the job moves on.

Without :meth:`BaseExchange.release` the strategy and the listeners kept each run in
reference cycles, so only a full GC freed its orders, fills and trades: with the console's
jobs restarting, that was hundreds of ms of stopped event loop every few seconds.
"""

from __future__ import annotations

import gc
import weakref

import pytest

from ats.demo import DEMO_DATA, demo_backtest_config
from ats.exchanges.data_classes import Order
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager


def _replay_config() -> dict:  # type: ignore[type-arg]
    return {
        "name": "replay",
        "exchange": {
            "name": "paper",
            "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": 0},
        },
        "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
    }


def _live_orders() -> int:
    return sum(1 for item in gc.get_objects() if type(item) is Order)


@pytest.mark.parametrize("config", [demo_backtest_config(), parse_job_config(_replay_config())])
async def test_a_restart_frees_the_previous_run_without_a_gc(config, no_gc) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager()
    job = manager.create(config)
    manager.start(job.id)
    await job.wait()
    assert job.exchange is not None and job.exchange.get_orders()
    previous_exchange = weakref.ref(job.exchange)
    previous_strategy = weakref.ref(job.strategy)
    orders_after_one_run = _live_orders()

    manager.start(job.id)
    await job.wait()

    assert previous_exchange() is None and previous_strategy() is None
    assert _live_orders() == orders_after_one_run  # the new run's, not both runs'


async def test_delete_and_edit_free_the_job_without_a_gc(no_gc) -> None:  # type: ignore[no-untyped-def]
    manager = JobManager()
    deleted = manager.create(demo_backtest_config())
    edited = manager.create(demo_backtest_config())
    for job in (deleted, edited):
        manager.start(job.id)
        await job.wait()
    gone = [weakref.ref(deleted.exchange), weakref.ref(edited.exchange)]

    await manager.delete(deleted.id)
    replacement = manager.edit(edited.id, demo_backtest_config())
    del deleted, edited

    assert [ref() for ref in gone] == [None, None]
    assert replacement.cpu_share is manager.cpu_share  # an edited job shares the loop too
