"""A sweep's read model: trials sorted by any metric, the heatmap's cells, JSON-ready
views, and the JobControl routing a sweep's id (no worker process: trials are given)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ats.exceptions import JobError
from ats.research.sweep_jobs import SweepJobs
from ats.research.trial import TrialResult
from ats.trading_job.job_manager import JobManager
from ats.trading_job.local_control import LocalJobControl
from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
from ats.trading_job.views import JobView, from_json, to_json


def _trial(number: int, fast: int, slow: int, sharpe: float | None, trades: int) -> TrialResult:
    metrics = {"sharpe": math.nan if sharpe is None else sharpe, "num_trades": trades}
    return TrialResult(number, {"fast": fast, "slow": slow}, 10_000.0 + number, trades, metrics)


@pytest.fixture
def sweeps(tmp_path: Path, candles_5k: Path) -> SweepJobs:
    (tmp_path / "job.yaml").write_text(
        "name: j\nsymbol: BTC/USDT\nbalances: {USDT: 10000}\n"
        f"exchange: {{name: back_trading, params: {{data: {candles_5k}}}}}\n"
        "strategy: {name: sma_cross, params: {fast: 10, slow: 30}}\n"
    )
    (tmp_path / "s.sweep.yaml").write_text(
        "job: job.yaml\nparams: {fast: [5, 10], slow: [30, 60, 90]}\n"
    )
    manager = JobManager()
    return SweepJobs(manager.bus, manager.loader, tmp_path / "state" / "research.sqlite3")


def _with_trials(sweeps: SweepJobs, tmp_path: Path) -> str:
    sweep_id = sweeps.create(str(tmp_path / "s.sweep.yaml"))
    sweep = sweeps.get(sweep_id)
    trials = [
        _trial(0, 5, 30, 1.0, 7),
        _trial(1, 5, 60, None, 0),  # undefined: last whatever the order
        _trial(2, 5, 90, 3.0, 2),
        _trial(3, 10, 30, 2.0, 9),
        _trial(4, 10, 60, -1.0, 4),
    ]
    sweep.trials = {trial.number: trial for trial in trials}
    sweep.best = sweeps.get(sweep_id).search.objective.best(trials)  # type: ignore[union-attr]
    return sweep_id


def test_trials_sort_by_any_metric_with_undefined_last(sweeps: SweepJobs, tmp_path: Path) -> None:
    sweep_id = _with_trials(sweeps, tmp_path)
    best_first = sweeps.trial_page(sweep_id, "objective", None, 0, 100)
    assert [t.number for t in best_first.trials] == [2, 3, 0, 4, 1]
    assert best_first.descending
    worst_first = sweeps.trial_page(sweep_id, "objective", False, 0, 100)
    assert [t.number for t in worst_first.trials] == [4, 0, 3, 2, 1]
    by_trades = sweeps.trial_page(sweep_id, "num_trades", None, 0, 2)
    assert [t.number for t in by_trades.trials] == [3, 0] and by_trades.total == 5
    assert [t.number for t in sweeps.trial_page(sweep_id, "trial", None, 1, 2).trials] == [1, 2]


def test_the_heatmap_keeps_the_best_per_cell_and_marks_the_best(
    sweeps: SweepJobs, tmp_path: Path
) -> None:
    sweep_id = _with_trials(sweeps, tmp_path)
    heatmap = sweeps.heatmap(sweep_id, None, None)
    assert (heatmap.x, heatmap.y) == ("fast", "slow")
    assert heatmap.cells == ((1.0, 2.0), (None, -1.0), (3.0, None))
    assert heatmap.best == (2, 0)
    swapped = sweeps.heatmap(sweep_id, "slow", "fast")
    assert swapped.cells == ((1.0, None, 3.0), (2.0, -1.0, None))
    assert sweeps.heatmap(sweep_id, "fast", "fast").error is not None


async def test_views_are_json_ready_and_the_control_routes_sweep_ids(
    sweeps: SweepJobs, tmp_path: Path
) -> None:
    sweep_id = _with_trials(sweeps, tmp_path)
    control = LocalJobControl(JobManager(), sweeps)
    assert await control.job_ids() == [sweep_id]
    row = await control.job(sweep_id)
    assert row.mode == "sweep" and row.progress.done == 5 and row.sweep is not None
    assert row.sweep.best_params == {"fast": 5, "slow": 90}
    views: list[object] = [
        row,
        await control.sweep(sweep_id),
        await control.sweep_trials(sweep_id),
        await control.sweep_heatmap(sweep_id),
    ]
    for view, kind in zip(views, (JobView, SweepView, TrialPage, SweepHeatmap), strict=True):
        text = to_json(view)  # NaN (an undefined sharpe) travels as null
        assert to_json(from_json(kind, text)) == text
    with pytest.raises(JobError, match="a sweep cannot pause"):
        await control.pause(sweep_id)
    config = await control.trial_job_config(sweep_id, 2)
    assert config.strategy.params == {"fast": 5, "slow": 90}
    assert not config.vectorised  # what ats backtest with those params runs
    paper = await control.trial_job_config(sweep_id, 2, "paper")
    assert paper.exchange.name == "paper" and paper.exchange.params["feed"] == "replay"
    job_id = await control.create(config)
    assert (await control.job(job_id)).strategy_params == {"fast": 5, "slow": 90}
    await control.delete(sweep_id)
    assert await control.job_ids() == [job_id]
