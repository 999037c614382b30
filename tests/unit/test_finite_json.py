"""Reports with NaN/inf metrics become JSON with nulls; plain ones are left untouched."""

from __future__ import annotations

import json
import math

from ats.utils.finite_json import finite, finite_json


def test_non_finite_metrics_become_null_everywhere() -> None:
    report = {
        "metrics": {"sharpe": math.nan, "profit_factor": math.inf},
        "trades": [(1.0, -math.inf)],
    }
    assert json.loads(finite_json(report)) == {
        "metrics": {"sharpe": None, "profit_factor": None},
        "trades": [[1.0, None]],
    }
    assert finite(report)["metrics"] == {"sharpe": None, "profit_factor": None}


def test_a_plain_report_is_returned_as_it_is() -> None:
    report = {"final_equity": 1.5, "trades": [{"pnl": -2.0}]}
    assert finite(report) is report
    assert finite_json(report) == json.dumps(report)
