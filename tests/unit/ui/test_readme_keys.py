"""The README's console section: its key table names every key of the main screen (and no
key the console does not have), and its capture is of an 80x24 screen with an oscillator
panel (issue 10, Acceptance 5)."""

from __future__ import annotations

import re
from pathlib import Path

from ats.ui.keys import (
    CHART_KEYS,
    GLOBAL_KEYS,
    LOG_KEYS,
    MAIN_KEYS,
    SWEEP_KEYS,
    TRADES_KEYS,
    KeySpec,
)

README = Path(__file__).parents[3] / "README.md"
MAIN_SCREEN = (*MAIN_KEYS, *GLOBAL_KEYS, *CHART_KEYS, *LOG_KEYS, *SWEEP_KEYS, *TRADES_KEYS)
NAMES = {"pageup": "pgup", "pagedown": "pgdn"}


def console_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### The console")
    return text[start : text.index("\n### ", start + 1)]


def key_table() -> list[tuple[str, str]]:
    """(first cell, whole row) of each row of the table headed ``| key | what it does |``."""
    lines = console_section().splitlines()
    start = lines.index("| key | what it does |") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append((line.split("|")[1], line))
    return rows


def normal(name: str) -> str:
    """A key as the README writes it: ``ctrl+p`` for ``^p``, ``pgup``; case kept for
    one-letter keys (``z`` and ``Z`` differ)."""
    if len(name) == 1:
        return name
    name = name.lower().replace("^", "ctrl+")
    return NAMES.get(name, name)


def labels(spec: KeySpec) -> set[str]:
    return {normal(spec.label)}


def quoted(text: str) -> set[str]:
    return {normal(token) for token in re.findall(r"`([^`]+)`", text)}


def test_the_key_table_names_every_key_of_the_main_screen() -> None:
    documented = set().union(*(quoted(row) for _cell, row in key_table()))
    missing = [spec.label for spec in MAIN_SCREEN if not labels(spec) <= documented]
    assert not missing, f"README key table lacks {missing}"


def test_the_key_table_names_no_key_the_console_lacks() -> None:
    keys = set().union(*(labels(spec) for spec in MAIN_SCREEN))
    for cell, _row in key_table():
        assert quoted(cell) <= keys, cell


def test_the_capture_is_80x24_with_an_oscillator_panel() -> None:
    section = console_section()
    start = section.index("```text\n") + len("```text\n")
    capture = section[start : section.index("```", start)].rstrip("\n").splitlines()
    assert len(capture) == 24 and max(len(line) for line in capture) == 80
    assert "rsi_reversion" in capture[7] and any("rsi(14)" in line for line in capture)
    assert "hTrades" in capture[-1] + capture[-2]
