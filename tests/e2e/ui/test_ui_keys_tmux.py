"""Keys typed together over a real terminal (issue 10, bug 6): ``j`` and Up in one
``send-keys`` (one write, as over ssh) must both act. Runs ``./start.sh`` in tmux at 80x24
like tests/e2e/ui/test_ui_tmux.py, whose fixtures it uses."""

from __future__ import annotations

import time

from test_ui_tmux import Tmux, console, pytestmark, tmux

__all__ = ["console", "pytestmark", "tmux"]  # the fixtures and skip marks, reused


def test_j_and_up_in_one_write_move_the_cursor(tmux: Tmux) -> None:
    tmux.wait(lambda t: "demo-replay" in t and "finished" in t, 15)
    tmux.keys("Down")
    tmux.wait(lambda t: "demo-replay · sma_cross" in t, 15)
    tmux.keys("l")
    tmux.wait(lambda t: "╭─ Log (l)" in t, 15)
    tmux.keys("j", "Up")  # one send-keys: one write
    time.sleep(0.5)
    tmux.keys("c")  # the chart's title names the selected job
    tmux.wait(lambda t: "demo-sma-cross · sma_cross" in t, 15)
    tmux.keys("q")
    tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
