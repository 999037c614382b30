"""One self-contained HTML page: text, tables and plotly figures with plotly.js inlined.

A report is scp'd from a VPS and opened anywhere, often offline, so the page never
loads anything: plotly.js is written into the page once (about 4.6 MB), styles are
inline, and every text that came from a user (strategy names, parameters) is escaped.
"""

from __future__ import annotations

import html
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PLOTLY_CONFIG: dict[str, Any] = {"displaylogo": False, "responsive": True}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em;
       color: #212121; background: #ffffff; }
h1 { font-size: 1.4em; margin: 0 0 .3em 0; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em 0; }
p.meta { color: #616161; margin: 0 0 1em 0; }
table { border-collapse: collapse; font-size: .85em; }
th, td { padding: .2em .7em; border-bottom: 1px solid #e0e0e0; text-align: right; }
th { background: #f5f5f5; position: sticky; top: 0; }
th.sortable { cursor: pointer; }
td.text, th.text { text-align: left; }
tr.best td { font-weight: bold; background: #fffde7; }
div.metrics { display: flex; flex-wrap: wrap; gap: .4em; margin: 0 0 .6em 0; }
div.metric { border: 1px solid #e0e0e0; border-radius: 4px; padding: .25em .6em;
             font-size: .85em; }
div.metric span { color: #616161; margin-right: .5em; }
.scroll { max-height: 32em; overflow-y: auto; display: inline-block; }
"""

_SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (header, column) {
    header.classList.add("sortable");
    header.addEventListener("click", function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var down = header.dataset.order !== "desc";
      header.dataset.order = down ? "desc" : "asc";
      rows.sort(function (a, b) {
        var x = a.cells[column].dataset.value, y = b.cells[column].dataset.value;
        var nx = parseFloat(x), ny = parseFloat(y);
        if (isNaN(nx) && isNaN(ny)) {
          var order = String(x).localeCompare(String(y));
          return down ? -order : order;
        }
        if (isNaN(nx)) { return 1; }  // undefined values last, either way
        if (isNaN(ny)) { return -1; }
        return down ? ny - nx : nx - ny;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def figure_html(figure: Any, *, include_plotlyjs: bool, div_id: str) -> str:
    """A plotly figure as a ``<div>``; the first figure of a page carries plotly.js."""
    text: str = figure.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        include_mathjax=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
    )
    return f'<div class="figure">{text}</div>'


def table_html(
    headers: Sequence[str],
    rows: Iterable[Sequence[tuple[str, Any]]],
    *,
    css_class: str = "",
    text_columns: frozenset[int] = frozenset(),
    row_classes: Sequence[str] | None = None,
) -> str:
    """A table whose cells are ``(shown text, sort value)`` pairs (both escaped)."""
    head = "".join(
        f'<th class="{"text" if index in text_columns else ""}">{escape(title)}</th>'
        for index, title in enumerate(headers)
    )
    body = []
    for number, row in enumerate(rows):
        row_class = row_classes[number] if row_classes else ""
        cells = "".join(
            f'<td class="{"text" if index in text_columns else ""}" '
            f'data-value="{escape(sort_value)}">{escape(shown)}</td>'
            for index, (shown, sort_value) in enumerate(row)
        )
        body.append(f'<tr class="{row_class}">{cells}</tr>')
    return (
        f'<table class="{css_class}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def page_html(title: str, parts: Iterable[str], *, sortable_tables: bool = False) -> str:
    """The whole document around already-rendered parts."""
    script = f"<script>{_SORT_SCRIPT}</script>" if sortable_tables else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(parts)}{script}</body></html>\n"
    )


def write_page(text: str, path: str | Path) -> Path:
    """Write atomically: a report being rewritten is never seen half written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target
