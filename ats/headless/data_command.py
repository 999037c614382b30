"""``ats data download``: market data for backtests, with a rich progress bar."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    data = commands.add_parser("data", help="download market data")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    download = actions.add_parser(
        "download",
        help="page through an exchange's candles into CSV/Parquet (resumable)",
        description="Download closed candles; run again to resume or extend the file.",
    )
    download.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. binance")
    download.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT")
    download.add_argument("--timeframe", required=True, help="e.g. 1m, 5m, 1h, 1d")
    download.add_argument("--since", required=True, help="start date (UTC) YYYY-MM-DD[THH:MM]")
    download.add_argument("--until", help="end date (UTC), exclusive; default: now")
    download.add_argument(
        "--out", type=Path, help="output file (default: data/EXCHANGE_SYMBOL_TF.csv|.parquet)"
    )
    download.add_argument(
        "--format",
        choices=("csv", "parquet"),
        help="file format (default: from --out's suffix, else csv); parquet is written "
        "directly, page by page, and resumes like csv",
    )
    download.add_argument("--page-size", type=int, default=1000, help="candles per request")
    download.add_argument(
        "--url", help="REST base URL to use instead of the exchange's (proxy, mirror, tests)"
    )
    download.add_argument(
        "--option", action="append", default=[], metavar="K=V", help="ccxt option (repeatable)"
    )
    download.add_argument(
        "--sandbox", action="store_true", help="the exchange's test network (ccxt sandbox mode)"
    )


async def _guarded(download: Any) -> Any:
    """A network failure that outlived the retries becomes one clear line (rerun resumes)."""
    from ats.exceptions import DataError
    from ats.exchanges.lazy_ccxt import ccxt

    try:
        return await download
    except ccxt.BaseError as exc:
        from ats.exchanges.ccxt_support import short_error

        raise DataError(
            f"download stopped: {type(exc).__name__}: {short_error(exc)} "
            "(run the same command again to resume)"
        ) from None


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_download(args))


async def _download(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ats.data.downloader import DownloadProgress, download_candles, parse_date
    from ats.exceptions import ConfigError
    from ats.utils.config_files import parse_yaml_value
    from ats.utils.settings import Settings

    options: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--option expects KEY=VALUE, got {item!r}")
        options[key] = parse_yaml_value(value, source=f"--option {key}")
    since = parse_date(args.since, field="--since")
    until = parse_date(args.until, field="--until") if args.until else None
    out = args.out or Settings().data_dir / (
        f"{args.exchange}_{args.symbol.replace('/', '_')}_{args.timeframe}.{args.format or 'csv'}"
    )
    console = Console(stderr=True)
    bar = Progress(
        TextColumn(f"[bold]{args.symbol} {args.timeframe}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%  {task.fields[written]:,} candles"),
        TimeRemainingColumn(),
        console=console,
    )
    task = bar.add_task("download", total=1.0, written=0)

    def show(progress: DownloadProgress) -> None:
        bar.start()  # shown from the first page on: a refused --out file stays one line
        bar.update(task, completed=progress.fraction, written=progress.written)

    def log(level: str, message: str) -> None:
        bar.console.print(f"[{'yellow' if level == 'WARNING' else 'dim'}]{message}[/]")

    try:
        result = await _guarded(
            download_candles(
                exchange_id=args.exchange,
                symbol=args.symbol,
                timeframe=args.timeframe,
                since=since,
                until=until,
                out=out,
                urls=args.url,
                options=options,
                sandbox=args.sandbox,
                page_size=args.page_size,
                on_progress=show,
                log=log,
                file_format=args.format,
            )
        )
        bar.update(task, completed=1.0)
    finally:
        if bar.live.is_started:
            bar.stop()
    console.print(f"{result.written:,} new candles written to {out}")
    return 0
