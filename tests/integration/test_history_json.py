"""Snapshot history encoded once gives exactly the text of encoding it all again."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ats.demo import demo_backtest_config
from ats.persistence.canonical_json import canonical_json
from ats.trading_job.job_manager import JobManager
from ats.utils.encoded_history import EncodedHistory, HistoryCache


def plain(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
items = st.lists(st.dictionaries(st.text(max_size=4), json_values, max_size=4), max_size=8)


@given(items=items, frozen=st.integers(0, 8), other=json_values, key=st.text(max_size=6))
def test_encoded_history_gives_the_plain_encoding(
    items: list[dict[str, Any]], frozen: int, other: Any, key: str
) -> None:
    frozen = min(frozen, len(items))
    history = EncodedHistory(items, frozen, plain(items[:frozen])[1:-1])
    payload = {"a": other, "exchange": {key: history, "more": [other]}, "b": history}
    assert canonical_json(payload) == plain(payload)
    assert history.to_json() == plain(items)


def test_a_string_that_looks_like_the_marker_is_left_alone() -> None:
    history = EncodedHistory([{"x": 1}], 1, '{"x":1}')
    payload = {"note": "\x00ats-history-0", "h": history, "n": float("1e-05")}
    assert canonical_json(payload) == plain(payload)


def test_nan_is_refused_in_new_and_frozen_items() -> None:
    cache = HistoryCache(lambda value: {"v": value}, lambda value: value > 0)
    with pytest.raises(ValueError):
        canonical_json({"h": cache.encode([float("nan")])})  # not final: encoded each time
    with pytest.raises(ValueError):
        cache.encode([float("inf")])  # final: encoded into the cache at once


def test_cache_freezes_only_the_leading_final_items() -> None:
    calls: list[int] = []

    def to_dict(value: int) -> dict[str, Any]:
        calls.append(value)
        return {"v": value}

    cache = HistoryCache(to_dict, lambda value: value % 2 == 0)
    first = cache.encode([2, 4, 5, 6])
    assert (first.frozen, list(first)) == (2, [{"v": 2}, {"v": 4}, {"v": 5}, {"v": 6}])
    calls.clear()
    second = cache.encode([2, 4, 8, 6, 7])  # 5 became 8: a change to a not-final item
    assert second.frozen == 4
    assert calls[:2] == [8, 6]  # only the newly final items are added to the cached text
    assert second.to_json() == plain([{"v": v} for v in (2, 4, 8, 6, 7)])
    assert cache.encode([2]).frozen == 1  # a shorter history: started again


async def test_backtest_snapshots_equal_fresh_encodings_all_along() -> None:
    """Snapshot a real backtest between every slice, warming the cache in a thread every
    other time: what the cache gives always equals encoding the exchange's orders and
    fills from scratch, and the order dicts too."""
    manager = JobManager()
    job = manager.create(demo_backtest_config())
    manager.start(job.id)
    compared = 0
    while True:
        exchange = job.exchange
        assert exchange is not None
        if compared % 2:
            await exchange.warm_history()  # the job runs on meanwhile
        snapshot = exchange.snapshot()
        fresh = {
            **snapshot,
            "orders": [order.to_dict() for order in exchange.get_orders()],
            "fills": [fill.to_dict() for fill in exchange.get_fills()],
        }
        assert snapshot == fresh
        assert canonical_json(snapshot) == plain(fresh)
        compared += 1
        await asyncio.sleep(0)
        if not job.status.is_active:
            break
    assert compared > 1
    exchange = job.exchange
    assert exchange is not None and len(exchange.get_fills()) > 20
    final = exchange.snapshot()
    assert final["orders"].frozen == len(exchange.get_orders())  # type: ignore[attr-defined]


async def test_warm_history_encodes_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[str] = set()
    encode_final = HistoryCache.encode_final

    def spy(self: HistoryCache[Any], items: Any) -> Any:
        threads.add(threading.current_thread().name)
        return encode_final(self, items)

    manager = JobManager()
    job = manager.create(demo_backtest_config())
    manager.start(job.id)
    await job.wait()
    exchange = job.exchange
    assert exchange is not None
    monkeypatch.setattr(HistoryCache, "encode_final", spy)
    await exchange.warm_history()
    assert threads and threading.current_thread().name not in threads
    threads.clear()
    snapshot = exchange.snapshot()
    assert not threads  # nothing left to encode on the event loop
    assert snapshot["orders"].frozen == len(exchange.get_orders())  # type: ignore[attr-defined]
    assert snapshot["fills"].frozen == len(exchange.get_fills())  # type: ignore[attr-defined]
