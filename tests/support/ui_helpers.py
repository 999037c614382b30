"""Driving the console from tests without waiting for the CPU to go idle.

``Pilot.press`` waits until the process is idle, which never happens quickly while a
backtest is running; these helpers send keys and wait only for the screen to process them.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from textual import events
from textual.app import App
from textual.keys import _character_to_key
from textual.pilot import Pilot
from textual.widget import Widget

from ats.demo import DEMO_DATA
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.utils.synthetic_candles import save_parquet

CHARACTERS = {
    "plus": "+",
    "minus": "-",
    "slash": "/",
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "comma": ",",
    "full_stop": ".",
    "space": " ",
}


async def press(pilot: Pilot[object], *keys: str, settle: float = 0.02) -> None:
    """Send ``keys`` (Textual key names) like a terminal would; let the app handle each."""
    for key in keys:
        char = key if len(key) == 1 else CHARACTERS.get(key)
        pilot.app.post_message(events.Key(key, char))
        await pilot.pause(settle)
        # The app forwards the key to the focused widget as a new message: wait for the
        # widgets' queues once more, so a loaded machine (tests in parallel) has handled
        # it too before the test looks.
        await pilot.pause(0)


async def type_text(pilot: Pilot[object], text: str) -> None:
    """Type ``text`` into the focused widget, one key event per character."""
    for char in text:
        key = char if char.isalnum() else _character_to_key(char)
        pilot.app.post_message(events.Key(key, char))
    await pilot.pause(0.05)


async def wait_for(
    pilot: Pilot[object], condition: Callable[[], bool], timeout: float = 15.0
) -> None:
    """Poll ``condition`` while the app keeps running; fail after ``timeout`` seconds
    (generous: it costs nothing when the condition comes at once, and a loaded CI machine
    can be several times slower than a laptop)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)
    await asyncio.sleep(0)


async def settled(pilot: Pilot[object], quiet: float = 1.1, timeout: float = 15.0) -> None:
    """Wait until the screen stops changing: no worker running (a chart frame, a log
    rebuild) and the same screenshot, text and colours, for ``quiet`` seconds: longer
    than the slowest periodic redraw (the header's, once a second).

    Snapshot tests take their picture after this, not after a fixed pause: on a loaded
    machine (CI runs two test workers on two cores) a chart frame drawn in a thread, or a
    new theme's colours, landed after the pause and the picture showed the old state.
    """
    app = pilot.app
    deadline = time.monotonic() + timeout
    last: str | None = None
    since = time.monotonic()
    while True:
        await pilot.pause(0.05)
        busy = any(not worker.is_finished for worker in app.workers)
        shot = None if busy else app.export_screenshot()
        now = time.monotonic()
        if shot is None or shot != last:
            last, since = shot, now
        elif now - since >= quiet:
            return
        if now > deadline:
            raise AssertionError(f"the screen kept changing for {timeout}s")


async def palette_search(pilot: Pilot[object], text: str, expect: str) -> None:
    """Type ``text`` into the open command palette and wait until its search is over and
    the highlighted command (what enter runs) names ``expect``.

    The palette searches in a worker and, on a slow machine, shows the hits found so far
    after 0.25 s: a fixed pause before enter could run whatever was highlighted then.
    """
    from textual.command import CommandInput, CommandList, CommandPalette

    app = pilot.app
    await type_text(pilot, text)

    def ready() -> bool:
        palette = app.screen
        if not isinstance(palette, CommandPalette):
            return False
        if palette.query_one(CommandInput).value != text:
            return False  # keys still on their way
        if any(worker.node is palette and not worker.is_finished for worker in app.workers):
            return False
        options = palette.query_one(CommandList)
        index = options.highlighted
        return index is not None and expect in str(options.get_option_at_index(index).prompt)

    await wait_for(pilot, ready, timeout=15)


def fixed_clock(_moment: float) -> str:
    return "12:00:00"


def write_candles(path: Path, count: int, seed: int = 7) -> Path:
    """A reproducible random walk of 1-minute candles (Parquet: fast to write and read)."""
    return save_parquet(path, count, seed)


def screen_text(app: App[object]) -> str:
    """What the terminal shows right now, as plain text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def replay_config(
    name: str = "replay", data: Path | str = DEMO_DATA, speed: float = 20.0
) -> JobConfig:
    """The paper exchange replaying a candle file at ``speed`` times real time."""
    return parse_job_config(
        {
            "name": name,
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(data), "speed": speed},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )


async def focus_on(pilot: Pilot[object], widget: Widget) -> None:
    """Focus ``widget`` and wait until it has focus, so typed keys go where intended."""
    widget.focus()
    await wait_for(pilot, lambda: widget.has_focus)


async def add_job_by_form(pilot: Pilot[object], name: str, data: Path) -> None:
    """``n``, a new name and a candle file typed into the job form, ``ctrl+s``: back on the
    main screen with the job created, as a user at the keyboard does it."""
    from textual.widgets import Input

    from ats.ui.screens.job_form import JobFormScreen
    from ats.ui.screens.main import MainScreen

    app = pilot.app
    await press(pilot, "n")
    await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen))
    await wait_for(pilot, lambda: getattr(app.focused, "id", None) == "f-name")
    await press(pilot, "ctrl+u")
    await type_text(pilot, name)
    form = app.screen
    assert isinstance(form, JobFormScreen)
    await focus_on(pilot, form.query_one("#f-data", Input))
    await press(pilot, "ctrl+u")
    await type_text(pilot, str(data))
    await press(pilot, "ctrl+s")
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
