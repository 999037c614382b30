"""``ats backtest --html OUT``: one interactive page with the whole backtest.

Candles with the strategy's indicators and its fills as markers, then equity and
drawdown on the same time axis, the metrics and the trades. A long backtest is drawn
on at most :data:`MAX_BARS` bars (each bar aggregates consecutive candles: first open,
highest high, lowest low, last close; indicators and equity at the bar's last candle,
drawdown at its deepest), so a million candles still make a page a browser opens at
once. Fills are drawn at their exact time and price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ats.reports.html_page import escape, figure_html, page_html, table_html, write_page

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob

MAX_BARS = 2_000
MAX_MARKERS = 10_000
"""Fills drawn (the most recent ones); the trades table and metrics count all of them."""
SHOWN_TRADES = 1_000

INCREASING, DECREASING = "#26a69a", "#ef5350"
BUY_COLOUR, SELL_COLOUR = "#2962ff", "#ff6d00"
"""Marker colours no candle, indicator or equity line uses (a test looks for them)."""
INDICATOR_COLOURS = ("#8e24aa", "#6d4c41", "#00838f", "#c2185b", "#558b2f", "#fbc02d")
EQUITY_COLOUR, DRAWDOWN_COLOUR = "#37474f", "#b71c1c"
SHOWN_METRICS = (
    "total_return_pct",
    "buy_and_hold_return_pct",
    "cagr_pct",
    "max_drawdown_pct",
    "sharpe",
    "sortino",
    "num_trades",
    "win_rate_pct",
    "profit_factor",
    "exposure_pct",
    "fees_paid",
)


@dataclass
class BacktestChart:
    """What the page shows, at full resolution; arrays are aligned on ``timestamps``."""

    title: str
    report: dict[str, Any]
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    equity: np.ndarray
    indicators: dict[str, np.ndarray] = field(default_factory=dict)
    fills: list[tuple[int, float, str]] = field(default_factory=list)
    """(timestamp ms, price, side) of every fill."""

    @classmethod
    def from_job(cls, job: TradingJob) -> BacktestChart:
        """From a finished backtest job (the console's chart view of all its candles)."""
        from ats.trading_job.view_builder import candle_window

        exchange, report, replay = job.exchange, job.report, job.capabilities.replay
        if exchange is None or replay is None or replay.data is None or report is None:
            raise ValueError(f"job {job.config.name}: an HTML report needs a finished backtest")
        window = candle_window(job, size=max(replay.cursor, 1))
        times, equity = job.equity_curve()
        if len(times) != len(window.timestamps):
            raise ValueError(f"job {job.config.name}: equity and candles do not line up")
        params = ", ".join(f"{key}={value}" for key, value in job.config.strategy.params.items())
        return cls(
            title=f"{job.config.strategy.name}({params}) on {job.config.symbol}",
            report=report,
            timestamps=window.timestamps,
            open=window.open,
            high=window.high,
            low=window.low,
            close=window.close,
            equity=equity,
            indicators=dict(window.overlays),
            fills=[(fill.timestamp, fill.price, str(fill.side)) for fill in exchange.get_fills()],
        )


@dataclass(frozen=True)
class _Bars:
    """Candles aggregated into at most MAX_BARS bars."""

    first: np.ndarray
    last: np.ndarray
    size: int
    """Candles per bar."""

    @classmethod
    def of(cls, count: int, limit: int = MAX_BARS) -> _Bars:
        size = max(math.ceil(count / limit), 1)
        first = np.arange(0, count, size)
        last = np.minimum(first + size, count) - 1
        return cls(first, last, size)

    def ohlc(self, chart: BacktestChart) -> tuple[np.ndarray, ...]:
        return (
            chart.open[self.first],
            np.maximum.reduceat(chart.high, self.first),
            np.minimum.reduceat(chart.low, self.first),
            chart.close[self.last],
        )


def _datetimes(ms: np.ndarray) -> np.ndarray:
    return np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")


def _drawdown_pct(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, (equity / peak - 1.0) * 100.0, 0.0)


def _is_price_like(values: np.ndarray, close: np.ndarray) -> bool:
    """Drawn over the candles when it lives on the price scale (SMA, bands), else in a
    panel of its own (RSI, MACD)."""
    finite = np.isfinite(values) & (close > 0)
    if not finite.any():
        return True
    ratio = np.median(np.abs(values[finite] / close[finite] - 1.0))
    return bool(ratio < 0.5)


def backtest_figure(chart: BacktestChart) -> Any:
    """The plotly figure: candles (+ overlays, fills), other indicators, equity, drawdown."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    bars = _Bars.of(len(chart.timestamps))
    bar_times = _datetimes(chart.timestamps[bars.first])
    overlays = {k: v for k, v in chart.indicators.items() if _is_price_like(v, chart.close)}
    panels = {k: v for k, v in chart.indicators.items() if k not in overlays}
    titles = ["Price", *(["Indicators"] if panels else []), "Equity", "Drawdown [%]"]
    heights = [0.5, *([0.15] if panels else []), 0.2, 0.15]
    figure = make_subplots(
        rows=len(titles),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=heights,
        subplot_titles=titles,
    )
    bar_open, bar_high, bar_low, bar_close = bars.ohlc(chart)
    figure.add_trace(
        go.Candlestick(
            x=bar_times,
            open=bar_open,
            high=bar_high,
            low=bar_low,
            close=bar_close,
            name="candles" if bars.size == 1 else f"candles ({bars.size} per bar)",
            increasing={"line": {"color": INCREASING}, "fillcolor": INCREASING},
            decreasing={"line": {"color": DECREASING}, "fillcolor": DECREASING},
        ),
        row=1,
        col=1,
    )
    colours = iter(INDICATOR_COLOURS * (1 + len(chart.indicators) // len(INDICATOR_COLOURS)))
    for label, values in overlays.items():
        figure.add_trace(
            go.Scatter(
                x=bar_times,
                y=values[bars.last],
                name=label,
                mode="lines",
                line={"width": 1.2, "color": next(colours)},
            ),
            row=1,
            col=1,
        )
    marker_size = 11 if len(chart.fills) <= 400 else 7  # thousands of fills: smaller marks
    for side, symbol, colour in (
        ("buy", "triangle-up", BUY_COLOUR),
        ("sell", "triangle-down", SELL_COLOUR),
    ):
        shown = [fill for fill in chart.fills if fill[2] == side][-MAX_MARKERS // 2 :]
        figure.add_trace(
            go.Scatter(
                x=_datetimes(np.array([fill[0] for fill in shown], dtype=np.int64)),
                y=np.array([fill[1] for fill in shown], dtype=np.float64),
                name=f"{side} fills",
                mode="markers",
                marker={
                    "symbol": symbol,
                    "size": marker_size,
                    "color": colour,
                    "line": {"width": 0},
                },
            ),
            row=1,
            col=1,
        )
    row = 2
    if panels:
        for label, values in panels.items():
            figure.add_trace(
                go.Scatter(
                    x=bar_times,
                    y=values[bars.last],
                    name=label,
                    mode="lines",
                    line={"width": 1.2, "color": next(colours)},
                ),
                row=row,
                col=1,
            )
        row += 1
    figure.add_trace(
        go.Scatter(
            x=bar_times,
            y=chart.equity[bars.last],
            name="equity",
            mode="lines",
            line={"width": 1.5, "color": EQUITY_COLOUR},
        ),
        row=row,
        col=1,
    )
    drawdown = np.minimum.reduceat(_drawdown_pct(chart.equity), bars.first)
    figure.add_trace(
        go.Scatter(
            x=bar_times,
            y=drawdown,
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"width": 1, "color": DRAWDOWN_COLOUR},
        ),
        row=row + 1,
        col=1,
    )
    figure.update_xaxes(rangeslider_visible=False)
    figure.update_layout(
        height=1100 if panels else 950,
        margin={"l": 60, "r": 20, "t": 40, "b": 30},
        legend={"orientation": "h", "y": 1.02, "x": 0, "yanchor": "bottom"},
        hovermode="x",
        template="plotly_white",
    )
    return figure


def backtest_html(chart: BacktestChart) -> str:
    """The whole page as text."""
    from ats.headless.report import format_metric
    from ats.trading_job.metrics import METRIC_LABELS, shown_metrics

    report = chart.report
    metrics = shown_metrics(report.get("metrics") or {})
    count = len(chart.timestamps)
    bars = _Bars.of(count)
    period = ""
    if count:
        first, last = (format_metric(int(chart.timestamps[i]), "start") for i in (0, -1))
        period = f", {first} .. {last} UTC"
    drawn = f" (drawn as {len(bars.first):,} bars of {bars.size})" if bars.size > 1 else ""
    meta = (
        f"{count:,} candles{period}{drawn}; final equity "
        f"{format_metric(report.get('final_equity'), 'final_equity')}"
    )
    metric_cells = "".join(
        f'<div class="metric"><span>{escape(METRIC_LABELS[key])}</span>'
        f"<b>{escape(format_metric(metrics.get(key), key))}</b></div>"
        for key in SHOWN_METRICS
        if key in metrics
    )
    trades = report.get("trades") or []
    parts = [
        f"<h1>Backtest: {escape(chart.title)}</h1>",
        f'<p class="meta">{escape(meta)}</p>',
        f'<div class="metrics">{metric_cells}</div>',
        figure_html(backtest_figure(chart), include_plotlyjs=True, div_id="ats-backtest"),
        f"<h2>Trades ({len(trades):,}"
        + (f", the first {SHOWN_TRADES:,} shown" if len(trades) > SHOWN_TRADES else "")
        + ")</h2>",
        '<div class="scroll">',
        table_html(
            ["Entry", "Entry price", "Exit", "Exit price", "Amount", "PnL", "Return [%]"],
            [_trade_row(trade) for trade in trades[:SHOWN_TRADES]],
            css_class="trades sortable",
            text_columns=frozenset({0, 2}),
        ),
        "</div>",
    ]
    return page_html(f"ATS backtest: {chart.title}", parts, sortable_tables=True)


def _trade_row(trade: dict[str, Any]) -> list[tuple[str, Any]]:
    def number(key: str, digits: int) -> tuple[str, Any]:
        value = trade.get(key)
        return ("—", "") if value is None else (f"{value:,.{digits}f}", value)

    def time(key: str) -> tuple[str, Any]:
        value = trade.get(key)
        return ("open", "") if value is None else (value[:19].replace("T", " "), value)

    return [
        time("entry_time"),
        number("entry_price", 2),
        time("exit_time"),
        number("exit_price", 2),
        number("amount", 6),
        number("pnl", 2),
        number("return_pct", 2),
    ]


def write_backtest_html(job: TradingJob, path: str | Path) -> Path:
    """Write ``job``'s report page to ``path`` (atomically)."""
    return write_page(backtest_html(BacktestChart.from_job(job)), path)
