"""Console start-up: from launching ``ats`` in a terminal to the demo jobs on screen.

    .venv/bin/python bench/console_start.py [--rounds 5]

Starts ``ats`` (this checkout's .venv) in a private tmux server (``-L``, no user config)
at 80x24 with TERM=xterm-256color, in an empty temporary workspace (so the first start
creates the two demo jobs), and polls the pane until both demo jobs show: the 3 s target
of the project's acceptance 3 (tests/e2e/ui/test_ui_tmux.py checks that they show, not how
fast). Then ``q``.

The peer, from the same run: ``ats --help`` run to its end in the same way (a process's
start-up floor), as a ratio. Needs tmux.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 3.0
ATS = Path(sys.executable).with_name("ats")
SERVERS = itertools.count()
"""A new tmux server per start: one being killed may still answer for a moment."""


def until_shown(tmux: list[str], wanted: tuple[str, ...], timeout: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        pane = subprocess.run(
            [*tmux, "capture-pane", "-p", "-t", "ats"], capture_output=True, text=True
        ).stdout
        if all(text in pane for text in wanted):
            return time.monotonic() - began
        time.sleep(0.02)
    raise RuntimeError(f"{wanted} not shown within {timeout} s:\n{pane}")


def one_start(command: str, wanted: tuple[str, ...], tmux_bin: str) -> float:
    with tempfile.TemporaryDirectory(prefix="ats-bench-start-") as root:
        home = Path(root)
        tmux = [tmux_bin, "-L", f"ats-bench-{os.getpid()}-{next(SERVERS)}", "-f", "/dev/null"]
        env = {key: value for key, value in os.environ.items() if not key.startswith("ATS_")}
        env.update(HOME=str(home), TERM="xterm-256color", ATS_CANDLE_CACHE_DIR=str(home / "c"))
        window = ["new-session", "-d", "-s", "ats", "-x", "80", "-y", "24", "-c", str(home)]
        try:
            began = time.monotonic()
            subprocess.run([*tmux, *window, f"{command}; sleep 30"], env=env, check=True)
            launched = time.monotonic() - began
            return launched + until_shown(tmux, wanted, 30)
        finally:
            subprocess.run([*tmux, "send-keys", "-t", "ats", "q"], capture_output=True)
            time.sleep(0.5)  # the console saves its jobs on q
            subprocess.run([*tmux, "kill-server"], capture_output=True)


def main(args: argparse.Namespace) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        raise SystemExit("needs tmux (apt-get install -y tmux)")
    console = [
        one_start(str(ATS), ("demo-sma-cross", "demo-replay"), tmux) for _ in range(args.rounds)
    ]
    help_ = [
        one_start(f"{ATS} --help >/dev/null; echo HELP-DONE", ("HELP-DONE",), tmux)
        for _ in range(args.rounds)
    ]
    ours, peer = statistics.median(console), statistics.median(help_)
    print(f"80x24 tmux pane, median of {args.rounds} (max {max(console):.2f} s)")
    print(f"ats to both demo jobs shown: {ours:5.2f} s  (target {TARGET_SECONDS} s)")
    print(f"ats --help run (peer):       {peer:5.2f} s")
    print(f"console start / ats --help: {ours / peer:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args())
