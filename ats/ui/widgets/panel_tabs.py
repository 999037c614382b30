"""Narrow layouts show one lower panel at a time; this line says which, and how to switch.

It also carries the selected job's error, which has no column of its own at 80 columns.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ats.ui.tcss import load_tcss

PANELS: tuple[tuple[str, str, str], ...] = (
    ("chart", "c", "Chart"),
    ("orders", "o", "Orders"),
    ("log", "l", "Log"),
    ("metrics", "m", "Metrics"),
    ("trades", "h", "Trades"),
)


class PanelTabs(Static):
    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._active = "chart"
        self._error: str | None = None

    def show(self, active: str, error: str | None) -> None:
        if (active, error) != (self._active, self._error):
            self._active, self._error = active, error
            self.refresh_tabs()

    def on_mount(self) -> None:
        self.refresh_tabs()

    def refresh_tabs(self) -> None:
        variables = self.app.theme_variables
        accent = variables.get("primary", "")
        line = Text(no_wrap=True, overflow="ellipsis")
        for name, key, label in PANELS:
            if name == self._active:
                line.append(f" {key} {label} ", style=f"bold reverse {accent}")
            else:
                line.append(f" {key} {label} ", style="dim")
        if self._error:
            line.append(f"  ✖ {self._error}", style=f"bold {variables.get('error', '')}")
        self.update(line, layout=False)  # one line, always
