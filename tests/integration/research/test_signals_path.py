"""Which path a sweep's trials take: populate_signals by default, the best checked per candle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from research_helpers import optimize, sma_grid

from ats.cli import main

LIAR = """
import numpy as np

from ats.strategies.base_strategy import Signals
from ats.strategies.sma_cross.strategy import Strategy as SmaCross


class Strategy(SmaCross):
    '''sma_cross whose populate_signals forgets to sell: it disagrees with on_candle.'''

    name = "liar"

    def populate_signals(self, data):
        signals = super().populate_signals(data)
        return Signals(entries=signals.entries, exits=np.zeros_like(signals.exits))
"""


def _backtest(tmp_path: Path, data: Path, strategy: str, params: dict[str, int]) -> dict:
    report = tmp_path / "backtest.json"
    flags = [f"--param={name}={value}" for name, value in params.items()]
    command = ["backtest", "--strategy", strategy, "--data", str(data), *flags]
    assert main([*command, "--json", str(report), "--quiet"]) == 0
    return json.loads(report.read_text())  # type: ignore[no-any-return]


def test_by_default_a_sweep_runs_populate_signals_and_checks_its_best_per_candle(
    tmp_path: Path, state_dir: Path, candles_5k: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    default = optimize(tmp_path / "default.json", *sma_grid(candles_5k), "--workers", "1")
    best = default["best"]
    assert default["per_candle_check"] == [
        {"trial": best["trial"], "params": best["params"], "identical": True}
    ]
    # The same table as every trial through on_candle, to the last bit.
    capsys.readouterr()
    assert main(["optimize", *sma_grid(candles_5k), "--workers", "1", "--per-candle"]) == 0
    assert "checked per candle" not in capsys.readouterr().out
    per_candle = optimize(tmp_path / "pc.json", *sma_grid(candles_5k), "--per-candle")
    assert "per_candle_check" not in per_candle
    assert per_candle["trials"] == default["trials"] and per_candle["best"] == best
    # Not quiet, the check is one line of the output.
    assert main(["optimize", *sma_grid(candles_5k), "--workers", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    trial = f"trial {best['trial']} (fast={best['params']['fast']} slow={best['params']['slow']})"
    assert f"checked per candle: {trial} has the same figures with on_candle as with " in out


def test_a_populate_signals_that_disagrees_is_named_and_the_per_candle_figures_win(
    tmp_path: Path,
    state_dir: Path,
    candles_5k: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    strategy = tmp_path / "custom" / "strategies" / "liar" / "strategy.py"
    strategy.parent.mkdir(parents=True)
    strategy.write_text(LIAR)
    monkeypatch.setenv("ATS_CUSTOM_MODULES_DIR", str(tmp_path / "custom"))
    grid = [*sma_grid(candles_5k), "--objective", "final_equity", "--workers", "2"]
    grid[grid.index("sma_cross")] = "liar"
    sweep = optimize(tmp_path / "liar.json", *grid)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    checks = sweep["per_candle_check"]
    assert checks and not any(check["identical"] for check in checks[:-1])
    assert len(warnings) == sum(not check["identical"] for check in checks)
    assert warnings[0].startswith("warning: strategy liar: populate_signals and on_candle ")
    assert "the per-candle figures are used" in warnings[0]
    # The best a sweep reports is a per-candle backtest, and so is every trial it re-ran.
    best = sweep["best"]
    backtest = _backtest(tmp_path, candles_5k, "liar", best["params"])
    assert best["final_equity"] == backtest["final_equity"]
    assert best["metrics"] == backtest["metrics"]
    rows = {row["trial"]: row for row in sweep["trials"]}
    for check in checks:
        if not check["identical"]:
            assert rows[check["trial"]] == check["on_candle"]
            assert check["populate_signals"]["trades"] < check["on_candle"]["trades"]


def test_a_job_that_names_its_path_keeps_it(
    tmp_path: Path, state_dir: Path, candles_5k: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "job.yaml").write_text(
        "name: sma\n"
        "vectorised: false\n"
        f"exchange: {{name: back_trading, params: {{data: {candles_5k}}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 10, slow: 30}}\n"
    )
    spec = tmp_path / "sweep.yaml"
    spec.write_text("job: job.yaml\nparams: {fast: 5:20:5, slow: [30, 60]}\nworkers: 1\n")
    assert "per_candle_check" not in optimize(tmp_path / "spec.json", str(spec))
    assert main(["optimize", *sma_grid(candles_5k), "--vectorised", "--per-candle"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("--vectorised and --per-candle: choose one path for the trials")
    assert len(error.splitlines()) == 1
