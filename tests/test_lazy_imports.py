"""ccxt (~0.5 s, ~100 MB) is imported only when a paper/live job or a download needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ats.demo import DEMO_DATA

PROBE = """
import sys
from ats.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("ccxt" in sys.modules, "textual" in sys.modules)
"""


def _modules_after(argv: list[str]) -> tuple[bool, bool]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True
    )
    ccxt, textual = result.stdout.strip().splitlines()[-1].split()
    return ccxt == "True", textual == "True"


def test_help_imports_neither_ccxt_nor_textual() -> None:
    assert _modules_after(["--help"]) == (False, False)


def test_backtest_and_paper_replay_do_not_import_ccxt(tmp_path: Path) -> None:
    ccxt, _ = _modules_after(
        ["backtest", "--strategy", "sma_cross", "--data", str(DEMO_DATA), "--quiet"]
    )
    assert not ccxt
    replay = tmp_path / "replay.yaml"
    replay.write_text(
        "name: replay\n"
        f"exchange: {{name: paper, params: {{feed: replay, data: {DEMO_DATA}, speed: 0}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 50, slow: 200}}\n"
    )
    ccxt, _ = _modules_after(["run", str(replay), "--no-ui"])
    assert not ccxt
