"""Console responsiveness under load: keypress-to-screen-update latency and event-loop lag.

    .venv/bin/python bench/ui_latency.py [--keys 300] [--candles 1000000]
        [--trades-candles 300000] [--without-trades-job] [--json OUT]

Drives the real console headless (``App.run_test`` + the same key events a terminal
sends) at 160x48, with its journal, snapshots and control API socket in a temporary
saved_states directory as ``ats`` has them (``--no-persistence`` leaves them out), in two
phases on the same app:

1. idle: 9 jobs exist, none running: the first is a finished backtest with at least
   50,000 round trips (sma_cross 2/3 on ``--trades-candles`` candles); with
   ``--without-trades-job`` it is a backtest never started, and no key opens the Trades
   pane: the workload a console from before the Trades pane can run, so that this very
   file measures an older checkout and today's in one run (``PYTHONPATH=<checkout>``);
2. loaded: 4 full-speed backtests of ``--candles`` 1-minute candles (restarted whenever
   one finishes, so four always run) and 4 paper replays of the bundled BTC/USDT data at
   ``--replay-speed`` x real time.

For each key (cursor up/down in the jobs table, focus changes, opening/closing help,
opening the first job's Trades pane and scrolling it by row, page and to either end) the
latency is the time from posting the key event to the first frame the compositor
produces that shows its effect; frames are also rendered to terminal escape sequences,
as a real terminal would need. Keys and lag samples count whenever all eight jobs are
running, including each backtest's start (data load, indicators) and end (report);
only the few ms between a backtest finishing and its restart are left out. Event-loop
lag is the overshoot of a 10 ms sleep. Reported: median and p99 of both, loaded/idle
ratios, the lag with nobody typing, and backtest throughput.
Targets (issue 3): loaded median <= 50 ms, p99 <= 150 ms, loop lag p99 <= 50 ms. A
scroll key counts once the row under the cursor is on screen (its page read).

Jobs share the console's event loop. What keeps it responsive is the engine's: the
backtests split one ``CpuShare`` turn budget, step aside for a moment after each key
(``JobManager.hold_foreground``), and compute indicators and reports in worker threads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from console_state import persistence_hooks
from job_keeper import JobKeeper

from ats.demo import DEMO_DATA
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.synthetic_candles import cached_parquet

SIZE = (160, 48)
SEED = 20240501


MIN_TRADES = 50_000
TRADE_SCROLL_KEYS = ("down", "down", "down", "pagedown", "pagedown", "up", "pageup", "end", "home")


def backtest(name: str, data: Path, fast: int = 50, slow: int = 200) -> JobConfig:
    return parse_job_config(
        {
            "name": name,
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": slow}},
        }
    )


def replay(name: str, speed: float) -> JobConfig:
    return parse_job_config(
        {
            "name": name,
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": speed},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class Probe:
    started: float
    condition: Callable[[], bool]
    done: asyncio.Future[float]


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    by_key: dict[str, list[float]] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    timeouts: int = 0
    candles: int = 0
    seconds: float = 0.0

    def _keys_pressed(self) -> list[tuple[str, list[float]]]:
        """Per key, its counted latencies (a key whose presses were all dropped is left out)."""
        return [(key, values) for key, values in sorted(self.by_key.items()) if values]

    def summary(self) -> dict[str, Any]:
        return {
            "keys": len(self.latencies),
            "timeouts": self.timeouts,
            "latency_median_ms": 1000 * statistics.median(self.latencies),
            "latency_p99_ms": 1000 * percentile(self.latencies, 99),
            "latency_max_ms": 1000 * max(self.latencies),
            "loop_lag_median_ms": 1000 * statistics.median(self.lags),
            "loop_lag_p99_ms": 1000 * percentile(self.lags, 99),
            "candles_per_s": self.candles / self.seconds if self.seconds else 0.0,
            "by_key_median_ms": {
                key: 1000 * statistics.median(values) for key, values in self._keys_pressed()
            },
            "by_key_max_ms": {key: 1000 * max(values) for key, values in self._keys_pressed()},
        }


class FrameWatch:
    """Wraps the app's display hook: renders each frame like a terminal would and
    resolves the pending probe on the first frame that shows the key's effect."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.probe: Probe | None = None
        self.frames = 0
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None:
                return
            render = getattr(renderable, "render_segments", None)
            if render is not None:
                render(app.console)  # the escape sequences a real terminal would get
            self.frames += 1
            probe = self.probe
            if probe is not None and not probe.done.done() and probe.condition():
                probe.done.set_result(time.perf_counter() - probe.started)

        app._display = display


async def measure_lag(
    samples: list[float], stop: asyncio.Event, counting: Callable[[], bool] = lambda: True
) -> None:
    """Overshoot of a 10 ms sleep, kept only while ``counting()`` (all jobs running)."""
    period = 0.01
    while not stop.is_set():
        start = time.perf_counter()
        counted = counting()
        await asyncio.sleep(period)
        if counted and counting():
            samples.append(max(time.perf_counter() - start - period, 0.0))


def key_plan(count: int, rows: int, seed: int, trades: bool = True) -> list[str]:
    """A trader-like mix: mostly moving through jobs, some panel switches, help, and on
    the first job (50,000 trades) its Trades pane: open, scroll a few keys, back
    (``trades`` False: the same mix without the Trades pane, as consoles before it)."""
    rng = random.Random(seed)
    plan: list[str] = []
    row = 0
    while len(plan) < count:
        if rng.random() < 0.12 and trades:  # the first job (home in the jobs table), its trades
            scroll = [rng.choice(TRADE_SCROLL_KEYS) for _ in range(rng.randint(3, 8))]
            plan.extend(["home", "h", *scroll, "j"] if row else ["h", *scroll, "j"])
            row = 0
        choice = rng.random()
        if choice < 0.6:
            step = "down" if (row < rows - 1 and rng.random() < 0.5) or row == 0 else "up"
            row += 1 if step == "down" else -1
            plan.append(step)
        elif choice < 0.9:
            plan.extend(rng.choice([["c", "j"], ["l", "j"], ["o", "j"], ["m", "j"]]))
        else:
            plan.extend(["question_mark", "escape"])
    if plan[count - 1 : count] == ["question_mark"]:
        count += 1  # never end a phase with help still open
    return plan[:count]


def scrolled(pane: Any, key: str) -> Callable[[], bool]:
    """The Trades pane's cursor where ``key`` puts it, and that row's page on screen."""
    page = max(pane.size.height - 2, 1)
    last = max(pane.total - 1, 0)
    target = {
        "down": pane.cursor + 1,
        "up": pane.cursor - 1,
        "pagedown": pane.cursor + page,
        "pageup": pane.cursor - page,
        "end": last,
        "home": 0,
    }[key]
    target = min(max(target, 0), last)
    return lambda: pane.cursor == target and pane.selected is not None


async def press_and_wait(
    app: Any, watch: FrameWatch, key: str, phase: Phase, timeout: float = 2.0
) -> None:
    from textual import events

    from ats.ui.screens.help import HelpScreen
    from ats.ui.screens.main import MainScreen

    screen = app.screen
    condition: Callable[[], bool]
    # (a checkout from before the Trades pane has none: bench/before_after.py runs this
    # file on one with --without-trades-job)
    trades = getattr(screen, "trades", None) if isinstance(screen, MainScreen) else None
    if trades is not None and app.focused is trades and key in TRADE_SCROLL_KEYS:
        condition = scrolled(trades, key)
        if condition():
            return  # at that end already: the key changes nothing, so no frame to wait for
    elif key == "h" and trades is not None:
        table = screen.table  # h shows the trades of the job under the cursor (once the
        # selection has settled, SELECT_SETTLE after a move)

        def condition() -> bool:
            shown = trades.job_id == table.cursor_job and trades.selected is not None
            return app.focused is trades and shown

    elif key in ("down", "up", "home") and isinstance(screen, MainScreen):
        step = {"down": 1, "up": -1}.get(key)
        target = screen.table.cursor_row + step if step else 0
        condition = lambda: screen.table.cursor_row == target  # noqa: E731
    elif key == "question_mark":
        condition = lambda: isinstance(app.screen, HelpScreen)  # noqa: E731
    elif key == "escape":
        condition = lambda: isinstance(app.screen, MainScreen)  # noqa: E731
    else:
        targets = {
            "c": lambda s: s.chart,
            "l": lambda s: s.log_view,
            "o": lambda s: s.account.orders_table,
            "m": lambda s: s.metrics,
            "j": lambda s: s.table,
        }
        widget = targets[key](screen)
        condition = lambda: app.focused is widget  # noqa: E731
    loop = asyncio.get_running_loop()
    probe = Probe(time.perf_counter(), condition, loop.create_future())
    watch.probe = probe
    char = {"question_mark": "?"}.get(key, key if len(key) == 1 else None)
    app.post_message(events.Key(key, char))
    try:
        latency = await asyncio.wait_for(probe.done, timeout)
    except TimeoutError:
        phase.timeouts += 1
        latency = timeout
    phase.latencies.append(latency)
    phase.by_key.setdefault(key, []).append(latency)
    watch.probe = None


async def run_phase(
    app: Any,
    watch: FrameWatch,
    phase: Phase,
    plan: list[str],
    seed: int,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Press the planned keys, each only while ``ready()`` (the load is fully on)."""
    from ats.ui.screens.main import MainScreen

    rng = random.Random(seed)
    stop = asyncio.Event()
    lag_task = asyncio.create_task(measure_lag(phase.lags, stop, ready))
    while not isinstance(app.screen, MainScreen):
        app.pop_screen()
        await asyncio.sleep(0.05)
    screen = app.screen
    screen.table.move_cursor(row=0)
    await asyncio.sleep(0.3)
    for key in plan:
        if app._exception is not None:  # the console crashed: the figures would be bogus
            raise RuntimeError("the console failed during the benchmark") from app._exception
        while not ready():
            await asyncio.sleep(0.05)
        before = len(phase.latencies)
        await press_and_wait(app, watch, key, phase)
        if not ready():  # the load changed under this key (a job finished): not counted
            del phase.latencies[before:]
            phase.by_key[key].pop()
        await asyncio.sleep(rng.uniform(0.03, 0.09))  # typing pace
    stop.set()
    await lag_task


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from ats.trading_job.watchdog import install
    from ats.ui.app import AtsApp

    try:
        from ats.utils.runtime_tuning import tune_runtime
    except ImportError:  # a checkout from before it moved: its app tunes itself at start
        tune_runtime = None

    if args.tune and tune_runtime is not None:
        tune_runtime()  # as ats.ui.launch does: before the watchdog thread and any job
    install()  # jobs guarded by the loop watchdog, as in ats.ui.launch
    data = cached_parquet(args.candles)
    manager = JobManager()
    state = tempfile.TemporaryDirectory(prefix="ats-bench-state-")
    # The real console (ats.ui.launch) has its journal and snapshots on.
    hooks = persistence_hooks(manager, Path(state.name)) if args.persistence else {}
    # Like run_console: the C heap trimmed; no demo, settings kept in memory.
    app = AtsApp(manager, demo=False, settings_path=None, tune_runtime=args.tune, **hooks)
    plan = key_plan(args.keys, 9, SEED, trades=args.trades_job)
    results: dict[str, Any] = {
        "keys_per_phase": len(plan),
        "terminal": f"{SIZE[0]}x{SIZE[1]}",
        "turn_ms": 1000 * manager.cpu_share.turn_seconds,
        "persistence": args.persistence,
    }
    async with app.run_test(size=SIZE) as pilot:
        while not app.started:
            await pilot.pause(0.05)
        if args.trades_job:
            busy = manager.create(backtest("trades-50k", cached_parquet(args.trades_candles), 2, 3))
            manager.start(busy.id)
            await manager.wait(busy.id)
            made = len(busy.exchange.get_trades()) if busy.exchange else 0
            if made < MIN_TRADES:
                raise SystemExit(f"the first job made only {made} trades")
            results["trades_of_first_job"] = made
        else:
            manager.create(backtest("idle-first", data))  # 9 jobs, as with the trades job
            results["trades_of_first_job"] = 0
        backtests = [manager.create(backtest(f"bt-{i}", data)) for i in range(4)]
        replays = [manager.create(replay(f"replay-{i}", args.replay_speed)) for i in range(4)]
        await pilot.pause(3.0)  # the first job's snapshot (100,000 fills) written meanwhile
        watch = FrameWatch(app)
        idle = Phase("idle")
        await run_phase(app, watch, idle, plan, SEED)

        for job in replays:
            manager.start(job.id)
        load = JobKeeper(manager, backtests, interval=0.05)  # four always running
        keeper = asyncio.create_task(load.keep_running())
        await asyncio.sleep(1.0)
        before = load.candles()
        started = time.perf_counter()
        loaded = Phase("loaded")
        await run_phase(app, watch, loaded, plan, SEED, ready=load.all_running)
        loaded.seconds = time.perf_counter() - started
        loaded.candles = load.candles() - before
        results["backtest_runs"] = load.starts
        # The same load with nobody typing: the loop's lag from the jobs alone.
        quiet: list[float] = []
        stop = asyncio.Event()
        quiet_task = asyncio.create_task(measure_lag(quiet, stop, load.all_running))
        quiet_started, quiet_before = time.perf_counter(), load.candles()
        while len(quiet) < 500:
            await asyncio.sleep(0.5)
        stop.set()
        await quiet_task
        results["quiet"] = {
            "loop_lag_median_ms": 1000 * statistics.median(quiet),
            "loop_lag_p99_ms": 1000 * percentile(quiet, 99),
            "candles_per_s": (load.candles() - quiet_before)
            / (time.perf_counter() - quiet_started),
        }
        running = sum(job.status.is_active for job in manager.jobs)
        keeper.cancel()
        await manager.stop_all()
        if app.on_quit is not None:
            await app.on_quit()  # close the journal and unlock the state directory
        results["jobs_running_at_end"] = running
        results["frames"] = watch.frames
    state.cleanup()
    results["idle"] = idle.summary()
    results["loaded"] = loaded.summary()
    results["ratio_loaded_over_idle"] = {
        key: results["loaded"][key] / results["idle"][key]
        for key in ("latency_median_ms", "latency_p99_ms", "loop_lag_p99_ms")
        if results["idle"][key]
    }
    targets = {
        "latency_median_ms": 50.0,
        "latency_p99_ms": 150.0,
        "loop_lag_p99_ms": 50.0,
    }
    results["targets_met"] = all(results["loaded"][key] <= limit for key, limit in targets.items())
    results["load_average"] = os.getloadavg()
    return results


def report(results: dict[str, Any]) -> str:
    idle, loaded, ratio = results["idle"], results["loaded"], results["ratio_loaded_over_idle"]
    rows = [
        ("keypress -> frame, median [ms]", "latency_median_ms", 50.0),
        ("keypress -> frame, p99 [ms]", "latency_p99_ms", 150.0),
        ("keypress -> frame, max [ms]", "latency_max_ms", None),
        ("event-loop lag, median [ms]", "loop_lag_median_ms", None),
        ("event-loop lag, p99 [ms]", "loop_lag_p99_ms", 50.0),
    ]
    lines = [
        f"ATS console latency, {results['terminal']}, {results['keys_per_phase']} keys per phase,"
        f" backtests' turn budget {results['turn_ms']:g} ms,"
        f" journal and snapshots {'on' if results['persistence'] else 'off'}",
        (
            f"first job: {results['trades_of_first_job']:,} trades (Trades pane keys: h and"
            " scrolling)"
            if results["trades_of_first_job"]
            else "no trades job, no Trades pane keys (--without-trades-job)"
        )
        + "; load average at the end: "
        + " ".join(f"{value:.2f}" for value in results["load_average"]),
        f"{'':34}{'idle':>10}{'8 jobs':>10}{'ratio':>8}{'target':>9}",
    ]
    for label, key, target in rows:
        shown = f"{ratio[key]:.2f}" if key in ratio else ""
        goal = f"<= {target:g}" if target else ""
        lines.append(f"{label:34}{idle[key]:10.1f}{loaded[key]:10.1f}{shown:>8}{goal:>9}")
    quiet = results["quiet"]
    lines.append(
        f"same 8 jobs, nobody typing: loop lag median {quiet['loop_lag_median_ms']:.1f} ms, "
        f"p99 {quiet['loop_lag_p99_ms']:.1f} ms"
    )
    lines.append(
        f"backtest throughput (4 jobs): {loaded['candles_per_s']:,.0f} candles/s while typing, "
        f"{quiet['candles_per_s']:,.0f} candles/s otherwise; {results['backtest_runs']} runs; "
        f"jobs running at the end: {results['jobs_running_at_end']}; "
        f"key timeouts: {idle['timeouts']}/{loaded['timeouts']}"
    )
    lines.append("per key, median/max [ms]:")
    for key in sorted(idle["by_key_median_ms"].keys() | loaded["by_key_median_ms"].keys()):
        shown = [
            f"{phase['by_key_median_ms'][key]:6.1f} / {phase['by_key_max_ms'][key]:6.1f}"
            if key in phase["by_key_median_ms"]
            else f"{'-':>6} / {'-':>6}"
            for phase in (idle, loaded)
        ]
        lines.append(f"  {key:14} idle {shown[0]}   loaded {shown[1]}")
    lines.append("targets met" if results["targets_met"] else "TARGETS MISSED")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=300, help="key presses per phase")
    parser.add_argument("--candles", type=int, default=1_000_000, help="candles per backtest")
    parser.add_argument("--replay-speed", type=float, default=20.0)
    parser.add_argument(
        "--trades-candles",
        type=int,
        default=300_000,
        help="candles of the first job (sma_cross 2/3: at least 50,000 trades)",
    )
    parser.add_argument(
        "--without-trades-job",
        dest="trades_job",
        action="store_false",
        help="leave out the 50,000-trade job and the Trades pane keys: the workload of "
        "consoles before the Trades pane (to compare with them in one run)",
    )
    parser.add_argument(
        "--no-persistence",
        dest="persistence",
        action="store_false",
        help="without the journal and snapshots the real console has",
    )
    parser.add_argument(
        "--no-tune",
        dest="tune",
        action="store_false",
        help="Python's default GC, switch interval and malloc (ats.utils.runtime_tuning)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    print(report(figures))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
    sys.exit(0 if figures["targets_met"] else 1)
