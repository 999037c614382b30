"""Batching: what the intake gathered since the last batch, turned into journal rows.

Status, log, report and removal events are handled in order; orders, balances, fills
and trades are read from the jobs' live state then (:mod:`ats.database.sources`), one
row per order per batch (the latest state wins), while every order event still adds its
own status-history row. A fill's per-job sequence number (``seq``, 1-based) is its index
in the account's fill list, the same index a snapshot's fill list has: that is what
makes recovery exact (:mod:`ats.database.recovery`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ats.database import rows
from ats.database.intake import SEP, Intake, order_key
from ats.database.sources import JobSource, JournaledAccount, JournaledJob
from ats.exceptions import JobError
from ats.exchanges.data_classes import Fill, Order
from ats.exchanges.equity_curve import equity_curve
from ats.trading_job.events import JobLog, JobProgress, JobRemoved, JobReport, JobStatusChanged
from ats.utils.redaction import redact, scrub_config, secrets_registered

logger = logging.getLogger(__name__)

COLLECT_SLICE = 1_000
"""Rows turned into a batch (or fills announced) between two yields to the event loop."""
EQUITY_SAMPLE_S = 1.0
"""At most one equity sample per job per this many wall seconds while a job runs."""


@dataclass(slots=True)
class Tracked:
    """What the writer knows about one job's exchange (the current run)."""

    exchange: JournaledAccount | None
    fills: int = 0
    """Fills committed so far (the next one gets seq ``fills + 1``)."""
    trades_closed: int = 0
    """Leading closed trades committed; later ones are rewritten as they change."""
    logs: int = 0
    equity: int = 0
    last_sample: float = 0.0


@dataclass(slots=True)
class Batch:
    """Rows gathered from one drain of the queue, written in one transaction."""

    resets: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    jobs: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    reports: list[tuple[str, float, str]] = field(default_factory=list)
    orders: list[Any] = field(default_factory=list)
    """One row per changed order, laid end to end (like ``history``, ``fills``, ``trades``)."""
    history: list[Any] = field(default_factory=list)
    """Status-history rows."""
    fills: list[Any] = field(default_factory=list)
    trades: list[Any] = field(default_factory=list)
    stale_trades: list[tuple[str, int]] = field(default_factory=list)
    balances: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)
    """The current balances of every job whose balances may have changed: one row per
    asset, however many changes the batch covers (they replace the job's rows)."""
    balance_jobs: list[str] = field(default_factory=list)
    equity: list[tuple[str, int, float]] = field(default_factory=list)
    equity_replace: dict[str, list[tuple[str, int, float]]] = field(default_factory=dict)
    logs: list[tuple[str, float, str, str]] = field(default_factory=list)
    fill_jobs: set[str] = field(default_factory=set)
    changed_jobs: set[str] = field(default_factory=set)
    committed: list[tuple[str, int, list[Fill]]] = field(default_factory=list)
    """(job id, seq of the first, fills) to announce as FillCommitted after the commit."""
    counters: dict[str, tuple[int, int]] = field(default_factory=dict)
    flat: dict[str, list[Any]] = field(default_factory=dict)
    """Row values laid end to end per table (see :meth:`flatten`)."""

    def flatten(self) -> None:
        """Lay every table's rows end to end as plain values.

        Rows are built this way from the start (each row tuple is freed at once): thousands
        of live tuples would make the garbage collector run, and walk the running
        backtest's data, all through a batch; strings and numbers are not tracked by it.
        """
        self.flat = {
            "orders": self.orders,
            "history": self.history,
            "fills": self.fills,
            "trades": self.trades,
            "balances": rows.flat(self.balances.values()),
            "equity": rows.flat(self.equity),
            "logs": rows.flat(self.logs),
        }
        self.orders, self.history, self.fills, self.trades = [], [], [], []
        self.balances, self.equity, self.logs = {}, [], []

    def job_ids(self) -> set[str]:
        """The jobs whose rows this batch holds (a failure is said in their logs)."""
        return {row[0] for row in self.jobs.values()} | self.fill_jobs

    def __bool__(self) -> bool:
        return any(self.flat.values()) or any(
            (
                self.resets,
                self.removed,
                self.jobs,
                self.reports,
                self.orders,
                self.history,
                self.fills,
                self.trades,
                self.balances,
                self.equity,
                self.equity_replace,
                self.logs,
            )
        )


class BatchBuilder:
    """Builds each :class:`Batch`, and keeps what is committed of each job's current run."""

    def __init__(self, equity_points: int) -> None:
        self.equity_points = equity_points
        self.manager: JobSource | None = None
        self.tracked: dict[str, Tracked] = {}

    def _job(self, job_id: str) -> JournaledJob | None:
        if self.manager is None:
            return None
        try:
            return self.manager.get(job_id)
        except JobError:
            return None

    # -- a batch -------------------------------------------------------------------------
    async def collect(self, intake: Intake, *, resync: bool, reports: dict[int, str]) -> Batch:
        """Turn what arrived into rows. Status, log, report and removal events are handled
        in order first; orders, balances, fills and trades are then read from the jobs'
        live state (one row per order per batch, the latest state wins), while every
        order event still adds its own status-history row.

        A big batch yields to the event loop every ``COLLECT_SLICE`` rows, so busy
        backtests never stall the console behind it; jobs may move on meanwhile, which
        only makes the rows newer (a paper or live job is snapshotted after this, before
        the commit)."""
        batch = Batch()
        now = time.time()
        removed: set[str] = set()
        stopped: set[str] = set()
        for event in intake.other:
            job_id = event.job_id
            if isinstance(event, JobLog):
                batch.logs.append((job_id, event.time, event.level, redact(event.message)))
            elif isinstance(event, JobStatusChanged):
                self._on_status(batch, job_id, now)
                stopped.add(job_id)
            elif isinstance(event, JobReport):
                await self._on_report(batch, job_id, reports[id(event)], now)
            elif isinstance(event, JobRemoved):
                batch.removed.append(job_id)
                removed.add(job_id)
                self.tracked.pop(job_id, None)
        for progress in intake.progress.values():
            self._sample_equity(batch, progress, now)
        masked = secrets_registered()
        for count, row in enumerate(
            zip(
                intake.h_job,
                intake.h_order,
                intake.h_status,
                intake.h_filled,
                intake.h_at,
                strict=True,
            ),
            1,
        ):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            if row[0] not in removed:
                order_id = redact(row[1]) if masked else row[1]
                batch.history.extend((row[0], order_id, str(row[2]), row[3], row[4], now))
        order_keys = list(intake.order_keys)
        fill_jobs = intake.fill_jobs - removed
        # Every order event may have moved balances (a hold placed, settled or released)
        # and a status change (a stop) records them as they are: one row per asset per
        # job per batch, read from the job's live state below.
        balance_jobs = (intake.balance_jobs | intake.changed | stopped) - removed
        batch.changed_jobs = (intake.changed | intake.balance_jobs) - removed
        if resync:
            logger.warning("journal fell behind and dropped events; resyncing from job state")
            for job in self.manager.jobs if self.manager is not None else []:
                self._on_status(batch, job.id, now)
                if job.exchange is not None:
                    order_keys.extend(
                        order_key(job.id, order.id) for order in job.exchange.get_orders()
                    )
                    fill_jobs.add(job.id)
                    balance_jobs.add(job.id)
        changed_orders: dict[tuple[str, str], Order] = {}
        for count, key in enumerate(order_keys, 1):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            job_id, _, order_id = key.partition(SEP)
            owner = None if job_id in removed else self._job(job_id)
            if owner is None or owner.exchange is None:
                continue
            try:
                order = owner.exchange.get_order(order_id)
            except KeyError:  # an order of an earlier run of this job
                continue
            changed_orders[job_id, order_id] = order
        for job_id in balance_jobs:
            holder = self._job(job_id)
            if holder is not None and holder.exchange is not None:
                batch.balance_jobs.append(job_id)
                for asset, balance in holder.exchange.get_balances().items():
                    batch.balances[(job_id, asset)] = (
                        job_id,
                        asset,
                        balance.free,
                        balance.used,
                        now,
                    )
        batch.fill_jobs = fill_jobs
        for job_id in fill_jobs:
            await self._collect_fills(batch, job_id, now)
        # Order rows last (as they are then, each row read once): an order is never
        # behind the fills of the same batch.
        for count, ((job_id, _), order) in enumerate(changed_orders.items(), 1):
            if not count % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.orders.extend(rows.order_row(job_id, order))
        batch.flatten()
        return batch

    def _on_status(self, batch: Batch, job_id: str, now: float) -> None:
        job = self._job(job_id)
        if job is None:
            return
        tracked = self.tracked.get(job_id)
        if tracked is None:
            self.tracked[job_id] = Tracked(job.exchange)
        elif tracked.exchange is not job.exchange:
            # A new run (exchange rebuilt): its fills start again at seq 1.
            batch.resets.append(job_id)
            self.tracked[job_id] = Tracked(job.exchange)
        batch.jobs[job_id] = job_row(job, now)

    async def _on_report(self, batch: Batch, job_id: str, text: str, now: float) -> None:
        """Store the final report (as :func:`_report_json` encoded it) and replace the job's
        equity samples by its whole curve, downsampled to ``equity_points``."""
        batch.reports.append((text, now, job_id))
        job = self._job(job_id)
        if job is None:
            return
        replay = job.capabilities.replay
        if replay is not None and replay.data is None:
            # Restarted before this report was journaled: the new run has no candles yet
            # and the report's run is gone; its equity samples stay as they were.
            logger.debug("job %s: run replaced before its report; equity curve kept", job_id)
            return
        try:
            timestamps, equity = await self._sampled_curve(job)
        except Exception:  # a report without a curve is still worth keeping
            logger.exception("job %s: equity curve not journaled with its report", job_id)
            return
        batch.equity_replace[job_id] = [
            (job_id, int(ts), float(value))
            for ts, value in zip(timestamps.tolist(), equity.tolist(), strict=True)
        ]

    async def _sampled_curve(self, job: JournaledJob) -> tuple[np.ndarray, np.ndarray]:
        """At most ``equity_points`` + 1 points of the equity curve, first and last kept.

        A backtest's curve is rebuilt from its fills at the sampled candles only (the
        full 1M-point curve is not needed for that), in a worker thread: it walks every
        fill, ~0.1 s on the loop for a 50,000-trade backtest (bench/ui_latency.py)."""
        exchange, replay = job.exchange, job.capabilities.replay
        if exchange is not None and replay is not None and replay.data is not None:
            data, cursor = replay.data, replay.cursor
            if cursor <= 0:
                return np.empty(0, dtype=np.int64), np.empty(0)
            indices = _sample_indices(cursor, self.equity_points)
            timestamps = data.timestamps[indices]
            curve = await asyncio.to_thread(
                equity_curve,
                timestamps,
                data.close[indices],
                dict(exchange.initial_balances),
                exchange.get_fills(),  # a copy: the job may run again meanwhile
                exchange.symbol,
            )
            return timestamps, curve
        timestamps, equity = job.equity_curve()
        indices = _sample_indices(len(timestamps), self.equity_points)
        return timestamps[indices], equity[indices]

    def _sample_equity(self, batch: Batch, event: JobProgress, now: float) -> None:
        tracked = self.tracked.get(event.job_id)
        if tracked is None or event.timestamp is None or not math.isfinite(event.equity):
            return
        if now - tracked.last_sample < EQUITY_SAMPLE_S:
            return
        tracked.last_sample = now
        batch.equity.append((event.job_id, int(event.timestamp), float(event.equity)))

    async def _collect_fills(self, batch: Batch, job_id: str, now: float) -> None:
        """New fills and every trade since the first open one; yields like :meth:`_collect`
        (what the lists hold past their length at the start waits for the next batch)."""
        job = self._job(job_id)
        tracked = self.tracked.get(job_id)
        if job is None or job.exchange is None or tracked is None:
            return
        if tracked.exchange is not job.exchange:
            batch.resets.append(job_id)
            tracked = self.tracked[job_id] = Tracked(job.exchange)
        fills = job.exchange.get_fills()
        fill_count = len(fills)
        start = tracked.fills
        if fill_count < start:  # state went back (restored elsewhere): rewrite from zero
            batch.resets.append(job_id)
            start = 0
        added = list(fills[start:fill_count])
        for index, fill in enumerate(added, start + 1):
            if not index % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.fills.extend(rows.fill_row(job_id, index, fill, now))
        if added:
            batch.committed.append((job_id, start + 1, added))
        closed = tracked.trades_closed if start else 0
        trades = job.exchange.get_trades()
        trade_count = len(trades)
        if trade_count < closed:
            closed = 0
            batch.stale_trades.append((job_id, 0))
        for index in range(closed, trade_count):
            if not (index + 1) % COLLECT_SLICE:
                await asyncio.sleep(0)
            batch.trades.extend(rows.trade_row(job_id, index, trades[index]))
        while closed < trade_count and not trades[closed].is_open:
            closed += 1
        batch.counters[job_id] = (fill_count, closed)


def job_row(job: JournaledJob, now: float) -> tuple[Any, ...]:
    """The ``jobs`` row: identity, config (credentials masked), status and error."""
    config, _masked = scrub_config(job.config.model_dump(mode="json"))
    return (
        job.id,
        job.config.name,
        job.mode,
        json.dumps(config),
        str(job.status),
        redact(job.error) if job.error else None,
        now,
        now,
    )


def _sample_indices(count: int, points: int) -> np.ndarray:
    """Evenly spaced indices into ``count`` items: every ``step``-th, plus the last."""
    if count <= 0:
        return np.empty(0, dtype=np.int64)
    step = max(1, math.ceil(count / points))
    indices = np.arange(0, count, step, dtype=np.int64)
    if indices[-1] != count - 1:
        indices = np.append(indices, count - 1)
    return indices
