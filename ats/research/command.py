"""``ats optimize``: the flags of ``ats backtest`` plus what to search and where to run it.

    ats optimize --strategy sma_cross --data btc.csv \\
        --param fast=10:100:5 --param slow=50:400:10 --constraint "fast < slow" \\
        --objective sharpe --json sweep.json

or, with the same search written in a YAML spec beside a job config
(:mod:`ats.research.spec_file`), ``ats optimize btc-sma.sweep.yaml``. Heavy imports wait
until the command runs, so ``ats --help`` stays instant.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ats.data.candles import CandleData
    from ats.research.executor import TrialExecutor
    from ats.research.journal import TrialJournal
    from ats.research.search import Search
    from ats.research.sweep import Publish, SearchOutcome
    from ats.research.walk_forward import WalkForwardOutcome
    from ats.utils.plugins import PluginLoader

# Flags that describe the search: with a spec file, the spec says all of them.
_SEARCH_FLAGS = (
    "strategy",
    "data",
    "param",
    "symbol",
    "cash",
    "fee",
    "slippage_bps",
    "vectorised",
    "per_candle",
    "method",
    "trials",
    "seed",
    "batch",
    "objective",
    "direction",
    "constraint",
    "walk_forward",
)
_defaults: dict[str, Any] = {}


def add_parser(commands: Any, add_backtest_flags: Callable[..., None]) -> None:
    optimize = commands.add_parser(
        "optimize",
        help="search a strategy's parameters (grid or optuna) on every core or a Ray cluster",
        description="Run many backtests of one strategy and rank them by a report metric. "
        "Finished trials are journaled: after a crash, the same command resumes.",
    )
    optimize.add_argument(
        "spec",
        nargs="?",
        type=Path,
        metavar="SPEC.yaml",
        help="a search spec beside a job config (see README); the search flags are then not used",
    )
    add_backtest_flags(optimize, required=False)
    for action in optimize._actions:
        if action.dest == "param":
            action.help = "K=LOW:HIGH[:STEP] (a range), K=A,B,C (a list) or K=V (fixed)"
        if action.dest == "json":
            action.help = "write every trial and the best as JSON"
        if action.dest == "html":
            action.help = "write the sweep as one interactive page (heatmap, trials table)"
        if action.dest == "vectorised":
            action.help = (
                "run every trial through the strategy's populate_signals (the default when "
                "it has one, then with the best trial checked per candle)"
            )
    optimize.add_argument(
        "--per-candle",
        action="store_true",
        help="run every trial through on_candle, even if the strategy has populate_signals",
    )
    optimize.add_argument("--method", choices=("grid", "optuna"), default="grid")
    optimize.add_argument("--trials", type=int, default=100, help="optuna: number of trials")
    optimize.add_argument("--seed", type=int, default=0, help="optuna: sampler seed")
    optimize.add_argument(
        "--batch", type=int, default=16, help="optuna: trials proposed at once (reproducible)"
    )
    optimize.add_argument(
        "--objective", default="sharpe", metavar="METRIC", help="report metric to optimise"
    )
    direction = optimize.add_mutually_exclusive_group()
    direction.add_argument(
        "--maximize", dest="direction", action="store_const", const="maximize", default="maximize"
    )
    direction.add_argument("--minimize", dest="direction", action="store_const", const="minimize")
    optimize.add_argument(
        "--constraint", action="append", default=[], metavar="EXPR", help='e.g. "fast < slow"'
    )
    optimize.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: every core)"
    )
    optimize.add_argument(
        "--ray", metavar="ADDRESS", help="run trials on a Ray cluster: auto or HOST:PORT"
    )
    optimize.add_argument(
        "--walk-forward",
        metavar="train=N,test=M",
        help="optimise on rolling training windows, test on the next (candles or e.g. 30d)",
    )
    optimize.add_argument("--csv", type=Path, metavar="OUT", help="write the trials as CSV")
    optimize.add_argument("--top", type=int, default=10, help="trials shown at the end")
    _defaults.update(vars(optimize.parse_args([])))


def run(args: argparse.Namespace) -> int:
    import atexit
    import gc
    import sys
    from concurrent.futures.process import BrokenProcessPool

    # At exit the interpreter's last garbage collections walk every object the command
    # imported or made, for nothing: the process ends. Frozen objects are not walked
    # (0.05-0.2 s less serial time at the end of each sweep, bench/optimize_speed.py).
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    # The start-up (imports: ~90,000 objects that live as long as the command) runs
    # without collections, each of which would walk every object made so far, for
    # nothing: 0.03 of its 0.25 s, all serial time (bench/optimize_speed.py). They resume
    # once the workers are started (see optimize), or here whatever happens; what the
    # start-up froze is thawed when the command returns (a caller in the same process,
    # a test, goes on collecting it; at exit it is frozen again).
    gc.disable()

    resume = "finished trials are journaled: run the same command to resume"
    try:
        return asyncio.run(optimize(args))
    except KeyboardInterrupt:
        print(f"ats: optimize interrupted; {resume}", file=sys.stderr)
    except BrokenProcessPool:
        print(f"ats: a worker process died (out of memory?); {resume}", file=sys.stderr)
    finally:
        gc.unfreeze()
        gc.enable()
    return 1


async def optimize(args: argparse.Namespace) -> int:
    import gc

    from ats.research.worker_start import can_fork, start_fork_server

    # This command has one thread: its workers are forks of it, made once it has read
    # the candles. Elsewhere a fork server imports the engine while this process reads.
    fork = can_fork()
    if not args.ray and not fork:
        start_fork_server()
    from ats.data.candle_cache import load_candles_cached
    from ats.data.candles import CandleDataError
    from ats.exceptions import ConfigError, DataError
    from ats.research.executor import open_executor
    from ats.utils.plugins import PluginLoader

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    loader = PluginLoader()  # ATS_CUSTOM_MODULES_DIR, like every command
    search = _search(args, loader)
    if args.html and search.walk_forward:
        raise ConfigError("--html: a walk-forward has no page yet (use --json or --csv)")
    try:
        data = load_candles_cached(search.data_path)  # parsed once, then from the cache
    except CandleDataError as exc:  # one line naming the file and the line
        raise DataError(str(exc)) from None
    if search.walk_forward:  # refuse a bad plan before any worker starts
        from ats.research.walk_forward import parse_walk_forward, plan_windows

        plan_windows(parse_walk_forward(search.walk_forward, data.timeframe_ms), len(data))
    # The workers start now; the rest of this start-up (journal, printer) runs beside them.
    executor = open_executor(
        search.base,
        data,
        workers=args.workers or search.workers,
        ray_address=args.ray or search.ray,
        custom_root=loader.custom_root,
        fork=fork,
    )
    try:
        from rich.console import Console

        from ats.research.journal import JOURNAL_NAME, TrialJournal, file_identity
        from ats.research.report import SweepPrinter
        from ats.utils.settings import Settings

        journal = TrialJournal(Settings().saved_states_dir / JOURNAL_NAME)
        console = Console(quiet=args.quiet)
        # The start-up is over (see run): what it made is kept, collections resume.
        gc.freeze()
        gc.enable()
        try:
            with SweepPrinter(console, search.objective) as printer:
                result = await _run(
                    search,
                    data,
                    executor=executor,
                    journal=journal,
                    loader=loader,
                    data_identity=file_identity(search.data_path),
                    publish=printer,
                )
        finally:
            journal.close()
    finally:
        executor.close()
    return _show(args, console, search, data, result)


async def _run(
    search: Search,
    data: CandleData,
    *,
    executor: TrialExecutor,
    journal: TrialJournal,
    loader: PluginLoader,
    data_identity: dict[str, Any],
    publish: Publish,
) -> SearchOutcome | WalkForwardOutcome:
    from ats.research.sweep import Window, run_search
    from ats.trading_job.job_ids import new_job_id

    sweep_id = new_job_id(f"optimize-{search.base.strategy.name}")
    if search.walk_forward:
        from ats.research.walk_forward import run_walk_forward

        return await run_walk_forward(
            search,
            data,
            sweep_id=sweep_id,
            executor=executor,
            journal=journal,
            loader=loader,
            data_identity=data_identity,
            publish=publish,
        )
    window = Window(0, len(data))
    runs = None
    if search.check_per_candle:
        from ats.research.signals_check import PerCandleRuns

        runs = PerCandleRuns(executor, window)
    outcome = await run_search(
        sweep_id=sweep_id,
        name=f"optimize {search.base.strategy.name}",
        description=search.description(data_identity, loader),
        method=search.make_method(),
        objective=search.objective,
        executor=executor,
        journal=journal,
        window=window,
        publish=publish,
        near_the_end=runs.start if runs is not None else None,
    )
    if runs is None:
        return outcome
    from ats.research.signals_check import check_best_per_candle

    return await check_best_per_candle(outcome, search, runs, sweep_id=sweep_id, publish=publish)


def _show(
    args: argparse.Namespace,
    console: Console,
    search: Search,
    data: CandleData,
    result: SearchOutcome | WalkForwardOutcome,
) -> int:
    """Print the tables, write --json/--csv; exit code 1 when no trial could be ranked."""
    import sys

    from ats.research import export
    from ats.research.report import trials_table, walk_forward_table
    from ats.research.sweep import SearchOutcome

    objective = search.objective
    if not isinstance(result, SearchOutcome):  # a walk-forward
        console.print(walk_forward_table(result, objective))
        if result.metrics:
            from ats.headless.report import metrics_table

            console.print(metrics_table(result.metrics, "Out-of-sample (stitched test windows)"))
        if args.json:
            payload = export.walk_forward_json(result, objective, data.timestamps)
            export.write_json(args.json, payload)
        if args.csv:
            export.write_walk_forward_csv(args.csv, result, objective, data.timestamps)
        return 0
    console.print(trials_table(result, objective, args.top))
    if args.json:
        export.write_json(args.json, export.search_json(result, objective))
    if args.csv:
        export.write_search_csv(args.csv, result, objective)
    if args.html:
        from ats.reports.sweep_html import write_sweep_html

        write_sweep_html(
            args.html,
            [trial.to_json() for trial in result.trials],
            result.best.to_json() if result.best else None,
            objective=objective.metric,
            direction=objective.direction,
            title=f"{search.base.strategy.name} on {search.data_path.name}",
        )
    if result.best is None:
        failed = next((trial for trial in result.trials if trial.error), None)
        why = f" (trial {failed.number} failed: {failed.error})" if failed else ""
        print(f"ats: no trial has a defined {objective.metric}{why}", file=sys.stderr)
        return 1
    return 0


def _search(args: argparse.Namespace, loader: PluginLoader) -> Search:
    from ats.exceptions import ConfigError
    from ats.research.objective import Objective
    from ats.research.search import build_search
    from ats.research.space import is_search_text, parse_dimension

    if args.spec is not None:
        given = [name for name in _SEARCH_FLAGS if getattr(args, name) != _defaults.get(name)]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise ConfigError(f"{args.spec} describes the search: drop {flag}, or the spec")
        from ats.research.spec_file import load_search_spec

        return load_search_spec(args.spec, loader)
    if not args.strategy or not args.data:
        raise ConfigError("ats optimize needs --strategy and --data (or a SPEC.yaml)")
    if args.vectorised and args.per_candle:
        raise ConfigError("--vectorised and --per-candle: choose one path for the trials")
    from ats.cli import backtest_config, parse_param

    dimensions, fixed = [], {}
    for text in args.param:
        name, sep, raw = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--param expects KEY=VALUE, got {text!r}")
        if is_search_text(raw):
            dimensions.append(parse_dimension(name.strip(), raw))
        else:
            key, value = parse_param(text)
            fixed[key] = value
    return build_search(
        backtest_config(args, fixed),
        dimensions,
        args.constraint,
        loader,
        method=args.method,
        trials=args.trials,
        seed=args.seed,
        batch=args.batch,
        objective=Objective.parse(args.objective, args.direction),
        walk_forward=args.walk_forward,
        vectorised=True if args.vectorised else False if args.per_candle else None,
    )
