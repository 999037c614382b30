"""``ats jobs show JOB --trades|--fills [--csv]``: a saved job's round trips or fills,
newest first, with the columns of the console's Trades pane
(:mod:`ats.trading_job.trade_table`), as a table or as CSV for a spreadsheet.
"""

from __future__ import annotations

import csv
import sys
from typing import Any

from ats.trading_job import trade_table, view_builder
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob


def show_trades(job_id: str, payload: dict[str, Any], *, fills: bool, as_csv: bool) -> int:
    """The job's round trips (or fills), newest first, as the console's Trades pane lists
    them: the job is restored from its snapshot as the console restores it."""
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
    print(f"{config.name} ({job_id}): {len(rows):,} {what}, newest first")
    widths = trade_table.widths(columns, fmt, len(rows))
    print(trade_table.line(trade_table.header(columns), widths))
    for number, row in zip(range(len(rows), 0, -1), rows, strict=True):
        print(trade_table.line(trade_table.cells(columns, number, row, fmt), widths))
    return 0
