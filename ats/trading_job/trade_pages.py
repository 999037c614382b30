"""A job's round trips and fills a page at a time, newest first, from the journal when the
process keeps one (the console and ``ats --no-ui`` do).

A page of the journal is one search of a primary key (``(job_id, idx)`` for trades,
``(job_id, seq)`` for fills), so a job with 50,000 trades pages as cheaply as one with
50; the count is the engine's (``len`` of its list). The journal writes in batches and
rewrites the open trade as it moves, so the rows it has not written yet, always the
newest, come from the engine's lists (a slice, never a copy of the whole list): a page
has no gap and no duplicate whatever the journal's delay. Without a journal, or while it
holds another run of the job (just restarted), the page is the engine's alone.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ats.exceptions import StateError
from ats.exchanges.data_classes import Fill, Trade
from ats.trading_job import view_builder
from ats.trading_job.views import FillPage, TradePage

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange
    from ats.trading_job.trading_job import TradingJob

logger = logging.getLogger(__name__)

_READ_ERRORS = (sqlite3.Error, ValueError, StateError)
"""What reading the journal raises when it cannot answer: SQLite's errors, aiosqlite's
"no active connection" (closed meanwhile), the journal's "not open"."""
_reported: set[tuple[str, str]] = set()


class TradeHistory(Protocol):
    """Where a job's trades and fills are written as it runs: the journal
    (:class:`ats.database.journal.Journal`), set as ``JobManager.trade_history``."""

    def written_trades(self, job_id: str, account: object) -> int | None:
        """Leading round trips of the run whose exchange is ``account`` that are written
        and final; None if the history holds another run of the job."""
        ...

    def written_fills(self, job_id: str, account: object) -> int | None: ...

    async def trade_range(self, job_id: str, first: int, last: int) -> Sequence[Trade]:
        """Round trips ``first`` to ``last`` (0-based, inclusive), newest first."""
        ...

    async def fill_range(self, job_id: str, first: int, last: int) -> Sequence[Fill]: ...


async def trade_page(
    job: TradingJob, history: TradeHistory | None, offset: int, limit: int
) -> TradePage:
    """Round trips newest first, ``limit`` from ``offset``."""
    exchange = job.exchange
    written = _written(history, job, "trades")
    if history is None or exchange is None or written is None:
        return view_builder.trade_page(job, offset, limit)
    total = exchange.trade_count()
    start, stop = view_builder.page_span(total, offset, limit)
    split = min(max(written, start), stop)
    newest = exchange.trade_slice(split, stop)  # read now: the engine moves on meanwhile
    older: Sequence[Trade] = ()
    if start < split:
        try:
            older = await history.trade_range(job.id, start, split - 1)
        except _READ_ERRORS as exc:
            _report(job, exc)
            return view_builder.trade_page(job, offset, limit)
        if not _still_written(history, job, exchange, "trades", older, split - start):
            return view_builder.trade_page(job, offset, limit)
    trades = [*reversed(newest), *older]
    return TradePage(total, offset, tuple(view_builder.trade_view(t) for t in trades))


async def fill_page(
    job: TradingJob, history: TradeHistory | None, offset: int, limit: int
) -> FillPage:
    """Fills newest first, ``limit`` from ``offset``."""
    exchange = job.exchange
    written = _written(history, job, "fills")
    if history is None or exchange is None or written is None:
        return view_builder.fill_page(job, offset, limit)
    total = exchange.fill_count()
    start, stop = view_builder.page_span(total, offset, limit)
    split = min(max(written, start), stop)
    newest = exchange.fill_slice(split, stop)
    older: Sequence[Fill] = ()
    if start < split:
        try:
            older = await history.fill_range(job.id, start, split - 1)
        except _READ_ERRORS as exc:
            _report(job, exc)
            return view_builder.fill_page(job, offset, limit)
        if not _still_written(history, job, exchange, "fills", older, split - start):
            return view_builder.fill_page(job, offset, limit)
    fills = [*reversed(newest), *older]
    return FillPage(total, offset, tuple(view_builder.fill_view(f) for f in fills))


def _report(job: TradingJob, exc: Exception) -> None:
    """A journal that cannot be read (closing on quit, damaged) costs nothing but speed:
    the page comes from the engine. Said once per job and error in the application log."""
    what = (job.id, f"{type(exc).__name__}: {exc}")
    if what not in _reported:
        _reported.add(what)
        logger.warning("job %s: trades read from the job, not the journal: %s", *what)


def _written(history: TradeHistory | None, job: TradingJob, what: str) -> int | None:
    """How many of the job's current run's ``what`` the history holds for good; None when
    it cannot answer, or holds more than the engine (state went back: the engine's)."""
    exchange = job.exchange
    if history is None or exchange is None:
        return None
    if what == "trades":
        written = history.written_trades(job.id, exchange)
        count = exchange.trade_count() if written is not None else 0
    else:
        written = history.written_fills(job.id, exchange)
        count = exchange.fill_count() if written is not None else 0
    return written if written is not None and written <= count else None


def _still_written(
    history: TradeHistory,
    job: TradingJob,
    exchange: BaseExchange,
    what: str,
    rows: Sequence[object],
    expected: int,
) -> bool:
    """The rows read are the run's: all there, and the job did not start a new run (whose
    rows replace them) while the query ran."""
    return (
        len(rows) == expected
        and job.exchange is exchange
        and _written(history, job, what) is not None
    )
