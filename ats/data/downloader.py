"""``ats data download``: page through ``fetch_ohlcv`` into a file back_trading can read.

Resumable by construction: every page is appended to the CSV and fsynced before the next
request, so a killed download loses at most the page in flight. On restart the file is
read back, a torn last line (killed mid-write) is cut off, and paging continues from the
newest candle on disk, which is fetched again and replaced if the exchange now says
otherwise (a file written by an older ATS may end in a still-open candle). Duplicates are
skipped; gaps the exchange itself has are kept as gaps, never invented.

Only closed candles are written, and the exchange's clock decides which are closed: the
download ends at the exchange's time (``fetch_time``, read once at the start), never the
local one, which may be seconds off. Where an exchange has no time endpoint, a candle
counts as closed once the exchange returned a newer one.

With ``file_format="parquet"`` (or an ``.parquet`` output) the pages are written as
Parquet directly (:class:`ats.data.parquet_pages.ParquetPages`), resumable the same way.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ats.data.parquet_pages import ParquetPages
from ats.exceptions import DataError
from ats.exchanges.ccxt_support import Backoff, is_spot, make_client, retry_transient
from ats.exchanges.rate_limit import limiter_of

HEADER = "time,open,high,low,close,volume\n"
DEFAULT_PAGE = 1000
MAX_FAILURES = 8
"""Consecutive failed requests (~1 min of backoff) before giving up; rerun to resume."""


@dataclass
class DownloadProgress:
    """Where a download stands, for progress bars (candle open times in ms)."""

    since: int
    until: int
    cursor: int
    written: int = 0
    skipped_existing: int = 0

    @property
    def fraction(self) -> float:
        span = max(self.until - self.since, 1)
        return min(max((self.cursor - self.since) / span, 0.0), 1.0)


ProgressCallback = Callable[[DownloadProgress], None]


def parse_date(text: str, *, field: str) -> int:
    """``2024-01-31``, ``2024-01-31T12:00`` (UTC unless an offset is given) or epoch ms."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"{field}: {text!r} is not a date (use YYYY-MM-DD[THH:MM])") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _format_row(row: list[Any]) -> str:
    moment = datetime.fromtimestamp(int(row[0]) / 1000, tz=UTC).isoformat(sep=" ")
    return f"{moment},{row[1]!r},{row[2]!r},{row[3]!r},{row[4]!r},{row[5]!r}\n"


def last_timestamp_on_disk(path: Path) -> int | None:
    """Open time of the newest candle in ``path`` (see :func:`last_row_on_disk`)."""
    last = last_row_on_disk(path)
    return None if last is None else last[0]


def last_row_on_disk(path: Path) -> tuple[int, str] | None:
    """Open time and text of the newest candle in ``path``, repairing a torn last line first.

    The rows already there are validated like a backtest's (DataError naming the file,
    line and problem), so a download never extends a file that will not load."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb+") as handle:
        data = handle.read()
        if not data.startswith(HEADER.encode()):
            from ats.utils.validation import one_line

            first = data.split(b"\n", 1)[0][:80].decode("utf-8", errors="backslashreplace")
            raise DataError(
                f"{path} line 1: not a file written by ats data download (header "
                f"'{one_line(first, 60)}', expected '{HEADER.strip()}'); choose another --out"
            )
        end = data.rfind(b"\n") + 1
        if end < len(data):  # killed mid-write: drop the partial line
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
    if data[:end].count(b"\n") <= 1:
        return None
    from ats.data.candle_readers import load_candles

    timestamp = int(load_candles(path).timestamps[-1])
    line = data[:end].rstrip(b"\n").rsplit(b"\n", 1)[-1].decode() + "\n"
    return timestamp, line


def _last_row(pages: ParquetPages | None, out: Path) -> tuple[int, str] | None:
    """(open time, the row as a CSV line) of the newest candle on disk, or None."""
    if pages is None:
        return last_row_on_disk(out)
    row = pages.last_row()
    return None if row is None else (int(row[0]), _format_row(row))


def _replace_last_line(path: Path, text: str) -> None:
    """Swap the file's last line for ``text`` (fsynced, like every append)."""
    with path.open("rb+") as handle:
        data = handle.read()
        start = data.rstrip(b"\n").rfind(b"\n") + 1
        handle.seek(start)
        handle.truncate()
        handle.write(text.encode())
        handle.flush()
        os.fsync(handle.fileno())


async def download_candles(
    *,
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: int,
    until: int | None,
    out: Path,
    urls: dict[str, Any] | str | None = None,
    options: dict[str, Any] | None = None,
    sandbox: bool = False,
    page_size: int = DEFAULT_PAGE,
    on_progress: ProgressCallback | None = None,
    log: Callable[[str, str], None] = lambda level, message: None,
    file_format: str | None = None,
) -> DownloadProgress:
    """Download the candles of ``[since, until)`` closed by the exchange's clock (until
    defaults to the exchange's now) and return the final progress.

    ``file_format`` is ``"csv"`` or ``"parquet"``; by default the output's suffix decides.
    """
    parquet = _is_parquet(out) if file_format is None else file_format == "parquet"
    pages = ParquetPages(out) if parquet else None
    last = _last_row(pages, out)  # a bad file fails before any request
    client = make_client(
        exchange_id, options=options, urls=urls, sandbox=sandbox, spot=is_spot(symbol)
    )
    limiter = limiter_of(client)
    if limiter is not None:
        limiter.watch(log)
    backoff = Backoff(0.5, 30.0)

    async def call(what: str, request: Callable[[], Any]) -> Any:
        return await retry_transient(
            request,
            what=f"{exchange_id} {symbol} {timeframe}: {what}",
            backoff=backoff,
            sleep=asyncio.sleep,
            log=log,
            max_failures=MAX_FAILURES,
            limiter=limiter,
        )

    try:
        if timeframe not in (client.timeframes or {}):
            raise DataError(f"--timeframe: {exchange_id} has no {timeframe!r}")
        step = int(client.parse_timeframe(timeframe) * 1000)
        exchange_now: int | None = None
        if (client.has or {}).get("fetchTime"):
            exchange_now = int(await call("exchange time", client.fetch_time))
        now = exchange_now if exchange_now is not None else int(time.time() * 1000)
        end = min(until, now) if until is not None else now
        progress = DownloadProgress(since, end, since if last is None else last[0])
        if last is not None:
            log("INFO", f"resuming after {datetime.fromtimestamp(last[0] / 1000, tz=UTC)}")
        if pages is None and (not out.exists() or out.stat().st_size == 0):
            out.parent.mkdir(parents=True, exist_ok=True)
            _append(out, HEADER)
        while progress.cursor + step <= end:
            cursor = progress.cursor
            rows = await call(
                "candles",
                lambda cursor=cursor: client.fetch_ohlcv(  # type: ignore[misc]
                    symbol, timeframe, since=cursor, limit=page_size
                ),
            )
            rows = sorted((r for r in rows if cursor <= int(r[0])), key=lambda r: int(r[0]))
            if exchange_now is None and len(rows) < page_size:
                rows = rows[:-1]  # no newer candle yet: the newest may still be open
            fresh = [r for r in rows if int(r[0]) + step <= end]
            if last is not None and fresh and int(fresh[0][0]) == last[0]:
                row = fresh.pop(0)
                again = _format_row(row)
                if again != last[1]:
                    if pages is not None:
                        pages.append([row])  # a later page with the same time wins
                    else:
                        _replace_last_line(out, again)
                    log("WARNING", f"replaced the last candle on disk, {last[1].split(',')[0]}: "
                        "it was written while still open")  # fmt: skip
                last = None
                if not fresh:
                    progress.cursor = cursor + step
                    continue
            last = None
            if not fresh:
                break  # nothing closed after the cursor: the exchange has no more data
            if pages is not None:
                pages.append(fresh)
            else:
                _append(out, "".join(_format_row(row) for row in fresh))
            progress.written += len(fresh)
            progress.cursor = int(fresh[-1][0]) + step
            if on_progress is not None:
                on_progress(progress)
    finally:
        if limiter is not None:
            limiter.unwatch(log)
        await client.close()
    if pages is not None:
        pages.finish()
    return progress


def _append(path: Path, text: str) -> None:
    """Append and fsync: what is on disk after this returns survives a kill -9."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")
