"""Journal rows: what an order, a fill or a trade becomes, and the statements that write
them (shared by the batching writer and the recovery after a restore).

Rows are handed around laid end to end as plain values (:func:`flat`), the shape one
multi-row INSERT (:class:`Insert`) binds: see the writer for why.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from ats.exchanges.data_classes import Fill, Order, Trade
from ats.utils.redaction import redact

FINAL_STATUSES = ("filled", "canceled", "rejected", "expired")


def order_row(job_id: str, order: Order) -> tuple[Any, ...]:
    return (
        job_id,
        redact(order.id),
        redact(order.client_order_id),
        order.symbol,
        str(order.side),
        str(order.type),
        order.amount,
        order.price,
        order.stop_price,
        order.quote_amount,
        str(order.status),
        order.filled,
        order.cost,
        order.fee,
        order.fee_currency,
        order.timestamp,
        order.last_update,
        order.expires_at,
        int(order.triggered),
        redact(order.reason) if order.reason else None,
    )


def fill_row(job_id: str, seq: int, fill: Fill, now: float) -> tuple[Any, ...]:
    return (
        job_id,
        seq,
        redact(fill.order_id),
        fill.symbol,
        str(fill.side),
        fill.amount,
        fill.price,
        fill.fee,
        fill.fee_currency,
        fill.timestamp,
        int(fill.taker),
        now,
    )


def trade_row(job_id: str, index: int, trade: Trade) -> tuple[Any, ...]:
    return (
        job_id,
        index,
        trade.symbol,
        trade.entry_time,
        trade.entry_price,
        trade.amount,
        trade.exit_time,
        trade.exit_price,
        trade.fees,
        trade.pnl,
    )


def flat(rows: Iterable[Sequence[Any]]) -> list[Any]:
    """Row tuples laid end to end, the shape :class:`Insert` takes."""
    return [value for row in rows for value in row]


def drop_jobs(values: list[Any], columns: int, jobs: Container[str]) -> list[Any]:
    """Flat rows (job id first) without those of ``jobs``."""
    if not jobs:
        return values
    kept: list[Any] = []
    for start in range(0, len(values), columns):
        if values[start] not in jobs:
            kept.extend(values[start : start + columns])
    return kept


@dataclass(frozen=True, slots=True)
class Insert:
    """A multi-row INSERT: one statement binds up to ``_MAX_ROWS`` rows.

    ``executemany`` steps SQLite once per row, releasing and re-taking the GIL each
    time; next to a CPU-bound backtest every re-take waits for the loop's thread, so a
    batch crawled and the switches slowed the job. One statement per few hundred rows
    does the SQLite work in a single GIL-free step (bench/journal_overhead.py).
    """

    prefix: str
    columns: int

    def statements(self, values: Sequence[Any]) -> Iterable[tuple[str, Sequence[Any]]]:
        """SQL and parameters for rows laid end to end in ``values``."""
        if len(values) % self.columns:
            raise ValueError(f"{len(values)} values do not make rows of {self.columns}")
        per_statement = max(1, min(_MAX_ROWS, _MAX_PARAMS // self.columns))
        step = per_statement * self.columns
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            yield self._sql(len(chunk) // self.columns), chunk

    def _sql(self, count: int) -> str:
        group = "(" + ",".join("?" * self.columns) + ")"
        return f"{self.prefix} VALUES " + ",".join([group] * count)

    async def run(self, db: aiosqlite.Connection, values: Sequence[Any]) -> None:
        """Insert rows given end to end (:func:`flat` turns row tuples into that)."""
        for sql, params in self.statements(values):
            await db.execute(sql, params)


async def delete_rows(db: aiosqlite.Connection, job_id: str, tables: Iterable[str]) -> None:
    for table in tables:
        await db.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))


_MAX_ROWS = 500
_MAX_PARAMS = 32_766
"""SQLite's default bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32)."""

UPSERT_JOB = """
INSERT INTO jobs (job_id, name, mode, config, status, error, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id) DO UPDATE SET name = excluded.name, mode = excluded.mode,
    config = excluded.config, status = excluded.status, error = excluded.error,
    updated_at = excluded.updated_at
"""
UPSERT_ORDER = Insert("INSERT OR REPLACE INTO orders", 20)
INSERT_HISTORY = Insert(
    "INSERT OR IGNORE INTO order_status (job_id, order_id, status, filled, at_ms, recorded_at)", 6
)
UPSERT_FILL = Insert("INSERT OR REPLACE INTO fills", 12)
UPSERT_TRADE = Insert("INSERT OR REPLACE INTO trades", 10)
UPSERT_BALANCE = Insert("INSERT OR REPLACE INTO balances", 5)
UPSERT_EQUITY = Insert("INSERT OR REPLACE INTO equity (job_id, timestamp_ms, equity)", 3)
INSERT_LOG = Insert("INSERT INTO logs (job_id, time, level, message)", 4)
DROP_LATER_HISTORY = (
    "DELETE FROM order_status WHERE job_id = ? AND order_id = ? AND (filled > ? OR status IN ("
    + ", ".join(f"'{status}'" for status in FINAL_STATUSES)
    + "))"
)
PRUNE_LOGS = """
DELETE FROM logs WHERE job_id = ? AND id < (
    SELECT MIN(id) FROM (SELECT id FROM logs WHERE job_id = ? ORDER BY id DESC LIMIT ?)
)
"""
THIN_EQUITY = """
DELETE FROM equity WHERE job_id = ? AND rowid IN (
    SELECT rowid FROM equity WHERE job_id = ? ORDER BY timestamp_ms LIMIT ?
) AND rowid % 2 = 0
"""
