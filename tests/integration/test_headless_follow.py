"""``ats --no-ui`` output worth tailing (issue 10, item 9): every fill, a status line per
job every ``status_interval_s``, and ``--log-format json`` for log shippers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from job_configs import backtest_config
from rich.console import Console

from ats.cli import main
from ats.headless.runner import HeadlessRunner
from ats.trading_job.job_manager import JobManager
from ats.utils.settings import Settings


async def _run(settings: Settings) -> tuple[str, int]:
    manager = JobManager()
    job = manager.create(backtest_config(name="tail-me"))
    out = io.StringIO()
    runner = HeadlessRunner(
        manager, Console(file=out, width=200), settings=settings, follow_orders=True
    )
    await runner.run([job.id])
    assert job.exchange is not None
    return out.getvalue(), job.exchange.fill_count()


async def test_text_output_shows_each_fill_and_a_status_line() -> None:
    text, fills = await _run(Settings(status_interval_s=0.05))
    assert fills > 0
    assert text.count("filled #") == fills
    status = [line for line in text.splitlines() if line.startswith("tail-me finished ·")]
    assert status, text[-2_000:]
    assert f"{fills} fills" in status[-1] and "P&L -379.01 (-3.79%)" in status[-1]


async def test_json_lines_for_log_shippers() -> None:
    text, fills = await _run(Settings(status_interval_s=0.05, log_format="json"))
    records = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    fill_lines = [r for r in records if r["type"] == "log" and "filled #" in r["message"]]
    assert len(fill_lines) == fills
    assert {"status_change", "log", "status"} <= {r["type"] for r in records}
    final = [r for r in records if r["type"] == "status"][-1]
    assert final["job"] == "tail-me" and final["status"] == "finished"
    assert final["fills"] == fills and round(final["pnl"], 2) == -379.01


def test_log_format_flag_reaches_no_ui(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ats.demo import DEMO_DATA

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ATS_STATUS_INTERVAL_S", "0.05")
    config = tmp_path / "job.yaml"
    config.write_text(
        "name: shipped\n"
        f"exchange: {{name: back_trading, params: {{data: {DEMO_DATA}}}}}\n"
        "strategy: {name: sma_cross}\n"
    )
    assert main(["jobs", "add", str(config), "--start"]) == 0
    capsys.readouterr()
    assert main(["--log-format", "json", "--no-ui"]) == 0
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(r["type"] == "log" and "filled #" in r["message"] for r in records)
    assert any(r["type"] == "status" and r["job"] == "shipped" for r in records)
