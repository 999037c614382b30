"""A trial that cannot run is a row with its error; the search goes on."""

from __future__ import annotations

from pathlib import Path

from ats.data.candles import CandleData
from ats.research.trial import TrialTask, run_trial
from ats.trading_job.job_config import parse_job_config
from ats.utils.plugins import PluginLoader
from ats.utils.synthetic_candles import make_candles

FRAGILE = """
from ats.strategies.sma_cross.strategy import Strategy as SmaCross


class Strategy(SmaCross):
    name = "fragile"

    def on_candle(self, candle):
        if self.params.fast == 13 and self.state.prev_diff == self.state.prev_diff:
            raise RuntimeError("unlucky thirteen")
        super().on_candle(candle)
"""


def test_a_failing_trial_is_a_row_with_its_error(tmp_path: Path) -> None:
    strategy = tmp_path / "strategies" / "fragile" / "strategy.py"
    strategy.parent.mkdir(parents=True)
    strategy.write_text(FRAGILE)
    loader = PluginLoader(tmp_path)
    data = CandleData(path=Path("x.csv"), timeframe_ms=60_000, **make_candles(2_000))
    base = parse_job_config(
        {
            "name": "t",
            "exchange": {"name": "back_trading", "params": {"data": "x.csv"}},
            "strategy": {"name": "fragile", "params": {}},
        }
    )
    good = run_trial(base, data, TrialTask(0, {"fast": 5, "slow": 20}), loader)
    assert good.error is None and good.metrics is not None and good.final_equity is not None
    raised = run_trial(base, data, TrialTask(1, {"fast": 13, "slow": 20}), loader)
    assert raised.error == "RuntimeError: unlucky thirteen"
    assert (raised.metrics, raised.final_equity, raised.number) == (None, None, 1)
    invalid = run_trial(base, data, TrialTask(2, {"fast": 30, "slow": 20}), loader)
    assert invalid.error is not None and "fast (30) must be smaller than slow (20)" in invalid.error
