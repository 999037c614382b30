"""The main screen's two lower columns (named so the stylesheet can lay them out)."""

from __future__ import annotations

from textual.containers import Vertical


class LeftColumn(Vertical):
    """Chart over log."""


class RightColumn(Vertical):
    """Orders over metrics."""
