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
from typing import TYPE_CHECKING, Any

from ats.exceptions import ATSError, ConfigError

if TYPE_CHECKING:
    from ats.trading_job.job_config import JobConfig
    from ats.utils.settings import Settings

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE = 0, 1, 2
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
"""ats.utils.app_log.LEVELS (not imported here: ``ats --help`` stays instant)."""


def parse_param(text: str) -> tuple[str, Any]:
    from ats.utils.config_files import parse_yaml_value

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--param expects KEY=VALUE, got {text!r}")
    value = parse_yaml_value(raw, source=f"--param {key.strip()}") if raw else ""
    return key.strip(), value


def add_backtest_flags(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The flags of ``ats backtest`` (``ats optimize`` takes them too)."""
    parser.add_argument("--strategy", required=required, help="strategy name, e.g. sma_cross")
    parser.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="strategy parameter"
    )
    parser.add_argument("--data", required=required, type=Path, help="CSV or Parquet candles")
    parser.add_argument("--symbol", default="BTC/USDT")
    parser.add_argument("--cash", type=float, default=10_000.0, help="starting quote balance")
    parser.add_argument("--fee", type=float, default=0.001, help="fee rate per fill")
    parser.add_argument("--slippage-bps", type=float, default=0.0)
    parser.add_argument(
        "--vectorised",
        action="store_true",
        help="use the strategy's populate_signals fast path (long-only all-in strategies)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the report as JSON")
    parser.add_argument(
        "--html",
        type=Path,
        metavar="OUT",
        help="write an interactive report (one self-contained file, opens offline)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar or report")


def add_log_level_flag(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=default,
        help="lowest level written to the application log, logs/ats.log beside the "
        "saved_states directory (default INFO); headless, WARNING and above also go "
        "to stderr",
    )


def add_api_flags(parser: argparse.ArgumentParser, default: Any = None) -> None:
    """The control API's flags, for every command that runs jobs (``default``: SUPPRESS
    on a subcommand, so that the same flag given before it still counts)."""

    def default_or(value: Any) -> Any:
        return value if default is None else default

    api = parser.add_argument_group("control API (ats attach, ats jobs, scripts)")
    api.add_argument(
        "--api-port",
        type=int,
        default=default_or(None),
        metavar="PORT",
        help="also serve the control API over TCP (needs ATS_API_TOKEN); the unix socket "
        "<saved_states>/ats.sock is always served",
    )
    api.add_argument(
        "--api-host",
        default=default_or("127.0.0.1"),
        metavar="HOST",
        help="TCP address (default loopback)",
    )
    api.add_argument(
        "--api-allow-remote",
        action="store_true",
        default=default_or(False),
        help="allow a non-loopback --api-host (anyone reaching it can try the token)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ats", description="ATS: backtest, paper-trade and trade live from one console."
    )
    parser.add_argument(
        "--no-ui", action="store_true", help="run the saved jobs headless (rich console output)"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=None,
        help="headless output (--no-ui, run): text for people, or JSON lines for log shippers",
    )
    parser.add_argument(
        "--yes-live",
        action="store_true",
        help="confirm that headless live jobs (mode: live) may trade real money; "
        "without it --no-ui and run refuse to start them",
    )
    add_log_level_flag(parser)
    add_api_flags(parser)
    parser.add_argument(
        "--on-hangup",
        choices=("keep", "stop"),
        help="when the console's terminal hangs up (ssh or tmux gone): keep the jobs "
        "running headless, 'ats attach' brings the console back (default), or stop and "
        "save them (default: ATS_ON_HANGUP, else keep)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    backtest = commands.add_parser("backtest", help="backtest a strategy on a candle file")
    add_backtest_flags(backtest)

    from ats.research import command as optimize_command

    optimize_command.add_parser(commands, add_backtest_flags)

    run = commands.add_parser(
        "run",
        help="run job config files (YAML) as saved jobs: a rerun resumes an interrupted one",
    )
    run.add_argument("configs", nargs="+", type=Path, metavar="JOB.yaml")
    run.add_argument("--no-ui", action="store_true", help="headless (the only mode for run)")
    run.add_argument("--json", type=Path, metavar="OUT", help="write the reports as JSON")
    run.add_argument(
        "--id",
        dest="job_ids",
        action="append",
        metavar="ID",
        help="job id, once per config in order (default: from the file's path and job name)",
    )
    run.add_argument(
        "--yes-live",
        action="store_true",
        default=argparse.SUPPRESS,  # keeps 'ats --yes-live run ...' working too
        help="confirm that jobs with mode: live may trade real money",
    )
    add_log_level_flag(run, default=argparse.SUPPRESS)
    add_api_flags(run, default=argparse.SUPPRESS)  # 'ats --api-port P run ...' works too

    from ats.headless import data_command

    data_command.add_parser(commands)

    from ats.headless import jobs_command  # persistence issue: ats jobs list|show|...

    jobs_command.add_parser(commands)

    from ats.headless import init_command

    init_command.add_parser(commands)

    from ats.apis import attach

    attach.add_parser(commands)

    from ats.web import command as web_command

    web_command.add_parser(commands)
    return parser


def _settings(args: argparse.Namespace) -> Any:
    """Settings with the command line's overrides (None: the environment's alone)."""
    if args.log_format is None:
        return None
    from ats.utils.settings import Settings

    return Settings(log_format=args.log_format)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _configure_logging(args)
        if args.command == "backtest":
            return asyncio.run(_backtest(args))
        if args.command == "optimize":
            from ats.research import command as optimize_command

            return optimize_command.run(args)
        if args.command == "run":
            from ats.headless.run_command import run_config_files

            _check_json_out(args.json)
            return asyncio.run(
                run_config_files(
                    args.configs,
                    job_ids=args.job_ids,
                    json_out=args.json,
                    yes_live=args.yes_live,
                    settings=_settings(args),
                    api=_api_options(args),
                )
            )
        if args.command == "data":
            from ats.headless import data_command

            return data_command.run(args)
        if args.command == "init":
            from ats.headless import init_command

            return init_command.run(args)
        if args.command == "jobs":
            from ats.headless.jobs_command import run_jobs_command

            return run_jobs_command(args)
        if args.command == "web":
            from ats.web import command as web_command

            return web_command.run(args)
        if args.command == "attach":
            from ats.apis import attach

            return attach.run(args)
        if args.no_ui:
            from ats.headless.resume_saved import run_saved_jobs

            code = asyncio.run(
                run_saved_jobs(_settings(args), yes_live=args.yes_live, api=_api_options(args))
            )  # None: nothing saved, run the demo
            if code is not None:
                return code
            from ats.demo import demo_backtest_config

            return asyncio.run(_run_jobs([demo_backtest_config()], None))
        from ats.ui.launch import launch_console

        return launch_console(
            settings, api=_api_options(args), on_hangup=args.on_hangup
        )  # saves and resumes jobs
    except ATSError as exc:
        from ats.utils.validation import one_line

        print(f"ats: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_JOB_FAILED


def _configure_logging(args: argparse.Namespace) -> Settings | None:
    """The application log (ats.utils.app_log): a file for the commands that run saved
    jobs (the console, ``--no-ui``, ``run``), echoed one line per WARNING to stderr
    except under the console; the other commands only echo. Returns the settings read
    to place the file (None for the other commands)."""
    import logging
    import os

    from ats.utils import app_log

    level = args.log_level or app_log.DEFAULT_LEVEL
    console = args.command is None and not args.no_ui
    if args.command not in (None, "run"):
        app_log.configure(None, level=level, echo=True)
        return None
    from ats.utils.settings import Settings

    settings = Settings()
    app_log.configure(settings.log_file, level=level, echo=not console)
    what = f"ats {args.command}" if args.command else "ats --no-ui" if args.no_ui else "ats"
    logging.getLogger("ats").info("%s started (pid %d)", what, os.getpid())
    return settings


def _api_options(args: argparse.Namespace) -> Any:
    """The control API's listeners from the flags (see ats.apis.listen)."""
    from ats.apis.listen import ApiOptions

    return ApiOptions(args.api_port, args.api_host, args.api_allow_remote)


def _check_flags(args: argparse.Namespace) -> None:
    """Numbers given as flags: finite and in range, errors naming the flag."""
    import math

    for flag, value, low in (
        ("--cash", args.cash, 0.0),
        ("--fee", args.fee, 0.0),
        ("--slippage-bps", args.slippage_bps, 0.0),
    ):
        if not math.isfinite(value) or value < low:
            raise ConfigError(f"{flag}: must be a finite number >= {low:g}, got {value}")
    _check_json_out(args.json)


def _check_json_out(path: Path | None) -> None:
    """Refuse a report path that cannot be written before the run, not after it."""
    if path is not None and not path.parent.is_dir():
        raise ConfigError(f"--json: directory {path.parent} does not exist")


def backtest_config(args: argparse.Namespace, params: dict[str, Any]) -> JobConfig:
    """The job ``ats backtest`` runs for these flags and strategy parameters."""
    from ats.exchanges.data_classes import split_symbol
    from ats.trading_job.job_config import parse_job_config

    _check_flags(args)
    try:
        _base, quote = split_symbol(args.symbol)
    except ValueError as exc:
        raise ConfigError(f"--symbol: {exc}") from None
    return parse_job_config(
        {
            "name": f"backtest-{args.strategy}",
            "symbol": args.symbol,
            "balances": {quote: args.cash},
            "exchange": {
                "name": "back_trading",
                "params": {"data": str(args.data), "slippage_bps": args.slippage_bps},
            },
            "strategy": {"name": args.strategy, "params": params},
            "fees": {"name": "flat_rate", "params": {"rate": args.fee}},
            "vectorised": args.vectorised,
        },
        source="command line",
    )


async def _backtest(args: argparse.Namespace) -> int:
    config = backtest_config(args, dict(map(parse_param, args.param)))
    return await _run_jobs([config], args.json, quiet=args.quiet, html_out=args.html)


async def _run_jobs(
    configs: list[Any],
    json_out: Path | None,
    *,
    quiet: bool = False,
    html_out: Path | None = None,
) -> int:
    """Run backtest configs headless, unsaved (``ats backtest``, the demo); ``ats run``
    saves its jobs (ats.headless.run_command)."""
    from rich.console import Console

    from ats.headless.runner import HeadlessRunner
    from ats.trading_job import watchdog
    from ats.trading_job.job_manager import JobManager
    from ats.trading_job.trading_job import JobStatus
    from ats.utils.plugins import PluginLoader
    from ats.utils.settings import Settings

    watchdog.install(watchdog.WatchdogLimits.from_settings(Settings()))  # setup() too
    manager = JobManager(loader=PluginLoader())  # ATS_CUSTOM_MODULES_DIR, like every command
    jobs = []
    for config in configs:
        job = manager.create(config)
        await job.load_inputs()  # a bad candle file: one line, nothing started
        jobs.append(job)
    console = Console(quiet=quiet)
    runner = HeadlessRunner(manager, console, owns_process=True)
    await runner.run([job.id for job in jobs], show_reports=True)
    reports = [job.report for job in jobs if job.report is not None]
    if json_out is not None:
        payload: Any = reports[0] if len(reports) == 1 else reports
        json_out.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n")
    if html_out is not None and jobs[0].report is not None:
        from ats.reports.backtest_html import write_backtest_html

        write_backtest_html(jobs[0], html_out)
    failed = [job for job in jobs if job.status is JobStatus.ERROR]
    for job in failed:
        print(f"ats: job {job.config.name} failed: {job.error}", file=sys.stderr)
    return EXIT_JOB_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
