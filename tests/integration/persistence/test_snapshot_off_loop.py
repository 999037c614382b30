"""Saving a finished backtest with tens of thousands of orders keeps the event loop free:
its history is written from the text encoded in a worker thread, and its report (every
trade) is redacted in a worker thread, once (bench/ui_latency.py measures the effect)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import read_payload, settings_for, write_candles

from ats.exchanges.data_classes import Fill, Order
from ats.persistence import persistent_jobs as persistent_module
from ats.persistence.canonical_json import canonical_json
from ats.persistence.persistent_jobs import PersistentJobs
from ats.trading_job.job_manager import JobManager
from ats.utils.redaction import redact_data, register_secret


def plain(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


async def test_the_file_snapshot_is_the_same_text_without_making_the_dicts(
    tmp_path: Path,
) -> None:
    data = write_candles(tmp_path / "c.csv", 20_000)
    manager = JobManager()
    job = manager.create(backtest_config(data, fast=2, slow=3))
    manager.start(job.id)
    await manager.wait(job.id)
    assert job.exchange is not None and len(job.exchange.get_fills()) > 2_000
    readable = job.snapshot()
    for_file = job.snapshot(for_file=True)
    assert canonical_json(for_file) == plain(readable) == canonical_json(readable)
    with pytest.raises(TypeError):
        json.dumps(for_file)  # never half-written by a plain encoder


async def test_a_finished_jobs_snapshot_makes_no_history_dicts_and_no_redaction_on_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop_thread = threading.get_ident()
    on_loop: list[str] = []

    def spied(name: str, function: Any) -> Any:
        def spy(*args: Any) -> Any:
            if threading.get_ident() == loop_thread:
                on_loop.append(name)
            return function(*args)

        return spy

    monkeypatch.setattr(Order, "to_dict", spied("order", Order.to_dict))
    monkeypatch.setattr(Fill, "to_dict", spied("fill", Fill.to_dict))
    monkeypatch.setattr(persistent_module, "redact_data", spied("redact", redact_data))
    register_secret("snapshot-off-loop-secret")  # so that redaction walks the report
    data = write_candles(tmp_path / "c.csv", 20_000)
    manager = JobManager()
    persistence = PersistentJobs(manager, settings_for(tmp_path / "state"))
    await persistence.open()
    job = manager.create(backtest_config(data, fast=2, slow=3))
    manager.start(job.id)
    await manager.wait(job.id)
    assert job.exchange is not None and job.report is not None
    on_loop.clear()
    assert await persistence.snapshot(job.id, force=True)
    open_orders = [order for order in job.exchange.get_orders() if order.is_open]
    assert on_loop == ["order"] * len(open_orders)  # only what can still change
    await persistence.close()
    saved = read_payload(tmp_path / "state", job.id)
    assert saved is not None
    assert saved["exchange"]["fills"] == [fill.to_dict() for fill in job.exchange.get_fills()]
    assert len(saved["report"]["trades"]) == len(job.report["trades"]) > 1_000
