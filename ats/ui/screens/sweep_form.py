"""New sweep: the path of a YAML search spec (the one ``ats optimize SPEC`` reads).

The specs found beside the working directory's job configs are offered as suggestions;
any path may be typed. The spec is checked when the sweep is created (through
``JobControl.create_sweep``): a bad one leaves the form open with its one-line error.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from ats.exceptions import ATSError
from ats.trading_job.control import JobControl
from ats.ui.tcss import tcss_path


class SweepFormScreen(ModalScreen[str | None]):
    """Dismissed with the new sweep's id, or None when cancelled."""

    CSS_PATH = tcss_path(__file__)
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, control: JobControl, specs: list[str]) -> None:
        super().__init__()
        self.control = control
        self.specs = specs

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-form"):
            yield Label("New sweep: path of a search spec (enter to run, esc to cancel)")
            yield Input(
                value=self.specs[0] if self.specs else "",
                placeholder="btc-sma.sweep.yaml",
                suggester=SuggestFromList(self.specs, case_sensitive=False),
                id="sweep-spec",
            )
            found = ", ".join(self.specs[:3]) if self.specs else "none in ., examples/, configs/"
            yield Label(f"Found: {found}", id="sweep-found", markup=False)
            yield Label("", id="sweep-error", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        spec = event.value.strip()
        if not spec:
            return
        try:
            sweep_id = await self.control.create_sweep(spec)
            await self.control.start(sweep_id)
        except ATSError as exc:
            self.query_one("#sweep-error", Label).update(str(exc))
            return
        self.dismiss(sweep_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
