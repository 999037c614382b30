"""The ``/`` filter prompt: live-filters the log (or the jobs table) as you type."""

from __future__ import annotations

from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from ats.ui.tcss import load_tcss

FilterTarget = Literal["log", "jobs"]


class FilterBar(Horizontal):
    """Hidden until :meth:`open`; posts :class:`Changed` on every edit and :class:`Closed`."""

    DEFAULT_CSS = load_tcss(__file__)
    BINDINGS = [Binding("escape", "clear", "Clear filter", show=True)]

    class Changed(Message):
        def __init__(self, target: FilterTarget, text: str) -> None:
            super().__init__()
            self.target: FilterTarget = target
            self.text = text

    class Closed(Message):
        def __init__(self, target: FilterTarget) -> None:
            super().__init__()
            self.target: FilterTarget = target

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target: FilterTarget = "log"

    def compose(self) -> ComposeResult:
        yield Label("filter log:", id="filter-label")
        yield Input(placeholder="text… (enter keeps it, esc clears)", id="filter-input")

    @property
    def input(self) -> Input:
        return self.query_one("#filter-input", Input)

    def open(self, target: FilterTarget, current: str) -> None:
        self.target = target
        self.query_one("#filter-label", Label).update(f"filter {target}:")
        self.input.value = current
        self.display = True
        self.screen.set_focus(self.input)  # at once: text typed with the ``/`` lands here

    def close(self) -> None:
        self.display = False
        self.post_message(self.Closed(self.target))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Changed(self.target, event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()

    def action_clear(self) -> None:
        self.input.value = ""
        self.post_message(self.Changed(self.target, ""))
        self.close()
