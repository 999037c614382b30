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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from ats.exceptions import StateError
from ats.exchanges.data_classes import Fill, Trade
from ats.trading_job import view_builder
from ats.trading_job.views import FillPage, TradePage

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange
    from ats.trading_job.trading_job import TradingJob

logger = logging.getLogger(__name__)

Row = TypeVar("Row", Trade, Fill)

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


@dataclass(frozen=True)
class _History(Generic[Row]):
    """One kind of a run's history (its round trips, or its fills): how the journal says
    how many it holds, and how the engine and the journal hand out a run of them."""

    written: Callable[[TradeHistory, str, object], int | None]
    count: Callable[[BaseExchange], int]
    engine_slice: Callable[[BaseExchange, int, int], Sequence[Row]]
    journal_range: Callable[[TradeHistory, str, int, int], Awaitable[Sequence[Row]]]


_TRADES: _History[Trade] = _History(
    lambda history, job_id, account: history.written_trades(job_id, account),
    lambda exchange: exchange.trade_count(),
    lambda exchange, start, stop: exchange.trade_slice(start, stop),
    lambda history, job_id, first, last: history.trade_range(job_id, first, last),
)
_FILLS: _History[Fill] = _History(
    lambda history, job_id, account: history.written_fills(job_id, account),
    lambda exchange: exchange.fill_count(),
    lambda exchange, start, stop: exchange.fill_slice(start, stop),
    lambda history, job_id, first, last: history.fill_range(job_id, first, last),
)


async def trade_page(
    job: TradingJob, history: TradeHistory | None, offset: int, limit: int
) -> TradePage:
    """Round trips newest first, ``limit`` from ``offset``."""
    found = await _newest_first(_TRADES, job, history, offset, limit)
    if found is None:
        return view_builder.trade_page(job, offset, limit)
    total, trades = found
    return TradePage(total, offset, tuple(view_builder.trade_view(t) for t in trades))


async def fill_page(
    job: TradingJob, history: TradeHistory | None, offset: int, limit: int
) -> FillPage:
    """Fills newest first, ``limit`` from ``offset``."""
    found = await _newest_first(_FILLS, job, history, offset, limit)
    if found is None:
        return view_builder.fill_page(job, offset, limit)
    total, fills = found
    return FillPage(total, offset, tuple(view_builder.fill_view(f) for f in fills))


async def _newest_first(
    kind: _History[Row], job: TradingJob, history: TradeHistory | None, offset: int, limit: int
) -> tuple[int, list[Row]] | None:
    """The run's count and a page of it, newest first: the written rows from the journal,
    the newer ones from the engine. None when the engine's lists alone must answer."""
    exchange = job.exchange
    if history is None or exchange is None:
        return None
    written = _written(kind, history, job.id, exchange)
    if written is None:
        return None
    total = kind.count(exchange)
    start, stop = view_builder.page_span(total, offset, limit)
    split = min(max(written, start), stop)
    newest = kind.engine_slice(exchange, split, stop)  # read now: the engine moves on
    older: Sequence[Row] = ()
    if start < split:
        try:
            older = await kind.journal_range(history, job.id, start, split - 1)
        except _READ_ERRORS as exc:
            _report(job, exc)
            return None
        # The rows read are the run's: all there, and the job did not start a new run
        # (whose rows replace them) while the query ran.
        if (
            len(older) != split - start
            or job.exchange is not exchange
            or _written(kind, history, job.id, exchange) is None
        ):
            return None
    rows = list(reversed(newest))
    rows.extend(older)
    return total, rows


def _report(job: TradingJob, exc: Exception) -> None:
    """A journal that cannot be read (closing on quit, damaged) costs nothing but speed:
    the page comes from the engine. Said once per job and error in the application log."""
    what = (job.id, f"{type(exc).__name__}: {exc}")
    if what not in _reported:
        _reported.add(what)
        logger.warning("job %s: trades read from the job, not the journal: %s", *what)


def _written(
    kind: _History[Row], history: TradeHistory, job_id: str, exchange: BaseExchange
) -> int | None:
    """How many of the run's rows the history holds for good; None when it cannot answer,
    or holds more than the engine (state went back: the engine's)."""
    written = kind.written(history, job_id, exchange)
    return written if written is not None and written <= kind.count(exchange) else None
