"""``ats attach`` latency: the attached console against the in-process one, same run.

    .venv/bin/python bench/attach_latency.py [--toggles 40] [--json OUT]

Eight paper replays of the bundled BTC/USDT data run at ``--replay-speed`` x real time
(candles, fills and progress events flow all the time). Two consoles are measured,
one after the other, with the same jobs and the same stimuli:

- in process: the console and the jobs share one event loop (what ``ats`` runs), with
  the control API on and one more console's event stream attached to it;
- attached: the jobs run in a child process (``--serve``) behind the control API's unix
  socket, the console runs here on a RemoteJobControl (what ``ats attach`` runs).

Two latencies, each ``--toggles`` times per kind (pause and resume alternate, on each
job in turn):

- engine event -> screen: another client pauses or resumes a job; from the moment the
  engine publishes the status change (its ``time.monotonic()``, which is one clock for
  every process on Linux) to the moment the console's jobs table shows it;
- key -> effect: ``p`` is posted to the console with the job under the cursor; from the
  key to the moment the table shows the job's new status (command, engine, event back).

The table is polled every millisecond; what it holds is drawn on the next frame.
Target (issue 11): attached p99 <= 100 ms; the ratio to in process is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ats.demo import DEMO_DATA
from ats.trading_job.events import JobStatusChanged
from ats.trading_job.job_config import JobConfig, parse_job_config

JOBS = 8
SIZE = (160, 48)
SETTLE_S = 1.0
"""Jobs get going (data loaded, first candles) before anything is measured."""


def replay(index: int, speed: float) -> JobConfig:
    return parse_job_config(
        {
            "name": f"replay-{index}",
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": speed},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 3 + index, "slow": 12 + index}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )


class StatusTimes:
    """When the engine published each (job, status) change: monotonic seconds."""

    def __init__(self) -> None:
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)

    def record(self, job_id: str, status: str, at: float) -> None:
        self.times[(job_id, status)].append(at)

    async def after(self, job_id: str, status: str, since: float) -> float:
        """The first publication of ``status`` for ``job_id`` at or after ``since``."""
        for _ in range(5_000):
            found = [at for at in self.times[(job_id, status)] if at >= since]
            if found:
                return found[0]
            await asyncio.sleep(0.001)
        raise TimeoutError(f"{job_id} never became {status}")


def start_jobs(speed: float) -> tuple[Any, StatusTimes, list[str]]:
    from ats.trading_job.job_manager import JobManager

    manager = JobManager()
    times = StatusTimes()

    def on_status(event: Any) -> None:
        times.record(event.job_id, str(event.status), time.monotonic())

    manager.bus.listen(on_status, kinds=(JobStatusChanged,))
    ids = [manager.create(replay(index, speed)).id for index in range(JOBS)]
    for job_id in ids:
        manager.start(job_id)
    return manager, times, ids


# -- the child: jobs behind the control API -------------------------------------------------
async def serve(socket_file: Path, speed: float) -> None:
    from ats.apis.listen import bind
    from ats.apis.server import ControlServer
    from ats.trading_job.local_control import LocalJobControl

    manager, _times, _ids = start_jobs(speed)

    def on_status(event: Any) -> None:
        print(f"status {event.job_id} {event.status} {time.monotonic():.6f}", flush=True)

    manager.bus.listen(on_status, kinds=(JobStatusChanged,))
    async with ControlServer(LocalJobControl(manager), bind(socket_file)):
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # until the parent is done
    await manager.stop_all()


# -- the console, measured --------------------------------------------------------------------
async def until_shown(screen: Any, job_id: str, status: str) -> float:
    deadline = time.monotonic() + 5
    while status not in str(screen.table.get_row(job_id)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{job_id}: {status} never shown")
        await asyncio.sleep(0.001)
    return time.monotonic()


async def measure(
    app: Any, stimulus: Any, times: StatusTimes, ids: list[str], toggles: int
) -> dict[str, list[float]]:
    from textual import events

    from ats.ui.screens.main import MainScreen

    samples: dict[str, list[float]] = {"event": [], "key": []}
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        while screen.table.row_count < JOBS:
            await pilot.pause(0.05)
        await asyncio.sleep(SETTLE_S)
        for index in range(toggles):
            job_id = ids[index % JOBS]
            for command, status in ((stimulus.pause, "paused"), (stimulus.resume, "running")):
                sent = time.monotonic()
                await command(job_id)
                shown = await until_shown(screen, job_id, status)
                samples["event"].append(shown - await times.after(job_id, status, sent))
            screen.table.select_job(job_id)
            await pilot.pause(0.05)
            for status in ("paused", "running"):
                pressed = time.monotonic()
                app.post_message(events.Key("p", "p"))
                samples["key"].append(await until_shown(screen, job_id, status) - pressed)
            await asyncio.sleep(0.05)
    return samples


async def in_process(toggles: int, speed: float) -> dict[str, list[float]]:
    from ats.apis.listen import bind
    from ats.apis.remote_control import RemoteJobControl
    from ats.apis.server import ControlServer
    from ats.trading_job.local_control import LocalJobControl
    from ats.ui.app import AtsApp

    manager, times, ids = start_jobs(speed)
    app = AtsApp(manager, demo=False, settings_path=None)
    with tempfile.TemporaryDirectory(prefix="ats-attach-") as directory:
        socket_file = Path(directory) / "ats.sock"
        # The API on, serving another console's event stream, as ``ats`` does.
        async with ControlServer(LocalJobControl(manager), bind(socket_file)):
            other = RemoteJobControl(socket_file=socket_file)
            watch = other.watch(lambda changes: None)
            watch.start()
            try:
                return await measure(app, LocalJobControl(manager), times, ids, toggles)
            finally:
                await watch.stop()
                await other.close()
                await manager.stop_all()


async def attached(toggles: int, speed: float) -> dict[str, list[float]]:
    from ats.apis.remote_control import RemoteJobControl
    from ats.ui.app import AtsApp

    times = StatusTimes()
    with tempfile.TemporaryDirectory(prefix="ats-attach-") as directory:
        socket_file = Path(directory) / "ats.sock"
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(socket_file), "--replay-speed", str(speed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"

        def read_statuses(stream: Any) -> None:
            for line in stream:
                _tag, job_id, status, at = line.split()
                times.record(job_id, status, float(at))

        threading.Thread(target=read_statuses, args=(child.stdout,), daemon=True).start()
        console = RemoteJobControl(socket_file=socket_file)
        other = RemoteJobControl(socket_file=socket_file)
        try:
            ids = await other.job_ids()
            app = AtsApp(control=console, demo=False, settings_path=None)
            return await measure(app, other, times, ids, toggles)
        finally:
            await console.close()
            await other.close()
            child.stdin.write("done\n")
            child.stdin.flush()
            child.wait(timeout=30)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(samples: dict[str, list[float]]) -> dict[str, float]:
    result = {}
    for kind, values in samples.items():
        result[f"{kind}_p50_ms"] = statistics.median(values) * 1000
        result[f"{kind}_p99_ms"] = percentile(values, 0.99) * 1000
    return result


def report(local: dict[str, float], remote: dict[str, float], runs: Callable[[], str]) -> str:
    lines = [f"8 paper replays running; {runs()}", ""]
    lines.append(f"{'':34}{'in process':>12}{'attached':>12}{'ratio':>8}")
    for kind, label in (("event", "engine event -> screen"), ("key", "key -> effect")):
        for stat in ("p50", "p99"):
            name = f"{kind}_{stat}_ms"
            ratio = remote[name] / local[name] if local[name] else float("nan")
            lines.append(
                f"{label + ' ' + stat:34}{local[name]:>10.1f}ms{remote[name]:>10.1f}ms"
                f"{ratio:>7.2f}x"
            )
    verdict = max(remote["event_p99_ms"], remote["key_p99_ms"])
    lines.append("")
    lines.append(f"attached p99 {verdict:.1f} ms (target <= 100 ms)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--toggles", type=int, default=40)
    parser.add_argument("--replay-speed", type=float, default=50.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve, args.replay_speed))
        return
    local = figures(asyncio.run(in_process(args.toggles, args.replay_speed)))
    remote = figures(asyncio.run(attached(args.toggles, args.replay_speed)))
    load = os.getloadavg()
    print(
        report(
            local,
            remote,
            lambda: f"{args.toggles} toggles per kind; load average {load[0]:.2f}",
        )
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"in_process": local, "attached": remote}, indent=2))


if __name__ == "__main__":
    main()
