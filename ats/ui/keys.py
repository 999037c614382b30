"""Every key of the console, in one place.

The footer bindings, the ``?`` help screen and the command palette are all generated
from these tables, so a key can never be documented in one and missing from another.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One key: what it runs, what the footer says and what the help/palette say."""

    key: str
    action: str
    """Textual action string, run on the widget or screen that owns the binding."""
    short: str
    """Footer label (kept short so the footer fits at 80 columns)."""
    help: str
    """One-line explanation for the help screen and the command palette."""
    group: str
    display: str | None = None
    """How the key is printed when Textual's own name is unwieldy (e.g. ``[``)."""
    show: bool = True
    """Shown in the footer; hidden keys are aliases of shown ones."""
    palette: bool = True
    """Offered in the command palette."""

    @property
    def label(self) -> str:
        return self.display or self.key

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.short,
            show=self.show,
            key_display=self.display,
            tooltip=self.help,
        )


MAIN_KEYS: tuple[KeySpec, ...] = (
    KeySpec("n", "new_job", "New", "New job: form with strategy, data, symbol, cash, fees", "Jobs"),
    KeySpec(
        "W,shift+w",
        "new_sweep",
        "Sweep",
        "New sweep: run a YAML search spec (as ats optimize) as a job",
        "Jobs",
        "W",
        show=False,
    ),
    KeySpec("e", "edit_job", "Edit", "Edit the selected (stopped) job's config", "Jobs"),
    KeySpec(
        "s",
        "toggle_job",
        "Start/Stop",
        "Start the selected job (live: asks first), or stop it",
        "Jobs",
    ),
    KeySpec("p", "pause_job", "Pause", "Pause the selected job, or resume it", "Jobs"),
    KeySpec("r", "reload_job", "Reload", "Reload the strategy code, keeping its state", "Jobs"),
    KeySpec("d", "delete_job", "Delete", "Delete the selected job (asks to confirm)", "Jobs"),
    KeySpec(
        "K,shift+k",
        "kill_switch",
        "Kill",
        "Kill switch: cancel every live order (asks first)",
        "Jobs",
        "K",
    ),
    KeySpec("plus", "speed(2.0)", "Faster", "Replay job: double the replay speed", "Jobs", "+"),
    KeySpec("minus", "speed(0.5)", "Slower", "Replay job: halve the replay speed", "Jobs", "-"),
    KeySpec("j", "focus_panel('jobs')", "Jobs", "Focus the jobs table", "Panels"),
    KeySpec("c", "focus_panel('chart')", "Chart", "Focus the chart of the selected job", "Panels"),
    KeySpec(
        "o", "focus_panel('orders')", "Orders", "Focus position, open orders, balances", "Panels"
    ),
    KeySpec("l", "focus_panel('log')", "Log", "Focus the job log", "Panels"),
    KeySpec("m", "focus_panel('metrics')", "Metrics", "Focus the metrics (report)", "Panels"),
    KeySpec("h", "focus_panel('trades')", "Trades", "Trades pane: round trips and fills", "Panels"),
    KeySpec("g", "toggle_equity", "Equity", "Chart: switch candles / equity curve", "Panels"),
    KeySpec(
        "slash", "filter", "Filter", "Filter the log (or the jobs, from the table)", "Panels", "/"
    ),
    KeySpec(
        "escape",
        "back",
        "Back",
        "Clear the filter shown, else back to the jobs table",
        "Panels",
        "esc",
        show=False,
        palette=False,
    ),
    KeySpec("t", "cycle_theme", "Theme", "Next colour theme (ctrl+p 'theme' to choose)", "App"),
    KeySpec("question_mark", "help", "Help", "This help: every key", "App", "?"),
    KeySpec("q", "app.quit", "Quit", "Quit: stop jobs gracefully, save state", "App"),
)

CHART_KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "left_square_bracket", "zoom(-1)", "Zoom in", "Chart: fewer candles per bar", "Chart", "["
    ),
    KeySpec(
        "right_square_bracket", "zoom(1)", "Zoom out", "Chart: more candles per bar", "Chart", "]"
    ),
    KeySpec("comma", "scroll(1)", "Back", "Chart: scroll back in time", "Chart", ","),
    KeySpec("full_stop", "scroll(-1)", "Fwd", "Chart: scroll forward in time", "Chart", "."),
    KeySpec("end", "live", "Live", "Chart: jump back to the latest candle", "Chart"),
)

TRADES_KEYS: tuple[KeySpec, ...] = (
    KeySpec(
        "enter",
        "pick",
        "Chart",
        "Trades: show the selected trade on the chart",
        "Trades",
        palette=False,
    ),
    KeySpec(
        "f",
        "toggle_fills",
        "Fills",
        "Trades: switch round trips / fills",
        "Trades",
        palette=False,
    ),
    *(
        KeySpec(key, action, short, f"Trades: {help}", "Trades", display, False, False)
        for key, action, short, help, display in (
            ("up", "move(-1)", "Up", "previous (newer) row", "↑"),
            ("down", "move(1)", "Down", "next (older) row", "↓"),
            ("pageup", "page(-1)", "PgUp", "a page newer", None),
            ("pagedown", "page(1)", "PgDn", "a page older", None),
            ("home", "first", "Newest", "the newest trade", None),
            ("end", "last", "Oldest", "the oldest trade", None),
        )
    ),
)

LOG_KEYS: tuple[KeySpec, ...] = (
    KeySpec("v", "cycle_level", "Level", "Log: cycle the minimum level shown", "Log"),
    KeySpec("w", "warnings_only", "Warnings", "Log: only warnings and errors (again: all)", "Log"),
)

SWEEP_KEYS: tuple[KeySpec, ...] = (
    KeySpec("x", "axis('x')", "X param", "Sweep: next param on the heatmap's x axis", "Sweep"),
    KeySpec("y", "axis('y')", "Y param", "Sweep: next param on the heatmap's y axis", "Sweep"),
    KeySpec("z", "sort(1)", "Sort", "Sweep: sort the trials by the next metric", "Sweep"),
    KeySpec("Z,shift+z", "sort(0)", "Order", "Sweep: reverse the trials' order", "Sweep", "Z"),
    KeySpec(
        "b",
        "promote('backtest')",
        "Backtest",
        "Sweep: the selected trial as a backtest job",
        "Sweep",
    ),
    KeySpec(
        "P,shift+p",
        "promote('paper')",
        "Paper",
        "Sweep: the selected trial as a paper job",
        "Sweep",
        "P",
    ),
)

GLOBAL_KEYS: tuple[KeySpec, ...] = (
    KeySpec("ctrl+p", "command_palette", "Palette", "Command palette: every command", "App", "^p"),
    KeySpec("ctrl+q", "quit", "Quit", "Quit (same as q)", "App", "^q", palette=False),
    KeySpec(
        "ctrl+d",
        "detach",
        "Detach",
        "Detach (ats attach): close the console, jobs keep running",
        "App",
        "^d",
        palette=False,
    ),
    KeySpec("tab", "focus_next", "Next", "Focus the next panel", "Panels", palette=False),
)

FOOTER_SPARE: tuple[str, ...] = (
    "cycle_theme",
    "speed(0.5)",
    "speed(2.0)",
    "reload_job",
    "focus_panel('jobs')",
    "focus_panel('metrics')",
    "focus_panel('orders')",
    "filter",
    "toggle_equity",
    "edit_job",
    "pause_job",
    "delete_job",
    "kill_switch",
)
"""Actions the footer leaves out, first to last, when its rows cannot hold every key (at
80 columns): what a new user needs later than starting a job and reading its chart, log
and trades. ``?`` (help: every key) and the palette are never left out."""

FORM_KEYS: tuple[KeySpec, ...] = (
    KeySpec("ctrl+s", "submit", "Save", "Form: validate and save the job", "Form", "^s"),
    KeySpec("escape", "cancel", "Cancel", "Form: close without saving", "Form", "esc"),
)

ALL_GROUPS: tuple[tuple[str, tuple[KeySpec, ...]], ...] = (
    ("Main", MAIN_KEYS + GLOBAL_KEYS),
    ("Chart (when focused)", CHART_KEYS),
    ("Log (when focused)", LOG_KEYS),
    ("Sweep (when focused)", SWEEP_KEYS),
    ("Trades (when focused)", TRADES_KEYS),
    ("New / edit job form", FORM_KEYS),
)


def bindings(specs: tuple[KeySpec, ...]) -> list[BindingType]:
    return [spec.binding() for spec in specs]
