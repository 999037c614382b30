"""The ``ats`` command: console UI by default, headless sub-commands for servers.

Heavy imports (Textual, pandas, ccxt) happen inside the command that needs them, so
``ats --help`` stays instant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from ats.exceptions import ATSError, ConfigError

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE = 0, 1, 2


def _parse_param(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--param expects KEY=VALUE, got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ats", description="ATS: backtest, paper-trade and trade live from one console."
    )
    parser.add_argument(
        "--no-ui", action="store_true", help="run the saved jobs headless (rich console output)"
    )
    parser.add_argument(
        "--yes-live",
        action="store_true",
        help="confirm that headless live jobs (mode: live) may trade real money; "
        "without it --no-ui and run refuse to start them",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    backtest = commands.add_parser("backtest", help="backtest a strategy on a candle file")
    backtest.add_argument("--strategy", required=True, help="strategy name, e.g. sma_cross")
    backtest.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="strategy parameter"
    )
    backtest.add_argument("--data", required=True, type=Path, help="CSV or Parquet candles")
    backtest.add_argument("--symbol", default="BTC/USDT")
    backtest.add_argument("--cash", type=float, default=10_000.0, help="starting quote balance")
    backtest.add_argument("--fee", type=float, default=0.001, help="fee rate per fill")
    backtest.add_argument("--slippage-bps", type=float, default=0.0)
    backtest.add_argument(
        "--vectorised",
        action="store_true",
        help="use the strategy's populate_signals fast path (long-only all-in strategies)",
    )
    backtest.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON")
    backtest.add_argument("--quiet", action="store_true", help="no progress bar or report")

    run = commands.add_parser("run", help="run job config files (YAML)")
    run.add_argument("configs", nargs="+", type=Path, metavar="JOB.yaml")
    run.add_argument("--no-ui", action="store_true", help="headless (the only mode for run)")
    run.add_argument("--json", type=Path, metavar="OUT", help="write the reports as JSON")
    run.add_argument(
        "--yes-live",
        action="store_true",
        default=argparse.SUPPRESS,  # keeps 'ats --yes-live run ...' working too
        help="confirm that jobs with mode: live may trade real money",
    )

    from ats.headless import data_command

    data_command.add_parser(commands)

    from ats.headless import jobs_command  # persistence issue: ats jobs list|show|...

    jobs_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "backtest":
            return asyncio.run(_backtest(args))
        if args.command == "run":
            return asyncio.run(_run_configs(args.configs, args.json, yes_live=args.yes_live))
        if args.command == "data":
            from ats.headless import data_command

            return data_command.run(args)
        if args.command == "jobs":
            from ats.headless.jobs_command import run_jobs_command

            return run_jobs_command(args)
        if args.no_ui:
            from ats.headless.jobs_command import run_saved_jobs

            code = asyncio.run(run_saved_jobs(yes_live=args.yes_live))  # None: run the demo
            if code is not None:
                return code
            from ats.demo import demo_backtest_config

            return asyncio.run(_run_jobs([demo_backtest_config()], None))
        from ats.ui.launch import launch_console

        return launch_console()  # saves and resumes jobs (saved_states/)
    except ATSError as exc:
        print(f"ats: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_JOB_FAILED


async def _backtest(args: argparse.Namespace) -> int:
    from ats.exchanges.data_classes import split_symbol
    from ats.trading_job.job_config import parse_job_config

    _base, quote = split_symbol(args.symbol)
    config = parse_job_config(
        {
            "name": f"backtest-{args.strategy}",
            "symbol": args.symbol,
            "balances": {quote: args.cash},
            "exchange": {
                "name": "back_trading",
                "params": {"data": str(args.data), "slippage_bps": args.slippage_bps},
            },
            "strategy": {"name": args.strategy, "params": dict(map(_parse_param, args.param))},
            "fees": {"name": "flat_rate", "params": {"rate": args.fee}},
            "vectorised": args.vectorised,
        },
        source="command line",
    )
    return await _run_jobs([config], args.json, quiet=args.quiet)


async def _run_configs(paths: list[Path], json_out: Path | None, *, yes_live: bool) -> int:
    from ats.trading_job.job_config import load_job_config

    configs = [load_job_config(path) for path in paths]
    return await _run_jobs(configs, json_out, yes_live=yes_live, sources=paths)


async def _run_jobs(
    configs: list[Any],
    json_out: Path | None,
    *,
    quiet: bool = False,
    yes_live: bool = False,
    sources: list[Path] | None = None,
) -> int:
    """Run the configs headless; live ones only with ``yes_live`` (checked before any job
    is created, so a refusal starts nothing)."""
    from rich.console import Console

    from ats.headless.live_guard import require_yes_live
    from ats.headless.runner import HeadlessRunner
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.live_mode import is_live_config
    from ats.trading_job.trading_job import JobStatus

    live = [
        f"{config.name} ({sources[index]})" if sources else config.name
        for index, config in enumerate(configs)
        if is_live_config(config)
    ]
    command = "ats run " + " ".join(map(str, sources or [])) + " --no-ui"
    require_yes_live(live, yes_live=yes_live, command=command)
    manager = JobManager()
    jobs = [manager.create(config) for config in configs]
    console = Console(quiet=quiet)
    await HeadlessRunner(manager, console).run([job.id for job in jobs], show_reports=True)
    reports = [job.report for job in jobs if job.report is not None]
    if json_out is not None:
        payload: Any = reports[0] if len(reports) == 1 else reports
        json_out.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    failed = [job for job in jobs if job.status is JobStatus.ERROR]
    for job in failed:
        print(f"ats: job {job.config.name} failed: {job.error}", file=sys.stderr)
    return EXIT_JOB_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
