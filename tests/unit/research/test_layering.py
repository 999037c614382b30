"""Research is a client of the engine: nothing but the command line, and the console's
composition root (its sweeps), imports it."""

from __future__ import annotations

import re
from pathlib import Path

import ats

ROOT = Path(ats.__file__).parent
IMPORTS_RESEARCH = re.compile(r"^\s*(from|import)\s+ats\.research\b", re.MULTILINE)


def test_only_the_cli_imports_research() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if path.parent.name != "research" and IMPORTS_RESEARCH.search(path.read_text())
    }
    assert importers == {"cli.py", "ui/launch.py"}
