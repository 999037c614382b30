"""Oscillators get a panel of their own under the candles (issue 10, bug 1 and item 1).

On main an RSI job's chart ran its price axis from 28,643.9 down to 27.4: the candles
were squashed into a row and RSI was a flat line at the bottom.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from ui_helpers import screen_text, wait_for

from ats.demo import DEMO_DATA
from ats.indicators.atr import ATR
from ats.indicators.bbands import BBANDS
from ats.indicators.ema import EMA
from ats.indicators.macd import MACD
from ats.indicators.obv import OBV
from ats.indicators.rsi import RSI
from ats.indicators.sma import SMA
from ats.indicators.std import STD
from ats.indicators.supertrend import SuperTrend
from ats.indicators.wma import WMA
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen
from ats.ui.widgets.indicator_panel import PRICE_MIN_ROWS, OscillatorPanel, fit_heights
from ats.utils.plugins import PluginLoader

LABEL = re.compile(r"^│\s*(-?[\d,]+(?:\.\d+)?)(?=[\s⠀-⣿▲▼│█]|$)")


def rsi_config(name: str = "rsi-job") -> JobConfig:
    return parse_job_config(
        {
            "name": name,
            "symbol": "BTC/USDT",
            "balances": {"USDT": 10_000},
            "exchange": {"name": "back_trading", "params": {"data": str(DEMO_DATA)}},
            "strategy": {"name": "rsi_reversion", "params": {"N": 14}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )


def test_indicators_declare_their_panel() -> None:
    for indicator in (RSI, MACD, ATR, OBV, STD):
        assert indicator.panel == "oscillator", indicator.name
    for indicator in (SMA, EMA, WMA, BBANDS, SuperTrend):
        assert indicator.panel == "price", indicator.name
    assert MACD.output_styles == {"hist": "bars"}
    assert SuperTrend.output_styles == {"direction": "hidden"}


def test_a_custom_indicator_declares_its_panel() -> None:
    roc = PluginLoader().load("indicators", "roc")
    assert roc.panel == "oscillator"


async def test_the_chart_window_says_where_each_line_goes() -> None:
    manager = JobManager()
    job = manager.create(rsi_config())
    control = LocalJobControl(manager)
    manager.start(job.id)
    await manager.wait(job.id)
    window = await control.chart_window(job.id, 100)
    (info,) = window.overlay_info
    assert (info.label, info.panel, info.style, info.source) == (
        "rsi(14)",
        "oscillator",
        "line",
        "rsi(14)",
    )


def test_panels_take_a_bounded_share_and_leave_the_candles_readable() -> None:
    panels = [OscillatorPanel("rsi(14)"), OscillatorPanel("macd(12,26,9)")]
    assert fit_heights(15, panels) == 10  # 80x24: the chart has 15 rows
    assert [panel.height for panel in panels] == [5, 0]
    assert fit_heights(26, panels) == 18  # 160x48
    assert [panel.height for panel in panels] == [4, 4]
    assert fit_heights(PRICE_MIN_ROWS + 3, panels) == PRICE_MIN_ROWS + 3  # no room: none
    assert [panel.height for panel in panels] == [0, 0]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_rsi_is_drawn_under_the_candles_on_its_own_axis(
    make_app: Callable[..., AtsApp], tmp_path: Path, size: tuple[int, int]
) -> None:
    manager = JobManager()
    job = manager.create(rsi_config())
    app = make_app(manager)
    async with app.run_test(size=size) as pilot:
        manager.start(job.id)
        await manager.wait(job.id)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        chart = screen.chart
        await pilot.press("c")
        frames = chart.frames
        chart.redraw()
        await wait_for(pilot, lambda: chart.frames > frames)
        await pilot.pause(0.05)
        region = chart.region
        lines = screen_text(app).splitlines()[region.y : region.bottom]
        rows = [line[region.x : region.right] for line in lines]
    labels = [
        (row, float(match.group(1).replace(",", "")))
        for row, text in enumerate(rows)
        if (match := LABEL.match(text))
    ]
    prices = [(row, value) for row, value in labels if value > 1_000]
    oscillator = [(row, value) for row, value in labels if value <= 100]
    assert len(prices) >= 3, rows
    assert max(value for _, value in prices) - min(value for _, value in prices) < 1_000
    assert len(oscillator) >= 2, rows
    assert max(row for row, _ in prices) < min(row for row, _ in oscillator)
    assert "rsi(14)" in "\n".join(rows[max(row for row, _ in prices) :])
