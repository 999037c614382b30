"""A line-API view's base style, kept until its styles change.

``Widget.rich_style`` walks the CSS (background, colour, inherited) on every call, and a
line-API view needs it for every row it draws: for the log it took longer than drawing
the rows themselves (bench/ui_latency.py). Textual calls ``notify_style_update`` whenever
a widget's styles change (focus, theme, classes), which is when the kept one is dropped.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class KeptBaseStyle(Widget):
    """Mix in before the widget class: ``_base_style()`` is ``rich_style``, kept."""

    _kept_style: Style | None = None

    def _base_style(self) -> Style:
        if self._kept_style is None:
            self._kept_style = self.rich_style
        return self._kept_style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._kept_style = None
