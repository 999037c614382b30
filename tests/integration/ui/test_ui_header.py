"""The header (issue 10, item 5): totals per quote currency, the feed of a paper/live job
(age of its last candle, connection state) and the UTC clock, at 80x24 and 160x48."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from ats.trading_job.status import JobStatus
from ats.trading_job.views import JobView
from ats.ui.widgets.status_header import (
    StatusHeader,
    feed_job,
    fit,
    header_parts,
    totals,
)
from ats.utils.ages import format_age

Snap = Callable[..., bool]
NOW = 1_765_110_896.0  # 2025-12-07 12:34:56 UTC


def job(name: str, mode: str, symbol: str = "BTC/USDT", **values: object) -> JobView:
    base, quote = symbol.split("/")
    view = JobView(
        job_id=name,
        name=name,
        strategy="sma_cross",
        strategy_params={},
        symbol=symbol,
        base=base,
        quote=quote,
        exchange={"backtest": "back_trading", "paper": "paper", "live": "ccxt"}[mode],
        venue=None,
        mode=mode,
        live=mode == "live",
        built=True,
        status=JobStatus.RUNNING,
        timeframe_ms=60_000,
    )
    return replace(view, **values)  # type: ignore[arg-type]


VIEWS = [
    job("demo-sma-cross", "backtest", status=JobStatus.FINISHED, equity=9_620.99,
        initial_equity=10_000.0),
    job("btc-paper", "paper", equity=10_250.5, initial_equity=10_000.0,
        last_candle_at=NOW - 7),
    job("eth-btc-live", "live", "ETH/BTC", equity=1.25, initial_equity=1.2,
        last_candle_at=NOW - 400, connection="banned until 12:41:00"),
]  # fmt: skip
COLOURS = {"success": "green", "error": "red", "warning": "yellow"}


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield StatusHeader(id="header", now=lambda: NOW)

    def on_mount(self) -> None:
        self.query_one(StatusHeader).show(VIEWS, selected="btc-paper")


def test_header_80x24(snap_compare: Snap) -> None:
    assert snap_compare(HeaderApp(), terminal_size=(80, 24))


def test_header_160x48(snap_compare: Snap) -> None:
    assert snap_compare(HeaderApp(), terminal_size=(160, 48))


def test_totals_per_quote_and_the_feed_shown() -> None:
    assert totals(VIEWS) == {"USDT": (pytest.approx(19_871.49), 20_000.0), "BTC": (1.25, 1.2)}
    assert feed_job(VIEWS, "btc-paper") is VIEWS[1]  # the selected job streams
    assert feed_job(VIEWS, "demo-sma-cross") is VIEWS[2]  # else the one in trouble
    parts, clock = header_parts(VIEWS, None, NOW, "12:34:56", COLOURS)
    text = [part.text for part in parts]
    assert text == [
        "BTC 1.25",
        "+0.05",
        "(+4.17%)",
        "USDT 19,871.49",
        "-128.51",
        "(-0.64%)",
        "eth-btc-live banned until 12:41:00",
        "(candle 6m40s old)",
        "3 jobs, 2 running",
    ]
    assert clock.text == "12:34:56 UTC"
    narrow = fit(parts, clock, 80).plain
    assert len(narrow) <= 80 and narrow.rstrip().endswith("12:34:56 UTC")
    assert "USDT 19,871.49" in narrow and "banned until" in narrow  # details go first
    assert [format_age(s) for s in (7, 125, 3_720, 90_000)] == ["7s", "2m05s", "1h02m", "1d01h"]


async def test_a_new_theme_colours_the_totals_at_once() -> None:
    """The P&L colours are the theme's: shown at the theme switch, not at the next
    second's tick (a snapshot taken between the two showed the old theme's red)."""
    app = HeaderApp()
    async with app.run_test(size=(160, 5)) as pilot:
        app.theme = "textual-dark"
        await pilot.pause()
        header = app.query_one(StatusHeader)

        def loss_colours() -> set[str]:
            content = header.content
            assert isinstance(content, Text)
            loss = content.plain.index("-128.51")
            return {
                str(span.style)
                for span in content.spans
                if span.start <= loss < span.end and str(span.style)
            }

        old_error = app.theme_variables["error"]
        assert any(old_error in style for style in loss_colours())
        told: list[object] = []
        app.theme_changed_signal.subscribe(app, told.append)  # called after the header's
        app.theme = "gruvbox"
        while not told:
            await pilot.pause(0)
        new_error = app.theme_variables["error"]
        assert new_error != old_error
        assert any(new_error in style for style in loss_colours())
