"""The ``?`` help screen: every key, generated from :mod:`ats.ui.keys`.

Opening a screen is the slowest thing the console does (Textual restyles and repaints
everything), so the help is one opaque widget holding one pre-built table.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ats.ui.keys import ALL_GROUPS
from ats.ui.tcss import tcss_path
from ats.ui.widgets.key_footer import KeyFooter

NOTE = (
    "Keys apply to the job highlighted in the jobs table. "
    "Chart and log keys work when that panel is focused (c, l)."
)
DEFAULT_LOG = "logs/ats.log beside the saved_states directory (ATS_LOG_DIR moves it)"


def keys_renderable(key_style: str, log_file: str = DEFAULT_LOG) -> RenderableType:
    """All key groups as one Rich renderable, and where the application log is."""
    table = Table.grid(padding=(0, 2))
    table.add_column("key", style=key_style, no_wrap=True, min_width=6)
    table.add_column("what")
    for number, (title, specs) in enumerate(ALL_GROUPS):
        if number:
            table.add_row("", "")
        table.add_row(Text(title, style="bold"), "")
        for spec in specs:
            table.add_row(Text(spec.label), Text(spec.help))
    log = Text(f"Application log (warnings, job errors): {log_file}", style="dim")
    return Group(table, Text(""), Text(NOTE, style="dim"), log)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = tcss_path(__file__)
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False, key_display="?"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._theme: str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "ATS · keys"
            box.border_subtitle = "esc closes · ctrl+p runs any command by name"
            yield Static(id="help-keys")
        yield KeyFooter(id="footer")

    def on_screen_resume(self) -> None:
        """The screen is kept between visits; recolour it only if the theme changed."""
        if self._theme != self.app.theme:
            self._theme = self.app.theme
            accent = self.app.theme_variables.get("accent", "")
            log_file = getattr(self.app, "log_file", None) or DEFAULT_LOG
            keys = keys_renderable(f"bold {accent}", str(log_file))
            self.query_one("#help-keys", Static).update(keys)

    def action_close(self) -> None:
        self.dismiss(None)
