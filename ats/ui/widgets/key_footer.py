"""The footer: the active keys with their labels, wrapped onto a second row when narrow.

Textual's own Footer keeps to one scrolling row, so at 80 columns half of the console's
~20 keys would be off-screen, and it rebuilds ~20 child widgets on every focus change.
This footer is one widget that renders the screen's active bindings as text: it wraps,
costs almost nothing to redraw, and shows the command palette key last. When
:data:`MAX_ROWS` rows cannot hold every key (80 columns), the keys a new user needs
later (:data:`ats.ui.keys.FOOTER_SPARE`) are left out, in that order, rather than the
last row being cut off (which lost help, quit and the palette first).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.widget import Widget

from ats.ui.keys import FOOTER_SPARE
from ats.ui.tcss import load_tcss

WIDE = 120
"""From this width on, keys get a space before their label and two between keys;
narrower footers pack them (``nNew eEdit``) like Textual's compact footer."""
MAX_ROWS = 2
"""Rows the footer keeps to by leaving spare keys out (an 80x24 screen has few rows to
spare); with every spare key out, it takes the rows it needs (up to its max-height)."""
_SPARE_RANK = {action: rank for rank, action in enumerate(FOOTER_SPARE)}


class KeyFooter(Widget):
    DEFAULT_CSS = load_tcss(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[tuple[str, str]] = []
        self._spare: list[int] = []
        """Indices into ``_keys`` of the spare keys, the first to leave out first."""
        self._fitted: tuple[int, list[list[tuple[str, str]]]] | None = None
        """(width, lines) last fitted."""
        self._strips: list[Strip] = []
        self._strips_key: tuple[object, ...] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self, event: Resize) -> None:
        self._relayout_if_needed()

    def _relayout_if_needed(self) -> None:
        """Repaint; only a change in the number of rows needs the (costly) screen layout."""
        rows = len(self._lines(max(self.size.width, 1))) if self.size.width else 0
        self.refresh(layout=rows != self.size.height)

    @property
    def keys(self) -> list[tuple[str, str]]:
        """(key as shown, description) in footer order: every key the screen offers."""
        return list(self._keys)

    @property
    def shown(self) -> list[tuple[str, str]]:
        """The keys on screen at the footer's width (spare ones may be left out)."""
        return [key for line in self._lines(max(self.size.width, 1)) for key in line]

    def _bindings_changed(self, screen: Screen[object]) -> None:
        seen: set[str] = set()
        keys: list[tuple[str, str]] = []
        ranks: dict[int, int] = {}
        palette: tuple[str, str] | None = None
        for _key, active in screen.active_bindings.items():
            binding: Binding = active.binding
            if binding.action == "command_palette" and self.app.ENABLE_COMMAND_PALETTE:
                palette = (self.app.get_key_display(binding), "Palette")
                continue
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            rank = _SPARE_RANK.get(binding.action)
            if rank is not None:
                ranks[len(keys)] = rank
            keys.append((self.app.get_key_display(binding), binding.description))
        if palette is not None:
            keys.append(palette)
        if keys != self._keys:
            self._keys = keys
            self._spare = sorted(ranks, key=ranks.__getitem__)
            self._fitted = None
            self._relayout_if_needed()

    @staticmethod
    def _spacing(width: int) -> tuple[str, str]:
        """(between key and label, between two keys) for this width."""
        return (" ", "  ") if width >= WIDE else ("", " ")

    def _lines(self, width: int) -> list[list[tuple[str, str]]]:
        """The keys that fit in :data:`MAX_ROWS` rows (spare ones left out, first ones
        first, until they do), balanced; computed once per set of keys and width."""
        if self._fitted is not None and self._fitted[0] == width:
            return self._fitted[1]
        keys = self._keys
        lines = self._balanced(keys, width)
        left_out: set[int] = set()
        for index in self._spare:
            if len(lines) <= MAX_ROWS:
                break
            left_out.add(index)
            keys = [key for number, key in enumerate(self._keys) if number not in left_out]
            lines = self._balanced(keys, width)
        self._fitted = (width, lines)
        return lines

    def _balanced(self, keys: list[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
        """As few lines as greedy packing needs, balanced so the last is not a stub."""
        lines = self._pack_at(keys, width, width)
        if len(lines) < 2:
            return lines
        low, high = 1, width
        while low < high:  # narrowest width that still needs no more lines
            middle = (low + high) // 2
            if len(self._pack_at(keys, middle, width)) <= len(lines):
                high = middle
            else:
                low = middle + 1
        return self._pack_at(keys, low, width)

    def _pack_at(
        self, keys: list[tuple[str, str]], limit: int, width: int
    ) -> list[list[tuple[str, str]]]:
        """Pack into ``limit`` cells per line, with the spacing chosen for ``width``."""
        inner, outer = self._spacing(width)
        lines: list[list[tuple[str, str]]] = [[]]
        used = 0
        for key, description in keys:
            size = len(key) + len(inner) + len(description)
            extra = size + (len(outer) if lines[-1] else 0)
            if lines[-1] and used + extra > limit:
                lines.append([])
                used, extra = 0, size
            lines[-1].append((key, description))
            used += extra
        return lines

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(len(self._lines(max(width, 1))), self._rows_below(), 1)

    def _rows_below(self) -> int:
        """On a dialog, as many rows as the footer of the screen under it: that one shows
        through around a dialog, and two footers would read as one muddled list of keys."""
        if not isinstance(self.screen, ModalScreen):
            return 0
        rows = 0
        for screen in self.app.screen_stack[:-1]:
            for footer in screen.query(KeyFooter):
                rows = max(rows, footer.size.height)
        return rows

    def render_line(self, y: int) -> Strip:
        """Cached lines: rebuilt only when the keys, the width or the theme change."""
        width = self.size.width
        key = (tuple(self._keys), width, self.app.theme, self.rich_style)
        if self._strips_key != key:
            console = self.app.console
            options = console.options.update(width=width, height=self.size.height)
            lines = console.render_lines(self.render(), options, style=self.rich_style, pad=True)
            self._strips = [Strip(line, width) for line in lines]
            self._strips_key = key
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(width, self.rich_style)

    def render(self) -> Text:
        variables = self.app.theme_variables
        key_style = f"bold {variables.get('footer-key-foreground', '')}".strip()
        text_style = variables.get("footer-description-foreground", "")
        text = Text(no_wrap=True, overflow="crop")
        width = max(self.size.width, 1)
        inner, outer = self._spacing(width)
        for number, line in enumerate(self._lines(width)):
            if number:
                text.append("\n")
            for index, (key, description) in enumerate(line):
                if index:
                    text.append(outer)
                text.append(key, style=key_style)
                text.append(inner)
                text.append(description, style=text_style)
        return text
