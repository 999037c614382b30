"""``ats jobs show JOB --trades|--fills [--csv]``: a job's round trips or fills, newest
first, with the columns of the console's Trades pane (:mod:`ats.trading_job.trade_table`),
as a table or as CSV for a spreadsheet.

While ATS runs, the rows are the pages its control API serves (:func:`read_pages`: the
same pages as the console's, from its journal); otherwise the saved job is restored from
its snapshot as the console restores it (:func:`show_trades`).
"""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

from ats.exceptions import JobError
from ats.trading_job import trade_table
from ats.trading_job.views import FillPage, TradePage

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

PAGE = 5_000
"""Rows asked for at a time from a running ATS."""


def show_trades(job_id: str, payload: dict[str, Any], *, fills: bool, as_csv: bool) -> int:
    """A saved job's round trips (or fills), restored from its snapshot."""
    from ats.trading_job import view_builder
    from ats.trading_job.job_config import parse_job_config
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.trading_job import TradingJob

    config = parse_job_config(payload["config"], source=f"snapshot of job {job_id}")
    manager = JobManager()
    job = TradingJob(job_id, config, bus=manager.bus, loader=manager.loader)
    job.restore(payload)
    rows: list[trade_table.Row] = []
    if fills:
        count = view_builder.fill_page(job, 0, 0).total
        rows.extend(view_builder.fill_page(job, 0, count).fills)
    else:
        count = view_builder.trade_page(job, 0, 0).total
        rows.extend(view_builder.trade_page(job, 0, count).trades)
    return print_rows(config.name, job_id, rows, fills=fills, as_csv=as_csv)


async def read_pages(control: JobControl, job_id: str, *, fills: bool) -> list[trade_table.Row]:
    """Every row, newest first, as the first page found them: rows a running job adds
    meanwhile are stepped over (the offsets count from the newest), not repeated."""
    rows: list[trade_table.Row] = []
    total: int | None = None
    added = 0
    while total is None or len(rows) < total:
        answer: TradePage | FillPage
        if fills:
            answer = await control.fills(job_id, len(rows) + added, PAGE)
        else:
            answer = await control.trades(job_id, len(rows) + added, PAGE)
        if total is None:
            total = answer.total
        elif answer.total < total:
            raise JobError(f"job {job_id} began a new run while its rows were read: run it again")
        elif answer.total - total != added:  # more since the last page: ask past them
            added = answer.total - total
            continue
        page = answer.fills if isinstance(answer, FillPage) else answer.trades
        if not page:
            break
        rows.extend(page[: total - len(rows)])
    return rows


def print_rows(
    name: str, job_id: str, rows: list[trade_table.Row], *, fills: bool, as_csv: bool
) -> int:
    """The rows (newest first) as the Trades pane's table, or CSV; the exit status."""
    columns = trade_table.FILL_COLUMNS if fills else trade_table.TRADE_COLUMNS
    if as_csv:
        records = [trade_table.csv_record(len(rows) - n, row) for n, row in enumerate(rows)]
        if records:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(records[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
        return 0
    newest = trade_table.moment(rows[0]) if rows else None
    oldest = trade_table.moment(rows[-1]) if rows else None
    fmt = trade_table.time_format(newest, oldest)
    what = "fills" if fills else "trades"
    print(f"{name} ({job_id}): {len(rows):,} {what}, newest first")
    widths = trade_table.widths(columns, fmt, len(rows))
    print(trade_table.line(trade_table.header(columns), widths))
    for number, row in zip(range(len(rows), 0, -1), rows, strict=True):
        print(trade_table.line(trade_table.cells(columns, number, row, fmt), widths))
    return 0
