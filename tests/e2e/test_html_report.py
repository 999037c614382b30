"""HTML reports open in a real browser with no network and show what they claim.

``ats backtest --html`` writes the page; headless Chromium (Debian's ``chromium``,
installed by ``.ci/run``) loads it through a proxy that does not exist, so anything the
page tried to fetch would fail. The rendered DOM must hold every candle bar and one
marker per fill, and the screenshot must show the candle and marker colours.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ats.cli import main
from ats.data.candle_readers import load_candles
from ats.demo import DEMO_DATA
from ats.reports import backtest_html
from ats.reports.sweep_html import heatmap_grid, sweep_html, write_sweep_html

BROWSER = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
if BROWSER is None and os.environ.get("CI"):
    pytest.fail("CI needs chromium for the HTML report test (.ci/run installs it)")
needs_browser = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",  # nothing listens there: any fetch would fail
    "--virtual-time-budget=15000",  # let scripts finish drawing before the capture
)


def _browser(page: Path, profile: Path, *action: str) -> str:
    result = subprocess.run(
        [BROWSER or "chromium", *FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)


def _svg_points(dom: str, colour: str) -> int:
    """Scatter markers drawn in that fill colour (legend symbols are not ``point``s)."""
    r, g, b = _rgb(colour)
    return len(re.findall(rf'<path class="point"[^>]*fill: rgb\({r}, {g}, {b}\)', dom))


def _no_external_resources(text: str) -> None:
    assert not re.search(r"<(script|img|iframe)[^>]+src=", text, re.IGNORECASE)
    assert not re.search(r"<link[^>]+href=", text, re.IGNORECASE)


@pytest.fixture(scope="module")
def backtest_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    folder = tmp_path_factory.mktemp("html")
    page, report = folder / "report.html", folder / "report.json"
    code = main(
        [
            "backtest",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=50",
            "--param",
            "slow=200",
            "--data",
            str(DEMO_DATA),
            "--quiet",
            "--json",
            str(report),
            "--html",
            str(page),
        ]
    )
    assert code == 0
    import json

    return page, json.loads(report.read_text())


def test_backtest_page_is_self_contained(backtest_page: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    page, report = backtest_page
    text = page.read_text()
    _no_external_resources(text)
    assert "sma_cross(fast=50, slow=200) on BTC/USDT" in text
    assert f"Trades ({len(report['trades'])})" in text


@needs_browser
def test_backtest_page_renders_candles_and_fill_markers(
    backtest_page: tuple[Path, dict],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    page, report = backtest_page
    dom = _browser(page, tmp_path / "profile", "--window-size=1400,1300", "--dump-dom")
    svg = dom[dom.index('class="main-svg"') :]  # the drawing, after the inlined plotly.js
    candles = len(load_candles(DEMO_DATA))
    bars = -(-candles // -(-candles // backtest_html.MAX_BARS))
    assert svg.count('<path class="box"') == bars
    trades = report["trades"]
    sells = sum(1 for trade in trades if trade["exit_time"] is not None)
    assert len(trades) > 10
    assert _svg_points(svg, backtest_html.BUY_COLOUR) == len(trades)
    assert _svg_points(svg, backtest_html.SELL_COLOUR) == sells
    for legend in ("buy fills", "sell fills", "sma(50)", "sma(200)", "equity", "drawdown"):
        assert f">{legend}</text>" in svg

    shot = tmp_path / "shot.png"
    _browser(page, tmp_path / "profile", "--window-size=1400,1300", f"--screenshot={shot}")
    from PIL import Image

    with Image.open(shot) as image:
        colours = {rgb: count for count, rgb in image.convert("RGB").getcolors(1 << 24) or []}
    for colour in (
        backtest_html.INCREASING,
        backtest_html.DECREASING,
        backtest_html.BUY_COLOUR,
        backtest_html.SELL_COLOUR,
    ):
        assert colours.get(_rgb(colour), 0) >= 100, colour  # each marker is ~40 pixels


# --------------------------------------------------------------------------- sweeps


def _trial(number: int, fast: int, slow: int, sharpe: float | None, **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "trial": number,
        "params": {"fast": fast, "slow": slow, **extra},
        "final_equity": 10_000.0 + (sharpe or 0) * 100,
        "trades": 12,
        "metrics": {"sharpe": sharpe, "total_return_pct": (sharpe or 0) * 3},
    }


TRIALS = [
    _trial(0, 10, 50, 0.5),
    _trial(1, 10, 100, 1.5),
    _trial(2, 20, 50, -0.25),
    _trial(3, 20, 100, None),  # undefined objective: a blank cell, ranked last
    {"trial": 4, "params": {"fast": 30, "slow": 50}, "final_equity": None, "trades": 0,
     "metrics": None, "error": "strategy.params: <b>bad</b>"},
]  # fmt: skip


def test_heatmap_takes_the_best_over_other_params() -> None:
    trials = [
        _trial(0, 10, 50, 0.5, mode="a"),
        _trial(1, 10, 50, 0.9, mode="b"),
        _trial(2, 20, 50, 0.1, mode="a"),
    ]
    assert heatmap_grid(trials, "fast", "slow", "sharpe", "maximize") == (
        [10, 20],
        [50],
        [[0.9, 0.1]],
    )
    assert heatmap_grid(trials, "fast", "slow", "sharpe", "minimize")[2] == [[0.5, 0.1]]


def test_sweep_page_ranks_trials_and_escapes_text() -> None:
    text = sweep_html(TRIALS, TRIALS[1], objective="sharpe", title="sma_cross <grid>")
    _no_external_resources(text)
    assert "sma_cross &lt;grid&gt;" in text and "<grid>" not in text
    assert "&lt;b&gt;bad&lt;/b&gt;" in text and "<b>bad</b>" not in text
    body = text[text.index('<table class="trials sortable">') :]
    order = [int(n) for n in re.findall(r'<tr class="[^"]*"><td class="" data-value="(\d+)"', body)]
    assert order == [1, 0, 2, 3, 4]  # best first, undefined and failed last
    assert '<tr class="best"><td class="" data-value="1">' in body
    assert "best: fast=10, slow=100 with sharpe = 1.5000" in text


@needs_browser
def test_sweep_page_renders_the_heatmap(tmp_path: Path) -> None:
    page = write_sweep_html(
        tmp_path / "sweep.html", TRIALS, TRIALS[1], objective="sharpe", title="sma_cross"
    )
    dom = _browser(page, tmp_path / "profile", "--window-size=1200,1000", "--dump-dom")
    svg = dom[dom.index('class="main-svg"') :]
    assert '<g class="hm"' in svg  # the heatmap image
    assert _svg_points(svg, "#ff1744") == 1  # the star on the best trial
    assert ">fast</text>" in svg and ">slow</text>" in svg
    assert svg.count('<tr class="') == len(TRIALS)
