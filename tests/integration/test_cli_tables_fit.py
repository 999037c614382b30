"""CLI tables fit the terminal with nothing cut mid-number (issue 10, bug 8): columns
are dropped, least important first, instead of ``EQUI…``, ``10,0…`` or ``-105.…``."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ats.cli import main
from ats.demo import DEMO_DATA
from ats.headless.fitted_table import FitColumn, FittedTable


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("width", [80, 60])
def test_backtest_trade_table_fits(
    width: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["backtest", "--strategy", "sma_cross", "--data", str(DEMO_DATA)]) == 0
    out = capsys.readouterr().out
    trades = out[out.index("Last 10 of") :]
    assert "…" not in trades
    assert all(len(line) <= width for line in _lines(trades))
    assert "pnl" in trades and "entry" in trades
    if width == 80:
        assert "exit price" in trades  # the whole header, not "exit pri…"


def test_jobs_list_fits_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "a-rather-long-state-dir"))
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("demo-sma-cross-with-a-long-name", "second"):
        config = tmp_path / f"{name}.yaml"
        config.write_text(
            f"name: {name}\n"
            f"exchange: {{name: back_trading, params: {{data: {DEMO_DATA}}}}}\n"
            "strategy: {name: sma_cross}\n"
        )
        assert main(["jobs", "add", str(config)]) == 0
    capsys.readouterr()
    assert main(["jobs", "list"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out and all(len(line) <= 80 for line in _lines(out))
    assert "EQUITY" in out and "10,000.00" in out and "demo-sma-cross-with-a-lo-" in out


def test_columns_drop_in_a_known_order() -> None:
    columns = [
        FitColumn("name", 0, wrap=True),
        FitColumn("equity", 1, "right"),
        FitColumn("fees", 3, "right"),
        FitColumn("fills", 2, "right"),
    ]
    rows = [("a job with a long name", "1,234,567.89", "12,345.67", "123,456")]
    shown = []
    for width in (80, 40, 32, 20):
        console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(FittedTable(columns, rows))
        text = console.export_text()
        table = text.split("narrow terminal")[0]
        shown.append([c.header for c in columns if c.header in table])
        assert ("1,234,567.89" in text) == ("equity" in shown[-1])
    assert shown == [
        ["name", "equity", "fees", "fills"],
        ["name", "equity", "fills"],
        ["name", "equity"],
        ["name"],
    ]
