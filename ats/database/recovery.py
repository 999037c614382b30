"""Recovery: the journal made to agree with a job restored from its snapshot, and a damaged
journal file moved aside.

The snapshot is the source of truth. A backtest may be journaled ahead of its snapshot
(its replay writes the same fills again, with the same ``seq``); a paper or live job's
snapshot is written before the journal commits, so the journal may lack what the
snapshot has. :func:`reconcile` fixes both. A damaged file is moved aside
(:func:`quarantine`) and a fresh journal is rebuilt by reconciling every restored job
into it (``ats.persistence.journal_keeper``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from ats.database import rows
from ats.database.batch import job_row
from ats.database.sources import JournaledJob
from ats.utils.redaction import redact


def quarantine(path: Path) -> Path:
    """Move a damaged journal (and its -wal and -shm files) aside, to
    ``<name>.corrupt-<UTC time>``, so a fresh one can be started in its place. The
    connection must be closed. Returns the new path of the main file."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
    for suffix in ("-wal", "-shm"):  # first: a fresh journal must never meet an old WAL
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.replace(companion, target.with_name(target.name + suffix))
    os.replace(path, target)
    return target


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What :func:`reconcile` did, and what the writer has committed of the job since."""

    fills: int
    dropped: int
    added: int
    trades_closed: int

    def counts(self) -> dict[str, int]:
        """For the job's log."""
        return {"fills": self.fills, "dropped": self.dropped, "added": self.added}


async def reconcile(db: aiosqlite.Connection, job: JournaledJob) -> Reconciled | None:
    """Make the journal agree with a job just restored from its snapshot (None if the job
    has no exchange yet). The caller holds the connection's lock.

    Fills beyond the snapshot's are deleted (a backtest replays them, identically),
    fills the snapshot has but the journal lacks are inserted (the snapshot of a
    paper/live job is written before the journal commits), orders, trades and
    balances are rewritten, and status history past the snapshot is dropped.
    """
    exchange = job.exchange
    if exchange is None:
        return None
    now = time.time()
    fills = exchange.get_fills()
    orders = exchange.get_orders()
    trades = exchange.get_trades()
    balances = exchange.get_balances()
    progress_ts = exchange.progress.timestamp
    found = list(
        await db.execute_fetchall("SELECT COUNT(*) FROM fills WHERE job_id = ?", (job.id,))
    )
    before = found[0][0] if found else 0
    await db.execute("BEGIN IMMEDIATE")
    try:
        await db.execute(rows.UPSERT_JOB, job_row(job, now))
        cursor = await db.execute(
            "DELETE FROM fills WHERE job_id = ? AND seq > ?", (job.id, len(fills))
        )
        dropped = cursor.rowcount
        await rows.UPSERT_FILL.run(
            db, rows.flat(rows.fill_row(job.id, i + 1, fill, now) for i, fill in enumerate(fills))
        )
        await db.execute("DELETE FROM orders WHERE job_id = ?", (job.id,))
        await rows.UPSERT_ORDER.run(db, rows.flat(rows.order_row(job.id, o) for o in orders))
        await db.execute(
            "DELETE FROM order_status WHERE job_id = ? AND order_id NOT IN "
            "(SELECT order_id FROM orders WHERE job_id = ?)",
            (job.id, job.id),
        )
        for order in orders:
            if order.is_open:
                await db.execute(rows.DROP_LATER_HISTORY, (job.id, order.id, order.filled))
        await rows.INSERT_HISTORY.run(
            db,
            rows.flat(
                (job.id, redact(o.id), str(o.status), o.filled, o.last_update, now) for o in orders
            ),
        )
        await db.execute("DELETE FROM trades WHERE job_id = ?", (job.id,))
        await rows.UPSERT_TRADE.run(
            db, rows.flat(rows.trade_row(job.id, i, t) for i, t in enumerate(trades))
        )
        await db.execute("DELETE FROM balances WHERE job_id = ?", (job.id,))
        await rows.UPSERT_BALANCE.run(
            db, rows.flat((job.id, a, b.free, b.used, now) for a, b in balances.items())
        )
        if progress_ts is not None:
            await db.execute(
                "DELETE FROM equity WHERE job_id = ? AND timestamp_ms > ?",
                (job.id, progress_ts),
            )
        await db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        raise
    closed = 0
    while closed < len(trades) and not trades[closed].is_open:
        closed += 1
    return Reconciled(
        fills=len(fills),
        dropped=max(dropped, 0),
        added=max(len(fills) - (before or 0) + max(dropped, 0), 0),
        trades_closed=closed,
    )
