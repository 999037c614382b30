"""Start-up cost of ``ats`` with and without ccxt, measured in fresh processes.

    .venv/bin/python bench/startup_cost.py [--repeat 5]

Reports wall time and peak RSS of: ``ats --help``; a process that only imports ATS's
engine; the same plus ``import ccxt.async_support`` (what a paper/live job adds); and
``import textual.app`` (what the console adds). Ratios are against ``ats --help``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

PROBES = {
    "ats --help": (
        "from ats.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    ),
    "engine (JobManager)": "import ats.trading_job.job_manager",
    "engine + ccxt": "import ats.trading_job.job_manager, ccxt.async_support",
    "engine + textual": "import ats.trading_job.job_manager, textual.app",
}

MEASURE = """
import io, contextlib, resource, time
began = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    exec({code!r})
elapsed = time.perf_counter() - began
import json
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": elapsed, "rss_mb": rss_mb}}))
"""


def measure(code: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", MEASURE.format(code=code)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {
        "seconds": min(run["seconds"] for run in runs),
        "rss_mb": min(run["rss_mb"] for run in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    results = {name: measure(code, args.repeat) for name, code in PROBES.items()}
    base = results["ats --help"]
    print(f"import cost in a fresh process (best of {args.repeat})")
    for name, result in results.items():
        time_ratio = result["seconds"] / base["seconds"]
        rss_ratio = result["rss_mb"] / base["rss_mb"]
        print(
            f"  {name:<22} {result['seconds'] * 1000:8.0f} ms ({time_ratio:5.1f}x)"
            f"  peak RSS {result['rss_mb']:6.1f} MB ({rss_ratio:4.1f}x)"
        )


if __name__ == "__main__":
    main()
