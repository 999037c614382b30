"""Console memory under a long replay: RSS must stay flat because every buffer is bounded.

    .venv/bin/python bench/ui_memory.py [--minutes 60] [--jobs 4] [--json OUT]

Runs the real console headless (160x48), with its journal and snapshots in a temporary
saved_states directory as ``ats`` has them (``--no-persistence`` leaves them out), with
``--jobs`` paper replays of the bundled
BTC/USDT candles at maximum speed (``speed: 0``; each job is restarted when its file
ends, so the feed never stops), for ``--minutes`` of wall-clock time. The strategy is
sma_cross plus a log line every 20 candles (a bench-only custom module in a temp dir),
so the log path is exercised too. Meanwhile a
scripted "trader" keeps every panel busy: it moves through the jobs, switches chart,
log, orders and metrics, toggles the equity curve and zooms, once a second.

RSS (psutil) is sampled every 15 s. The baseline is taken after a warm-up (every widget
drawn, caches filled, one full pass of the data); growth = final - baseline. Also
reported: candles replayed (and the market time they span), bus events seen and
dropped, the sizes of the console's own buffers at the end, and resident memory by kind
(Python objects, C heaps in use and free, SQLite, files) at the baseline and the end
(bench/process_memory.py), to tell a leak from fragmentation. Target (issue 3):
growth < 20 MB over one hour.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from console_state import persistence_hooks
from job_keeper import JobKeeper
from process_memory import memory_breakdown

from ats.demo import DEMO_DATA
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.plugins import PluginLoader

SIZE = (160, 48)
SAMPLE_SECONDS = 15.0
WARMUP_SECONDS = 120.0
TARGET_MB = 20.0
TRADER_SCRIPT = ("down", "c", "g", "g", "right_square_bracket", "l", "o", "m", "j", "up")


CHATTY_STRATEGY = '''
"""sma_cross that also logs every 20th candle at a rotating level (bench only)."""
from ats.strategies.sma_cross.strategy import Strategy as SmaCross

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Strategy(SmaCross):
    name = "chatty_sma"

    def on_candle(self, candle):
        super().on_candle(candle)
        step = candle.timestamp // 60_000
        if candle.timestamp % 60_000 == 0:
            self.log(f"close {candle.close:,.2f} fast {self.fast.result:,.2f}", LEVELS[step % 4])
'''


def chatty_loader(root: Path) -> PluginLoader:
    """A plugin loader whose custom_modules holds the log-heavy bench strategy."""
    folder = root / "strategies" / "chatty_sma"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "strategy.py").write_text(CHATTY_STRATEGY)
    return PluginLoader(root)


def replay(name: str) -> JobConfig:
    return parse_job_config(
        {
            "name": name,
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": 0},
            },
            "strategy": {"name": "chatty_sma", "params": {"fast": 10, "slow": 30}},
        }
    )


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


async def trader(app: Any, stop: asyncio.Event) -> None:
    """One key a second, cycling through every panel and chart mode."""
    from textual import events

    index = 0
    while not stop.is_set():
        key = TRADER_SCRIPT[index % len(TRADER_SCRIPT)]
        app.post_message(events.Key(key, key if len(key) == 1 else None))
        index += 1
        await asyncio.sleep(1.0)


def buffer_sizes(app: Any, manager: JobManager) -> dict[str, int]:
    """Sizes of everything that could grow without bound, at the end of the run."""
    from ats.ui.screens.main import MainScreen

    screen = app.screen
    sizes: dict[str, int] = {
        "job_logs_max": max(len(job.logs) for job in manager.jobs),
        "bus_subscribers": len(manager.bus._subscriptions),
        "workers": len(app.workers),
        "gc_objects": len(gc.get_objects()),
    }
    if isinstance(screen, MainScreen):
        sizes.update(
            {
                "log_view_lines": len(screen.log_view.lines),
                "status_lines_max": max(
                    (len(lines) for lines in screen._statuses._lines.values()), default=0
                ),
                "table_strip_cache": len(screen.table._strips),
                "chart_lines": len(screen.chart._lines),
            }
        )
    return sizes


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from ats.ui.app import AtsApp
    from ats.utils.runtime_tuning import tune_runtime

    if not args.no_tune:
        tune_runtime()  # as ats.ui.launch does: before any job or thread exists
    modules = Path(tempfile.mkdtemp(prefix="ats-bench-modules-"))
    state = tempfile.TemporaryDirectory(prefix="ats-bench-state-")
    manager = JobManager(loader=chatty_loader(modules))
    # The real console (ats.ui.launch) has its journal and snapshots on.
    hooks = persistence_hooks(manager, Path(state.name)) if args.persistence else {}
    app = AtsApp(manager, demo=False, settings_path=None, tune_runtime=not args.no_tune, **hooks)
    samples: list[tuple[float, float, int]] = []
    subscription = manager.bus.subscribe(1_000)
    seen = 0
    async with app.run_test(size=SIZE) as pilot:
        while not app.started:
            await pilot.pause(0.05)
        jobs = [manager.create(replay(f"replay-{i}")) for i in range(args.jobs)]
        await pilot.pause(0.5)
        replays = JobKeeper(manager, jobs, interval=0.1)
        keeper = asyncio.create_task(replays.keep_running())
        stop = asyncio.Event()
        keys = asyncio.create_task(trader(app, stop))
        started = time.monotonic()
        deadline = started + 60 * args.minutes
        baseline: float | None = None
        next_sample = started
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            seen += len(subscription.drain())
            now = time.monotonic()
            if now >= next_sample:
                next_sample += SAMPLE_SECONDS
                samples.append((now - started, rss_mb(), replays.candles()))
                if baseline is None and now - started >= min(WARMUP_SECONDS, args.minutes * 30):
                    baseline = samples[-1][1]
                    baseline_at = now - started
                    baseline_kinds = memory_breakdown()
                if args.verbose:
                    print(f"{now - started:7.0f}s  RSS {samples[-1][1]:7.1f} MB", flush=True)
        stop.set()
        await keys
        keeper.cancel()
        sizes = buffer_sizes(app, manager)
        final_kinds = memory_breakdown()
        await manager.stop_all()
        if app.on_quit is not None:
            await app.on_quit()  # close the journal and unlock the state directory
    state.cleanup()
    final = samples[-1][1]
    assert baseline is not None
    candles = replays.candles()
    after = [rss for at, rss, _ in samples if at >= baseline_at]
    return {
        "minutes": args.minutes,
        "jobs": args.jobs,
        "persistence": args.persistence,
        "candles_replayed": candles,
        "market_hours_replayed": candles * 3 / 3600,
        "passes": replays.finished_runs,
        "rss_start_mb": samples[0][1],
        "rss_baseline_mb": baseline,
        "rss_final_mb": final,
        "rss_max_after_baseline_mb": max(after),
        "growth_mb": final - baseline,
        "bus_events_seen": seen,
        "bus_events_dropped_by_bench_queue": subscription.dropped,
        "buffers_at_end": sizes,
        "memory_by_kind": {
            kind: {"baseline": baseline_kinds[kind], "end": final_kinds[kind]}
            for kind in baseline_kinds
            if kind in final_kinds
        },
        "samples": [
            {"seconds": round(at), "rss_mb": round(rss, 1), "candles": count}
            for at, rss, count in samples
        ],
        "target_met": final - baseline < TARGET_MB,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"ATS console memory: {results['minutes']} min, {results['jobs']} max-speed replays, "
        f"journal and snapshots {'on' if results['persistence'] else 'off'}, "
        f"{results['candles_replayed']:,} candles ({results['market_hours_replayed']:,.0f} "
        f"market hours, {results['passes']} passes over the data)",
        f"RSS start {results['rss_start_mb']:.1f} MB, after warm-up "
        f"{results['rss_baseline_mb']:.1f} MB, end {results['rss_final_mb']:.1f} MB, "
        f"max {results['rss_max_after_baseline_mb']:.1f} MB",
        f"growth after warm-up: {results['growth_mb']:+.1f} MB (target < {TARGET_MB:g} MB)",
        f"bus events: {results['bus_events_seen']:,} seen by the bench's own subscriber",
        "buffers at the end: "
        + ", ".join(f"{key} {value:,}" for key, value in results["buffers_at_end"].items()),
        "by kind, after warm-up -> end: "
        + ", ".join(
            f"{kind} {values['baseline']:,.1f} -> {values['end']:,.1f}"
            for kind, values in results["memory_by_kind"].items()
        ),
        "target met" if results["target_met"] else "TARGET MISSED",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--no-tune", action="store_true", help="keep Python's default GC")
    parser.add_argument(
        "--no-persistence",
        dest="persistence",
        action="store_false",
        help="without the journal and snapshots the real console has",
    )
    parser.add_argument("--verbose", action="store_true", help="print every RSS sample")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON")
    arguments = parser.parse_args()
    figures = asyncio.run(main(arguments))
    print(report(figures))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
    sys.exit(0 if figures["target_met"] else 1)
