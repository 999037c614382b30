"""Issue 14, items 1 and 2 in the real console (``./start.sh`` in tmux): ``ctrl+q``
while a strategy holds the event loop (the watchdog's own limit turned off, so only the
stop can free it) ends the console within the stop deadline, gives the terminal back
and saves the stuck job in error and the other one to resume."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from persist_helpers import write_candles
from stuck_jobs import custom_modules, replay, save_jobs, stuck
from test_ui_tmux import Console, saved_statuses
from test_ui_tmux import pytestmark as tmux_marks

from ats.persistence.directory_lock import holder_pid

pytestmark = tmux_marks  # skipped without tmux, like the other tmux tests
DEADLINE = 2.0
MARGIN = 8.0


def test_ctrl_q_ends_a_console_whose_strategy_is_stuck(tmp_path: Path) -> None:
    console = Console(tmp_path)
    try:
        custom = custom_modules(tmp_path)
        candles = write_candles(tmp_path / "candles.csv", 2_000)
        marker = tmp_path / "hanging"
        save_jobs(
            console.state,
            custom,
            {
                "replay": replay(candles, speed=1.0),
                "stuck": stuck(candles, "spin", marker=str(marker)),
            },
        )
        (console.work / ".env").write_text(
            f"ATS_CUSTOM_MODULES_DIR={custom}\nATS_WATCHDOG_BACKTEST_S=0\n"
            f"ATS_WATCHDOG_PAPER_S=0\nATS_STOP_DEADLINE_S={DEADLINE:g}\n"
        )
        tmux = console.start()
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert time.monotonic() < deadline, tmux.capture()
            time.sleep(0.05)
        time.sleep(0.3)  # the console's loop is held by the strategy now
        tmux.keys("C-q")
        final, seconds = tmux.wait(lambda t: "ATS-EXIT:" in t, DEADLINE + MARGIN)
        print(f"ctrl+q to shell prompt with a stuck strategy: {seconds:.2f}s")
        assert "ATS-EXIT:0" in final
        assert tmux.flag("alternate_on") == "0"  # the terminal is given back
        assert tmux.flag("cursor_flag") == "1"
        assert saved_statuses(console.state) == {"stuck": "error", "replay": "running"}
    finally:
        console.close()
        pid = holder_pid(console.state) if console.state.is_dir() else None
        if pid is not None and pid > 0:  # a console that never exited: not left behind
            os.kill(pid, signal.SIGKILL)
