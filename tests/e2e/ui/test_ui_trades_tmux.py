"""Issue 10, acceptance 3: ``./start.sh`` in tmux at 80x24 runs the demo backtest; ``h``
opens its Trades pane with its 27 trades; ``q``, a new start, and the same chart and
trades are back. A real terminal, real keys, the real launcher (see test_ui_tmux.py).
"""

from __future__ import annotations

import time
from pathlib import Path

from test_ui_tmux import TMUX, Console, Tmux, pytestmark  # noqa: F401  (skip marks)


def panel(text: str, title: str) -> list[str]:
    """The lines inside the panel whose top border holds ``title``."""
    lines = text.splitlines()
    top = next((i for i, line in enumerate(lines) if title in line), None)
    if top is None:
        return []
    inside = []
    for line in lines[top + 1 :]:
        if line.startswith("╰"):
            break
        inside.append(line)
    return inside


def trade_numbers(text: str) -> list[str]:
    """The # column of the Trades pane's rows."""
    return [line.strip("│ ").split()[0] for line in panel(text, "Trades (h)")[1:]]


def chart_and_trades(tmux: Tmux) -> tuple[list[str], list[str]]:
    tmux.keys("c")
    tmux.wait(lambda t: "┤" in "\n".join(panel(t, "Chart (c)")) and "Zoom in" in t, 15)
    chart = settled(tmux, "Chart (c)")
    tmux.keys("h")
    tmux.wait(lambda t: "27 trades" in t and trade_numbers(t)[:1] == ["27"] and "Fills" in t, 15)
    return chart, settled(tmux, "Trades (h)")


def settled(tmux: Tmux, title: str) -> list[str]:
    """The panel once two captures agree (the footer's keys follow the focus, and the
    panels' heights with them)."""
    shown: list[str] = []
    for _attempt in range(50):
        time.sleep(0.1)
        now = panel(tmux.capture(), title)
        if now == shown:
            break
        shown = now
    return shown


def test_demo_trades_and_chart_survive_a_restart(tmp_path: Path) -> None:
    console = Console(tmp_path)
    try:
        tmux = console.start()
        tmux.wait(lambda t: "finished" in t and "demo-replay" in t, 20)
        chart, trades = chart_and_trades(tmux)
        shown = len(trades) - 1
        assert shown >= 10
        assert trade_numbers("\n".join(["Trades (h)", *trades, "╰"])) == [
            str(number) for number in range(27, 27 - shown, -1)
        ]
        assert "open" in trades[1]  # the newest trade is still open at the file's end
        tmux.keys("End")
        tmux.wait(lambda t: trade_numbers(t)[-1] == "1", 15)
        tmux.keys("Home")
        tmux.wait(lambda t: trade_numbers(t)[0] == "27", 15)
        tmux.keys("q")
        final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
        assert "ATS-EXIT:0" in final

        tmux = console.start()
        tmux.wait(lambda t: "finished" in t and "demo-replay" in t, 20)
        again_chart, again_trades = chart_and_trades(tmux)
        assert again_chart == chart
        assert again_trades == trades
        tmux.keys("q")
        final, _ = tmux.wait(lambda t: "ATS-EXIT:" in t, 20)
        assert "ATS-EXIT:0" in final
    finally:
        console.close()
