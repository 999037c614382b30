"""``ats optimize --html OUT``: a sweep's page, a heatmap of the objective and its trials.

Takes the rows of ``ats optimize --json`` (``{"trial", "params", "final_equity",
"trades", "metrics", ["error"]}``), so it knows nothing of how the search ran. The
heatmap shows the objective over two parameters; where other parameters vary too, each
cell holds the best value over them (as backtesting.py's heatmap does). With a single
parameter the objective is drawn as a line; the trials table (sortable by any column)
follows, the best trial first and highlighted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ats.reports.html_page import escape, figure_html, page_html, table_html, write_page

Direction = Literal["maximize", "minimize"]
Row = Mapping[str, Any]
TABLE_METRICS = (
    "total_return_pct",
    "sharpe",
    "max_drawdown_pct",
    "win_rate_pct",
    "profit_factor",
    "num_trades",
)
BEST_COLOUR = "#ff1744"


def objective_value(row: Row, objective: str) -> float | None:
    """The row's objective: a metric, or ``final_equity``/``trades``; None if undefined."""
    if row.get("error"):
        return None
    metrics = row.get("metrics") or {}
    value = metrics.get(objective, row.get(objective))
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _better(a: float | None, b: float | None, direction: Direction) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if direction == "maximize" else min(a, b)


def _axis(values: Sequence[Any]) -> list[Any]:
    """Distinct parameter values in order: numbers by size, anything else as text."""
    distinct = list(dict.fromkeys(values))
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=str)


def heatmap_grid(
    trials: Sequence[Row], x: str, y: str, objective: str, direction: Direction
) -> tuple[list[Any], list[Any], list[list[float | None]]]:
    """(x values, y values, z[y][x]): the best objective per (x, y) over other params."""
    xs = _axis([row["params"][x] for row in trials if x in row["params"]])
    ys = _axis([row["params"][y] for row in trials if y in row["params"]])
    column = {value: index for index, value in enumerate(xs)}
    line = {value: index for index, value in enumerate(ys)}
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    for row in trials:
        params = row["params"]
        if x in params and y in params:
            i, j = line[params[y]], column[params[x]]
            z[i][j] = _better(z[i][j], objective_value(row, objective), direction)
    return xs, ys, z


def sweep_figure(
    trials: Sequence[Row],
    best: Row | None,
    *,
    objective: str,
    direction: Direction,
    params: tuple[str, ...],
) -> Any | None:
    """A heatmap over two params, a line over one, or None when nothing varies."""
    import plotly.graph_objects as go

    if not params or not trials:
        return None
    figure = go.Figure()
    if len(params) == 1:
        (x,) = params
        xs, _, z = heatmap_grid(trials, x, x, objective, direction)
        values = [z[i][i] for i in range(len(xs))]
        figure.add_trace(go.Scatter(x=[str(v) for v in xs], y=values, mode="lines+markers"))
        figure.update_layout(xaxis_title=x, yaxis_title=objective)
    else:
        x, y = params[0], params[1]
        xs, ys, z = heatmap_grid(trials, x, y, objective, direction)
        figure.add_trace(
            go.Heatmap(
                x=[str(v) for v in xs],
                y=[str(v) for v in ys],
                z=z,
                colorscale="Viridis",
                reversescale=direction == "minimize",
                colorbar={"title": {"text": objective}},
                hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{objective}=%{{z}}<extra></extra>",
            )
        )
        if best is not None and x in best["params"] and y in best["params"]:
            figure.add_trace(
                go.Scatter(
                    x=[str(best["params"][x])],
                    y=[str(best["params"][y])],
                    mode="markers",
                    name="best",
                    marker={"symbol": "star", "size": 16, "color": BEST_COLOUR},
                )
            )
        figure.update_layout(xaxis_title=x, yaxis_title=y)
        figure.update_xaxes(type="category")
        figure.update_yaxes(type="category")
    figure.update_layout(
        height=520, margin={"l": 70, "r": 20, "t": 30, "b": 50}, template="plotly_white"
    )
    return figure


def sweep_html(
    trials: Sequence[Row],
    best: Row | None,
    *,
    objective: str,
    direction: Direction = "maximize",
    heatmap_params: tuple[str, str] | None = None,
    title: str = "parameter sweep",
) -> str:
    """The whole page. ``heatmap_params`` defaults to the first two parameters that vary."""
    names = list(dict.fromkeys(name for row in trials for name in row["params"]))
    varying = tuple(
        name for name in names if len({str(row["params"].get(name)) for row in trials}) > 1
    )
    shown = heatmap_params or varying[:2]
    figure = sweep_figure(trials, best, objective=objective, direction=direction, params=shown)
    ranked = sorted(
        enumerate(trials),
        key=lambda item: _rank_key(objective_value(item[1], objective), direction, item[0]),
    )
    best_number = best.get("trial") if best is not None else None
    extra = [key for key in TABLE_METRICS if key != objective]
    headers = ["Trial", *names, objective, "Final equity", "Trades", *extra, "Error"]
    rows = []
    classes = []
    for _, row in ranked:
        metrics = row.get("metrics") or {}
        value = objective_value(row, objective)
        cells: list[tuple[str, Any]] = [(str(row.get("trial", "")), row.get("trial", ""))]
        cells += [_cell(row["params"].get(name)) for name in names]
        cells += [_cell(value), _cell(row.get("final_equity")), _cell(row.get("trades"))]
        cells += [_cell(metrics.get(key)) for key in extra]
        cells.append((str(row.get("error") or ""), str(row.get("error") or "")))
        rows.append(cells)
        classes.append(
            "best" if best_number is not None and row.get("trial") == best_number else ""
        )
    best_text = "no trial has a defined objective"
    if best is not None:
        params = ", ".join(f"{key}={value}" for key, value in best["params"].items())
        best_text = (
            f"best: {params} with {objective} = {_cell(objective_value(best, objective))[0]}"
        )
    parts = [
        f"<h1>Sweep: {escape(title)}</h1>",
        f'<p class="meta">{len(trials):,} trials, {escape(direction)} {escape(objective)}; '
        f"{escape(best_text)}</p>",
    ]
    if figure is not None:
        parts.append(figure_html(figure, include_plotlyjs=True, div_id="ats-sweep"))
    parts += [
        "<h2>Trials (click a column to sort)</h2>",
        '<div class="scroll">',
        table_html(
            headers,
            rows,
            css_class="trials sortable",
            text_columns=frozenset({len(headers) - 1}),
            row_classes=classes,
        ),
        "</div>",
    ]
    return page_html(f"ATS sweep: {title}", parts, sortable_tables=True)


def _rank_key(value: float | None, direction: Direction, index: int) -> tuple[int, float, int]:
    if value is None:
        return (1, 0.0, index)
    return (0, -value if direction == "maximize" else value, index)


def _cell(value: Any) -> tuple[str, Any]:
    if value is None:
        return ("—", "")
    if isinstance(value, float):
        if not math.isfinite(value):
            return ("—", "")
        return (f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}", value)
    return (str(value), value)


def write_sweep_html(
    path: str | Path,
    trials: Sequence[Row],
    best: Row | None,
    *,
    objective: str,
    direction: Direction = "maximize",
    heatmap_params: tuple[str, str] | None = None,
    title: str = "parameter sweep",
) -> Path:
    """Write the sweep page (atomically); arguments as :func:`sweep_html`."""
    text = sweep_html(
        trials,
        best,
        objective=objective,
        direction=direction,
        heatmap_params=heatmap_params,
        title=title,
    )
    return write_page(text, path)
