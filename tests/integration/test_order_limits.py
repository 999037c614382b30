"""Acceptance (issue 14, item 9): a flood of orders is refused with one summary line per
candle, cheaply; the limits are per candle and per minute of market time."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ats.cli import main
from ats.demo import DEMO_DATA
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.order_rate import OrderRateLimiter
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader

FLOOD = """\
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    done = False

    def on_candle(self, candle):
        if not self.done:
            self.done = True
            for _ in range({count}):
                self.buy(0.0001, price=round(candle.close * 0.5, 2))
"""


def _strategy(root: Path, name: str, source: str) -> PluginLoader:
    folder = root / "strategies" / name
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(textwrap.dedent(source))
    return PluginLoader(root)


def _data(tmp_path: Path, rows: int = 300) -> Path:
    path = tmp_path / "candles.csv"
    path.write_text("\n".join(DEMO_DATA.read_text().splitlines()[: rows + 1]) + "\n")
    return path


def _run(loader: PluginLoader, data: Path, strategy: str, risk: dict[str, Any]) -> TradingJob:
    config = parse_job_config(
        {
            "name": "flood",
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": strategy},
            "risk": risk,
        }
    )
    return asyncio.run(run_backtest(config, manager=JobManager(loader=loader)))


def test_flood_of_100k_orders_in_one_candle(tmp_path: Path) -> None:
    loader = _strategy(tmp_path / "mods", "flood", FLOOD.format(count=100_000))
    job = _run(loader, _data(tmp_path), "flood", {})
    assert job.status is JobStatus.FINISHED, job.error
    warnings = [log.message for log in job.logs if log.level in ("WARNING", "ERROR")]
    assert warnings == [
        "99,900 orders rejected this candle (2022-05-12 00:00:03): max 100 per candle"
    ]
    assert job.exchange is not None
    assert len(job.exchange.get_orders()) == 100  # only those reached the exchange


def test_flood_through_the_cli_prints_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _strategy(tmp_path / "mods", "flood", FLOOD.format(count=100_000))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ATS_CUSTOM_MODULES_DIR", "mods")
    code = main(["backtest", "--strategy", "flood", "--data", str(_data(tmp_path))])
    out, err = capsys.readouterr()
    assert code == 0, err
    rejected = [line for line in out.splitlines() if "rejected" in line]
    assert len(rejected) == 1 and "99,900 orders rejected this candle" in rejected[0], out


RATE = """\
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    def setup(self):
        self.placed = []

    def on_candle(self, candle):
        if len(self.placed) < 6:
            orders = [self.buy(0.0001, price=round(candle.close * 0.5, 2)) for _ in range(10)]
            self.placed.append(sum(order.is_open for order in orders))
"""


def test_limits_per_candle_and_per_minute_are_configurable(tmp_path: Path) -> None:
    """10 orders on each of 6 three-second candles, at most 4 per candle and 10 per
    minute: 4, 4, 2, then none until the first orders are a minute old."""
    loader = _strategy(tmp_path / "mods", "rate", RATE)
    job = _run(
        loader,
        _data(tmp_path),
        "rate",
        {"max_orders_per_candle": 4, "max_orders_per_minute": 10},
    )
    assert job.status is JobStatus.FINISHED, job.error
    assert job.strategy is not None
    assert job.strategy.placed == [4, 4, 2, 0, 0, 0]  # type: ignore[attr-defined]
    summaries = [log.message for log in job.logs if "rejected this candle" in log.message]
    assert [line.split(" orders")[0] for line in summaries] == ["6", "6", "8", "10", "10", "10"]
    assert summaries[0].endswith("max 4 per candle")
    assert summaries[2].endswith("max 10 per minute")


def test_minute_window_slides_with_market_time() -> None:
    now = [0]
    lines: list[str] = []
    limiter = OrderRateLimiter(
        per_candle=100, per_minute=3, clock=lambda: now[0], log=lambda _l, m: lines.append(m)
    )
    for time_ms, allowed in ((0, True), (1_000, True), (2_000, True), (3_000, False)):
        now[0] = time_ms
        assert (limiter.check() is None) is allowed
    now[0] = 60_000  # the order at 0 is a minute old
    assert limiter.check() is None
    assert limiter.check() is not None
    now[0] = 61_000
    limiter.check()
    assert lines == [
        "1 order rejected this candle (1970-01-01 00:00:03): max 3 per minute",
        "1 order rejected this candle (1970-01-01 00:01:00): max 3 per minute",
    ]
