"""``ats optimize`` end to end on a real process pool: exact figures, shapes, errors."""

from __future__ import annotations

import csv
import gc
import json
from pathlib import Path

import pytest
from research_helpers import optimize, sma_grid

from ats.cli import main


def test_every_trial_equals_ats_backtest_bit_for_bit(
    tmp_path: Path, state_dir: Path, candles_5k: Path
) -> None:
    sweep = optimize(tmp_path / "sweep.json", *sma_grid(candles_5k), "--workers", "2")
    assert [trial["params"] for trial in sweep["trials"]] == [
        {"fast": fast, "slow": slow} for fast in (5, 10, 15, 20) for slow in (30, 60)
    ]
    assert set(sweep) >= {"trials", "best"}
    assert set(sweep["trials"][0]) >= {"params", "final_equity", "trades", "metrics"}
    for trial in sweep["trials"][::3]:
        report = tmp_path / "backtest.json"
        params = [f"--param={name}={value}" for name, value in trial["params"].items()]
        command = ["backtest", "--strategy", "sma_cross", "--data", str(candles_5k), *params]
        assert main([*command, "--json", str(report), "--quiet"]) == 0
        backtest = json.loads(report.read_text())
        assert trial["final_equity"] == backtest["final_equity"]  # exact, not approx
        assert trial["metrics"] == backtest["metrics"]
        assert trial["trades"] == len(backtest["trades"]) > 0
    best = max(sweep["trials"], key=lambda trial: trial["metrics"]["sharpe"])
    assert sweep["best"] == best


def test_the_command_leaves_garbage_collection_as_it_found_it(
    tmp_path: Path, state_dir: Path, candles_5k: Path
) -> None:
    """It starts up without collections and freezes what the start-up made (for its
    forks); a caller in the same process goes on collecting everything."""
    optimize(tmp_path / "sweep.json", *sma_grid(candles_5k), "--workers", "1")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_constraints_objective_direction_and_csv(
    tmp_path: Path, state_dir: Path, candles_5k: Path
) -> None:
    out_csv = tmp_path / "sweep.csv"
    args = [
        "--strategy",
        "sma_cross",
        "--data",
        str(candles_5k),
        "--param",
        "fast=5:20:5",
        "--param",
        "slow=10:40:10",
        "--constraint",
        "slow >= 2 * fast",
        "--objective",
        "max_drawdown",
        "--minimize",
        "--workers",
        "1",
        "--csv",
        str(out_csv),
    ]
    sweep = optimize(tmp_path / "sweep.json", *args)
    pairs = [(t["params"]["fast"], t["params"]["slow"]) for t in sweep["trials"]]
    assert pairs == [(f, s) for f in (5, 10, 15, 20) for s in (10, 20, 30, 40) if s >= 2 * f]
    assert len(pairs) == 10
    drawdowns = [t["metrics"]["max_drawdown_pct"] for t in sweep["trials"]]
    assert sweep["objective"] == "max_drawdown_pct" and sweep["direction"] == "minimize"
    assert sweep["best"]["metrics"]["max_drawdown_pct"] == min(drawdowns)
    rows = list(csv.DictReader(out_csv.open()))
    assert [(int(r["fast"]), int(r["slow"])) for r in rows] == pairs
    assert [float(r["objective"]) for r in rows] == drawdowns


def test_optuna_is_reproducible_whatever_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, candles_5k: Path
) -> None:
    args = [
        "--strategy",
        "sma_cross",
        "--data",
        str(candles_5k),
        "--param",
        "fast=2:40:2",
        "--param",
        "slow=30:300:10",
        "--constraint",
        "fast < slow",
        "--method",
        "optuna",
        "--trials",
        "24",
        "--batch",
        "8",
        "--seed",
        "7",
    ]
    runs = []
    for workers in ("1", "2"):
        monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / f"state-{workers}"))
        runs.append(optimize(tmp_path / f"{workers}.json", *args, "--workers", workers))
    assert runs[0] == runs[1]
    assert len(runs[0]["trials"]) == 24
    assert len({json.dumps(t["params"]) for t in runs[0]["trials"]}) > 12  # it explores
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state-seed"))
    other_seed = optimize(tmp_path / "seed.json", *args[:-1], "8")
    assert other_seed["trials"] != runs[0]["trials"]


def test_a_yaml_spec_beside_a_job_config_runs_the_same_search(
    tmp_path: Path, state_dir: Path, candles_5k: Path
) -> None:
    (tmp_path / "job.yaml").write_text(
        "name: sma\n"
        f"exchange: {{name: back_trading, params: {{data: {candles_5k}}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 10, slow: 30}}\n"
        "balances: {USDT: 10000}\n"
        "fees: {name: flat_rate, params: {rate: 0.001}}\n"
    )
    spec = tmp_path / "sweep.yaml"
    spec.write_text(
        "job: job.yaml\nparams:\n  fast: 5:20:5\n  slow: [30, 60]\nobjective: sharpe\nworkers: 2\n"
    )
    from_spec = optimize(tmp_path / "spec.json", str(spec))
    from_flags = optimize(tmp_path / "flags.json", *sma_grid(candles_5k))
    assert from_spec == from_flags


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "fast=5:20:5", "--objective", "sharp"], "unknown metric 'sharp'"),
        (["--param", "fast=20:5"], "param fast: the range 20:5 is empty"),
        (["--param", "fats=5:20:5"], "param fats: strategy sma_cross has no such parameter"),
        (["--param", "fast=5,10", "--constraint", "open('x')"], "Call is not allowed"),
        (["--param", "fast=10"], "nothing to search"),
        (["--param", "fast=5,10", "--walk-forward", "train=1y"], "--walk-forward"),
        (["--param", "fast=5,10", "--data", "missing.csv"], "missing.csv: file not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    state_dir: Path,
    candles_5k: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    base = ["optimize", "--strategy", "sma_cross", "--data", str(candles_5k), "--quiet"]
    assert main([*base, *args]) == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_a_spec_and_search_flags_do_not_mix(
    tmp_path: Path, candles_5k: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "sweep.yaml"
    spec.write_text("job: job.yaml\nparams: {fast: 5:20:5}\n")
    assert main(["optimize", str(spec), "--method", "optuna"]) == 2
    assert "describes the search: drop --method" in capsys.readouterr().err
    assert main(["optimize", str(spec)]) == 2
    assert f"{tmp_path / 'job.yaml'}: cannot read" in capsys.readouterr().err
    spec.write_text("job: job.yaml\nparams: {fast: 5:20:5}\nmethod: annealing\n")
    assert main(["optimize", str(spec)]) == 2
    assert f"{spec}: method: " in capsys.readouterr().err
