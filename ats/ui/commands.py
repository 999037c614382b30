"""Command palette (ctrl+p): every key's command, plus jump-to-job and choose-a-theme.

Built from :mod:`ats.ui.keys`, so the palette always offers exactly what the keys do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from ats.ui.keys import CHART_KEYS, LOG_KEYS, MAIN_KEYS, SWEEP_KEYS, KeySpec
from ats.ui.widgets.sweep_pane import SweepPane

if TYPE_CHECKING:
    from ats.ui.screens.main import MainScreen


DESCRIPTION_SCORE = 0.2
"""Rank of a command found by its description rather than its title (titles score up
to 1)."""


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], Any]


def _main_screen(provider: Provider) -> MainScreen | None:
    from ats.ui.screens.main import MainScreen

    for screen in reversed(provider.app.screen_stack):
        if isinstance(screen, MainScreen):
            return screen
    return None


def palette_commands(screen: MainScreen) -> list[PaletteCommand]:
    """Every console command as (title, help, callable)."""
    commands: list[PaletteCommand] = []

    def key_command(spec: KeySpec, target: Any) -> PaletteCommand:
        return PaletteCommand(
            _title(spec), f"{spec.help}  ({spec.label})", partial(target.run_action, spec.action)
        )

    for spec in MAIN_KEYS:
        if spec.palette:
            commands.append(key_command(spec, screen))
    for spec in CHART_KEYS:
        commands.append(key_command(spec, screen.chart))
    for spec in LOG_KEYS:
        commands.append(key_command(spec, screen.log_view))
    for spec in SWEEP_KEYS:
        commands.append(key_command(spec, screen.query_one(SweepPane)))
    app = screen.app
    for name in sorted(app.available_themes):
        commands.append(
            PaletteCommand(
                f"Theme: {name}", "Switch to this colour theme", partial(_set_theme, app, name)
            )
        )
    for job in screen.job_views:
        commands.append(
            PaletteCommand(
                f"Select job: {job.name}",
                f"{job.strategy} on {job.symbol} ({job.status})",
                partial(_select_job, screen, job.job_id),
            )
        )
    return commands


def _title(spec: KeySpec) -> str:
    titles = {
        "new_job": "New job",
        "new_sweep": "New sweep (from a YAML spec)",
        "axis('x')": "Sweep: heatmap x param",
        "axis('y')": "Sweep: heatmap y param",
        "sort(1)": "Sweep: sort trials by next metric",
        "sort(0)": "Sweep: reverse trial order",
        "promote('backtest')": "Sweep: trial to backtest job",
        "promote('paper')": "Sweep: trial to paper job",
        "edit_job": "Edit job",
        "toggle_job": "Start / stop job",
        "pause_job": "Pause / resume job",
        "reload_job": "Reload strategy code",
        "delete_job": "Delete job",
        "kill_switch": "Kill switch: cancel all live orders",
        "speed(2.0)": "Replay faster",
        "speed(0.5)": "Replay slower",
        "toggle_equity": "Chart: candles / equity curve",
        "filter": "Filter log or jobs",
        "cycle_theme": "Next theme",
        "help": "Help: all keys",
        "app.quit": "Quit (stop jobs, save state)",
        "zoom(-1)": "Chart: zoom in",
        "zoom(1)": "Chart: zoom out",
        "scroll(1)": "Chart: scroll back",
        "scroll(-1)": "Chart: scroll forward",
        "live": "Chart: back to live",
        "cycle_level": "Log: cycle minimum level",
        "warnings_only": "Log: warnings and errors only",
    }
    if spec.action in titles:
        return titles[spec.action]
    if spec.action.startswith("focus_panel"):
        return f"Focus: {spec.short.lower()}"
    return spec.short


def _set_theme(app: Any, name: str) -> None:
    app.theme = name


def _select_job(screen: MainScreen, job_id: str) -> None:
    screen.table.select_job(job_id)
    screen.table.focus()


class JobCommands(Provider):
    """Palette provider for the console's commands."""

    def _commands(self) -> list[PaletteCommand]:
        screen = _main_screen(self)
        return palette_commands(screen) if screen is not None else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(
                escape(command.title), command.run, command.title, escape(command.help)
            )

    async def search(self, query: str) -> Hits:
        """Titles match fuzzily; descriptions match by their words too (``speed`` finds
        "Replay faster"), ranked below a title match."""
        matcher = self.matcher(query)
        words = query.lower().split()
        for command in self._commands():
            score = matcher.match(command.title)
            if score <= 0 and words and all(word in command.help.lower() for word in words):
                score = DESCRIPTION_SCORE
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    command.run,
                    command.title,
                    escape(command.help),
                )
