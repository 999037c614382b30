"""Reading the journal: what ``ats jobs`` and the console ask of it (rows as dicts)."""

from __future__ import annotations

import json
from typing import Any

import aiosqlite

from ats.exceptions import StateError
from ats.exchanges.data_classes import Fill, OrderSide, Trade

TRADE_RANGE = (
    "SELECT symbol, entry_ms, entry_price, amount, exit_ms, exit_price, fees, pnl "
    "FROM trades WHERE job_id = ? AND idx BETWEEN ? AND ? ORDER BY idx DESC"
)
"""A run of round trips, newest first: one search of the ``(job_id, idx)`` primary key."""
FILL_RANGE = (
    "SELECT order_id, symbol, side, amount, price, fee, fee_currency, timestamp_ms, taker "
    "FROM fills WHERE job_id = ? AND seq BETWEEN ? AND ? ORDER BY seq DESC"
)
"""A run of fills, newest first: one search of the ``(job_id, seq)`` primary key."""


class JournalQueries:
    """The read side of :class:`~ats.database.journal.Journal` (also on a read-only one)."""

    _db: aiosqlite.Connection | None = None
    _reader: aiosqlite.Connection | None = None
    """A second, read-only connection for pages the console waits for (see ``reader``)."""

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StateError("journal is not open")
        return self._db

    @property
    def reader(self) -> aiosqlite.Connection:
        """Where the pages a front end waits for are read: a connection (and thread) of
        its own, so that a page never queues behind the writer's transactions (in WAL
        mode it reads the last commit while the writer writes). Opening a Trades pane
        waited 50-200 ms behind the journaling of running backtests (bench/ui_latency.py).
        """
        return self._reader if self._reader is not None else self.db

    async def jobs(self) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT j.job_id, j.name, j.mode, j.status, j.error, j.created_at, j.updated_at, "
            "(SELECT COUNT(*) FROM fills f WHERE f.job_id = j.job_id) AS fills, "
            "(SELECT COUNT(*) FROM orders o WHERE o.job_id = j.job_id "
            " AND o.status IN ('open', 'partially_filled')) AS open_orders "
            "FROM jobs j ORDER BY j.created_at"
        )

    async def job(self, job_id: str) -> dict[str, Any] | None:
        rows = await self._rows("SELECT * FROM jobs WHERE job_id = ?", job_id)
        if not rows:
            return None
        row = rows[0]
        row["config"] = json.loads(row["config"])
        row["report"] = json.loads(row["report"]) if row["report"] else None
        return row

    async def orders(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT * FROM orders WHERE job_id = ? ORDER BY created_ms, "
            "CAST(order_id AS INTEGER), order_id",
            job_id,
        )

    async def order_history(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM order_status WHERE job_id = ? ORDER BY id", job_id)

    async def fills(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM fills WHERE job_id = ? ORDER BY seq", job_id)

    async def trades(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM trades WHERE job_id = ? ORDER BY idx", job_id)

    async def trade_range(self, job_id: str, first: int, last: int) -> list[Trade]:
        """Round trips ``first`` to ``last`` (0-based, inclusive), newest first, as
        journaled (without per-asset fees): a page costs the same however many the job has.
        """
        found = await self.reader.execute_fetchall(TRADE_RANGE, (job_id, first, last))
        return [Trade(*row) for row in found]

    async def fill_range(self, job_id: str, first: int, last: int) -> list[Fill]:
        """Fills ``first`` to ``last`` (0-based: ``seq`` - 1, inclusive), newest first, as
        journaled (without a third asset's fee value)."""
        found = await self.reader.execute_fetchall(FILL_RANGE, (job_id, first + 1, last + 1))
        return [
            Fill(order_id, symbol, OrderSide(side), amount, price, fee, currency, ms, bool(taker))
            for order_id, symbol, side, amount, price, fee, currency, ms, taker in found
        ]

    async def balances(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows("SELECT * FROM balances WHERE job_id = ? ORDER BY asset", job_id)

    async def equity(self, job_id: str) -> list[dict[str, Any]]:
        return await self._rows(
            "SELECT timestamp_ms, equity FROM equity WHERE job_id = ? ORDER BY timestamp_ms",
            job_id,
        )

    async def logs(self, job_id: str, limit: int | None = None) -> list[dict[str, Any]]:
        if limit is None:
            return await self._rows("SELECT * FROM logs WHERE job_id = ? ORDER BY id", job_id)
        rows = await self._rows(
            "SELECT * FROM logs WHERE job_id = ? ORDER BY id DESC LIMIT ?", job_id, limit
        )
        return rows[::-1]

    async def export(self, job_id: str) -> dict[str, Any] | None:
        """Everything journaled about a job, as JSON-ready data."""
        job = await self.job(job_id)
        if job is None:
            return None
        return {
            "job": job,
            "orders": await self.orders(job_id),
            "order_history": await self.order_history(job_id),
            "fills": await self.fills(job_id),
            "trades": await self.trades(job_id),
            "balances": await self.balances(job_id),
            "equity": await self.equity(job_id),
            "logs": await self.logs(job_id),
        }

    async def _rows(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        cursor = await self.db.execute(sql, params)
        try:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]
        finally:
            await cursor.close()

    async def _scalar(self, sql: str, *params: Any) -> Any:
        rows = list(await self.db.execute_fetchall(sql, params))
        return rows[0][0] if rows else None
