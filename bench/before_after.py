"""One bench run on two checkouts, taking turns, and the after/before ratio of its figures.

    .venv/bin/python bench/before_after.py --before CHECKOUT [--rounds 3]
        [--figure loaded.latency_p99_ms ...] -- bench/ui_latency.py --without-trades-job

Runs this checkout's bench file (it must take ``--json OUT``) on the other checkout's
source (``PYTHONPATH``, the file copied beside that checkout's benches for its helpers),
then on this one's, ``--rounds`` times in turn (A B A B ...),
so that both see the same machine: these machines are noisy and a before/after taken at
different times compares the load more than the code. Prints each figure's median per
side and the ratio after/before (below 1: faster or smaller after).

Why the same bench file on both: the workload must be the same. A bench that grew a new
part since (e.g. ui_latency's 50,000-trade job) has an option to leave it out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]

DEFAULT_FIGURES = (
    "loaded.latency_median_ms",
    "loaded.latency_p99_ms",
    "loaded.loop_lag_p99_ms",
    "quiet.loop_lag_p99_ms",
    "loaded.candles_per_s",
    "quiet.candles_per_s",
)


def figure(results: dict[str, Any], path: str) -> float:
    value: Any = results
    for part in path.split("."):
        value = value[part]
    return float(value)


def run_once(checkout: Path, bench: list[str]) -> dict[str, Any]:
    """The bench file, copied beside the checkout's own benches (so that its helpers,
    e.g. console_state.py, are that checkout's), run on that checkout's source."""
    source = HERE / bench[0]
    copy = checkout / "bench" / f".before_after_{source.name}"
    with tempfile.TemporaryDirectory(prefix="ats-before-after-") as folder:
        out = Path(folder) / "figures.json"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        command = [sys.executable, str(copy), *bench[1:], "--json", str(out)]
        try:
            if copy != source:
                copy.write_bytes(source.read_bytes())
            done = subprocess.run(command, cwd=checkout, env=env, check=False)
        finally:
            copy.unlink(missing_ok=True)
        if not out.exists():
            raise SystemExit(f"{' '.join(command)} wrote no figures (rc {done.returncode})")
        results: dict[str, Any] = json.loads(out.read_text())
        results["load_after_run"] = os.getloadavg()[0]
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--figure",
        action="append",
        dest="figures",
        help="a dotted path into the bench's JSON (repeatable); default: ui_latency's",
    )
    parser.add_argument("bench", nargs=argparse.REMAINDER, help="-- BENCH_FILE [ARGS]")
    args = parser.parse_args()
    bench = [part for part in args.bench if part != "--"]
    if not bench:
        parser.error("give the bench after --, e.g. -- bench/ui_latency.py")
    before, after = args.before.resolve(), HERE
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for round_number in range(1, args.rounds + 1):
        for side, checkout in (("before", before), ("after", after)):
            print(f"round {round_number}/{args.rounds}: {side} ({checkout})", flush=True)
            runs[side].append(run_once(checkout, bench))
    figures = args.figures or list(DEFAULT_FIGURES)
    print(f"\n{bench[0]} {' '.join(bench[1:])}: median of {args.rounds} runs each")
    print(
        f"{'figure':34}{'before':>12}{'after':>12}{'after/before':>14}   every run, before | after"
    )
    for path in figures:
        values = {side: [figure(run, path) for run in runs[side]] for side in runs}
        medians = [statistics.median(values[side]) for side in runs]
        ratio = medians[1] / medians[0] if medians[0] else float("nan")
        every = " | ".join(" ".join(f"{value:.4g}" for value in values[side]) for side in runs)
        print(f"{path:34}{medians[0]:12.4g}{medians[1]:12.4g}{ratio:14.2f}   {every}")
    loads = [f"{run['load_after_run']:.2f}" for side in runs for run in runs[side]]
    print(f"load average (1 min) after each run, before then after: {', '.join(loads)}")


if __name__ == "__main__":
    main()
