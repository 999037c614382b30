"""``ats optimize --html``: the sweep's page holds every trial, the best one marked, and the
heatmap's grid of the objective (the page itself is opened in Chromium by
tests/e2e/test_html_report.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from research_helpers import optimize, sma_grid

from ats.cli import main


def test_sweep_page_has_every_trial_and_the_heatmap_grid(
    tmp_path: Path, state_dir: Path, candles_5k: Path
) -> None:
    page = tmp_path / "sweep.html"
    sweep = optimize(tmp_path / "sweep.json", *sma_grid(candles_5k), "--html", str(page))
    text = page.read_text()
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js is inlined
    body = text[text.index('<table class="trials sortable">') :]
    shown = [int(n) for n in re.findall(r'<tr class="[^"]*"><td class="" data-value="(\d+)"', body)]
    assert sorted(shown) == [trial["trial"] for trial in sweep["trials"]]
    assert shown[0] == sweep["best"]["trial"]  # best first and highlighted
    assert f'<tr class="best"><td class="" data-value="{sweep["best"]["trial"]}">' in body
    figure = json.loads(
        re.search(r'Plotly.newPlot\(\s*"ats-sweep",\s*(\[.*?\]),\s*\{', text, re.S)[1]
    )
    heatmap = figure[0]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == ["5", "10", "15", "20"] and heatmap["y"] == ["30", "60"]


def test_walk_forward_page_is_refused_before_any_trial(
    tmp_path: Path, state_dir: Path, candles_5k: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*sma_grid(candles_5k), "--walk-forward", "train=2000,test=1000"]
    code = main(["optimize", *args, "--html", str(tmp_path / "wf.html"), "--quiet"])
    assert code == 2
    assert "--html: a walk-forward has no page yet" in capsys.readouterr().err
    assert not (tmp_path / "wf.html").exists() and not state_dir.exists()
