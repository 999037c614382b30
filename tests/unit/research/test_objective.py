"""The objective names any report metric; undefined values and failed trials rank last."""

from __future__ import annotations

import pytest

from ats.exceptions import ConfigError
from ats.research.objective import Objective
from ats.research.trial import TrialResult


def _trial(number: int, sharpe: float | None, error: str | None = None) -> TrialResult:
    metrics = None if error else {"sharpe": sharpe, "total_return_pct": 1.0}
    return TrialResult(number, {"fast": number}, 1.0, 0, metrics, error)


def test_names_resolve_with_or_without_pct() -> None:
    assert Objective.parse("total_return").metric == "total_return_pct"
    assert Objective.parse("Sharpe").metric == "sharpe"
    assert Objective.parse("final_equity").metric == "final_equity"
    with pytest.raises(ConfigError, match=r"unknown metric 'sharp'.*sharpe"):
        Objective.parse("sharp")


def test_best_and_ranking_in_both_directions() -> None:
    trials = [_trial(0, 1.0), _trial(1, None), _trial(2, 3.0), _trial(3, 3.0), _trial(4, 0, "x")]
    maximize, minimize = Objective("sharpe"), Objective("sharpe", "minimize")
    best = maximize.best(trials)
    assert best is not None and best.number == 2  # a tie goes to the first trial
    lowest = minimize.best(trials)
    assert lowest is not None and lowest.number == 0
    assert [t.number for t in maximize.ranked(trials)] == [2, 3, 0, 1, 4]
    assert [t.number for t in minimize.ranked(trials)] == [0, 2, 3, 1, 4]
    assert maximize.best([_trial(0, None)]) is None
