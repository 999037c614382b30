"""Search results as files: JSON (``--json``) and CSV (``--csv``).

A search's JSON is ``{"objective", "direction", "trials": [row, ...], "best": row}``,
each row ``{"trial", "params", "final_equity", "trades", "metrics"}`` (plus ``"error"``
for a failed trial): the figures of ``ats backtest --json`` with those parameters. A
walk-forward's JSON has one entry per window with the in-sample (best training) and
out-of-sample (test) rows side by side, the stitched out-of-sample metrics and its
equity curve. A search that ran ``populate_signals`` by default also lists under
``per_candle_check`` the best trials it re-ran per candle and whether they agreed.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ats.research.objective import METRIC_NAMES, Objective
from ats.research.sweep import SearchOutcome
from ats.research.trial import TrialResult
from ats.utils.finite_json import null_non_finite

if TYPE_CHECKING:
    from ats.research.walk_forward import WalkForwardOutcome


def search_json(outcome: SearchOutcome, objective: Objective) -> dict[str, Any]:
    payload = {
        "objective": objective.metric,
        "direction": objective.direction,
        "trials": [trial.to_json() for trial in outcome.trials],
        "best": outcome.best.to_json() if outcome.best else None,
    }
    if outcome.checks:  # trials on populate_signals, the best re-run per candle
        payload["per_candle_check"] = [check.to_json() for check in outcome.checks]
    return payload


def walk_forward_json(
    outcome: WalkForwardOutcome, objective: Objective, timestamps_ms: Any
) -> dict[str, Any]:
    windows = []
    for window in outcome.windows:
        plan = window.plan
        windows.append(
            {
                "window": plan.index,
                "train": _span(timestamps_ms, plan.train.start, plan.train.stop),
                "test": _span(timestamps_ms, plan.test.start, plan.test.stop),
                "params": window.in_sample.params if window.in_sample else None,
                "in_sample": window.in_sample.to_json() if window.in_sample else None,
                "out_of_sample": window.out_of_sample.to_json() if window.out_of_sample else None,
                "trials": [trial.to_json() for trial in window.search.trials],
            }
        )
    return {
        "objective": objective.metric,
        "direction": objective.direction,
        "windows": windows,
        "out_of_sample": {
            "final_equity": float(outcome.equity[-1]),
            "metrics": outcome.metrics,
        },
        "stitched_equity": {
            "timestamps": outcome.timestamps.tolist(),
            "equity": outcome.equity.tolist(),
        },
        "candles_left_out": outcome.left_out,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(null_non_finite(payload), indent=2, allow_nan=False) + "\n")


def write_search_csv(path: Path, outcome: SearchOutcome, objective: Objective) -> None:
    names = _param_names(outcome.trials)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        metric_names = [name for name in METRIC_NAMES if name != "final_equity"]
        writer.writerow(
            ["trial", *names, "objective", "final_equity", "trades", *metric_names, "error"]
        )
        for trial in outcome.trials:
            metrics = trial.metrics or {}
            writer.writerow(
                [
                    trial.number,
                    *(trial.params.get(name) for name in names),
                    objective.value(trial),
                    trial.final_equity,
                    trial.trades,
                    *(metrics.get(name) for name in metric_names),
                    trial.error or "",
                ]
            )


_SIDE_BY_SIDE = ("total_return_pct", "sharpe", "max_drawdown_pct", "num_trades")


def write_walk_forward_csv(
    path: Path, outcome: WalkForwardOutcome, objective: Objective, timestamps_ms: Any
) -> None:
    names = _param_names([w.in_sample for w in outcome.windows if w.in_sample is not None])
    metrics = (objective.metric, *(m for m in _SIDE_BY_SIDE if m != objective.metric))
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "window",
                "train_start",
                "train_end",
                "test_start",
                "test_end",
                *names,
                *(f"{side}_{metric}" for metric in metrics for side in ("in_sample", "oos")),
                "oos_final_equity",
            ]
        )
        for window in outcome.windows:
            plan, chosen, tested = window.plan, window.in_sample, window.out_of_sample
            train = _span(timestamps_ms, plan.train.start, plan.train.stop)
            test = _span(timestamps_ms, plan.test.start, plan.test.stop)
            writer.writerow(
                [
                    plan.index,
                    train["start"],
                    train["end"],
                    test["start"],
                    test["end"],
                    *((chosen.params.get(name) if chosen else None) for name in names),
                    *(_metric(row, metric) for metric in metrics for row in (chosen, tested)),
                    tested.final_equity if tested else None,
                ]
            )


def _metric(row: TrialResult | None, name: str) -> Any:
    return (row.metrics or {}).get(name) if row is not None else None


def _param_names(trials: list[TrialResult]) -> list[str]:
    names: dict[str, None] = {}
    for trial in trials:
        names.update(dict.fromkeys(trial.params))
    return list(names)


def _span(timestamps_ms: Any, start: int, stop: int) -> dict[str, Any]:
    """A window as ISO times (start of its first candle, start of its last) and a count."""
    return {
        "start": _iso(int(timestamps_ms[start])),
        "end": _iso(int(timestamps_ms[stop - 1])),
        "candles": stop - start,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()
