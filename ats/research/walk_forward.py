"""Walk-forward: optimise on a training window, trade the winner on the next window.

``train=N,test=M`` (candles, or durations such as ``30d``, ``12h``) cuts the candles into
rolling windows: train on ``[k*M, k*M+N)``, test on the ``M`` candles after it. Each
training window is an ordinary journaled search; its best parameters then run once on
the test window. The test runs are chained: each starts flat with the equity the previous
one ended with (an open position counts at its window's last close, as in any report), so
their equity curves put end to end are the out-of-sample equity curve. In-sample and
out-of-sample figures side by side show how much of the in-sample result was fitted noise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ats.data.candles import CandleData
from ats.data.timeframes import timeframe_to_ms
from ats.exceptions import ATSError, ConfigError
from ats.exchanges.data_classes import Trade
from ats.research.events import WindowTested
from ats.research.executor import TrialExecutor
from ats.research.journal import TrialJournal
from ats.research.search import Search
from ats.research.signals_check import PerCandleRuns, check_best_per_candle
from ats.research.sweep import Publish, SearchOutcome, Window, run_search
from ats.research.trial import TrialResult, TrialTask, backtest_trial, result_of
from ats.trading_job.metrics import compute_metrics
from ats.utils.plugins import PluginLoader

_PART = re.compile(r"^\s*(train|test)\s*=\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class WalkForwardPlan:
    train: int
    test: int
    """Candles per training and test window."""


@dataclass(frozen=True, slots=True)
class WindowPlan:
    index: int
    train: Window
    test: Window


@dataclass(frozen=True)
class WindowResult:
    plan: WindowPlan
    search: SearchOutcome
    out_of_sample: TrialResult | None
    """The test window's run with the training window's best parameters (None: no best)."""

    @property
    def in_sample(self) -> TrialResult | None:
        return self.search.best


@dataclass(frozen=True)
class WalkForwardOutcome:
    windows: list[WindowResult]
    timestamps: np.ndarray
    equity: np.ndarray
    """The stitched out-of-sample equity curve."""
    metrics: dict[str, Any] | None
    """Metrics of the stitched curve (with every test window's trades)."""
    left_out: int
    """Candles at the end too few for one more window."""


def parse_walk_forward(text: str, timeframe_ms: int) -> WalkForwardPlan:
    """``train=N,test=M`` with counts of candles or durations (``7d``) of ``timeframe_ms``."""
    sizes: dict[str, int] = {}
    for part in text.split(","):
        match = _PART.match(part)
        if match is None:
            raise ConfigError(
                f"--walk-forward: expected train=N,test=M (candles or e.g. 7d), got {text!r}"
            )
        name, value = match.groups()
        sizes[name] = _candles(name, value, timeframe_ms)
    if set(sizes) != {"train", "test"}:
        raise ConfigError(f"--walk-forward: give both train= and test=, got {text!r}")
    return WalkForwardPlan(sizes["train"], sizes["test"])


def _candles(name: str, value: str, timeframe_ms: int) -> int:
    if value.isdigit():
        count = int(value)
    else:
        try:
            span = timeframe_to_ms(value)
        except ValueError:
            raise ConfigError(
                f"--walk-forward: {name}={value} is neither a candle count nor a duration"
            ) from None
        if timeframe_ms <= 0:
            raise ConfigError(f"--walk-forward: {name}={value} needs candles of a known timeframe")
        count = span // timeframe_ms
    if count < 1:
        raise ConfigError(f"--walk-forward: {name}={value} is less than one candle")
    return count


def plan_windows(plan: WalkForwardPlan, count: int) -> list[WindowPlan]:
    windows: list[WindowPlan] = []
    start = 0
    while start + plan.train + plan.test <= count:
        train = Window(start, start + plan.train)
        windows.append(WindowPlan(len(windows), train, Window(train.stop, train.stop + plan.test)))
        start += plan.test
    if not windows:
        raise ConfigError(
            f"--walk-forward: {count} candles are fewer than one training window "
            f"({plan.train}) plus one test window ({plan.test})"
        )
    return windows


async def run_walk_forward(
    search: Search,
    data: CandleData,
    *,
    sweep_id: str,
    executor: TrialExecutor,
    journal: TrialJournal,
    loader: PluginLoader,
    data_identity: dict[str, Any],
    publish: Publish,
) -> WalkForwardOutcome:
    assert search.walk_forward is not None
    plans = plan_windows(parse_walk_forward(search.walk_forward, data.timeframe_ms), len(data))
    description = search.description(data_identity, loader)
    results: list[WindowResult] = []
    curves: list[tuple[np.ndarray, np.ndarray]] = []
    trades: list[Trade] = []
    fees = 0.0
    cash: float | None = None  # the first test window starts with the job's balances
    for plan in plans:
        runs = PerCandleRuns(executor, plan.train) if search.check_per_candle else None
        outcome = await run_search(
            sweep_id=sweep_id,
            name=f"window {plan.index + 1}/{len(plans)}",
            description={**description, "window": [plan.train.start, plan.train.stop]},
            method=search.make_method(),
            objective=search.objective,
            executor=executor,
            journal=journal,
            window=plan.train,
            publish=publish,
            window_index=plan.index,
            near_the_end=runs.start if runs is not None else None,
        )
        if runs is not None:
            outcome = await check_best_per_candle(
                outcome, search, runs, sweep_id=sweep_id, publish=publish
            )
        tested: TrialResult | None = None
        if outcome.best is None:  # nothing to trade: the window stays out of the market
            stop = plan.test.stop
            start = plan.test.start
            flat = cash if cash is not None else _initial_cash(search)
            curves.append((data.timestamps[start:stop], np.full(stop - start, flat)))
        else:
            task = TrialTask(plan.index, outcome.best.params, plan.test.start, plan.test.stop, cash)
            # Out of sample, the per-candle figures (one backtest a window) are the truth.
            base = search.per_candle_base if search.check_per_candle else search.base
            try:
                job = await backtest_trial(base, data, task, loader)
            except ATSError as exc:
                raise ConfigError(f"walk-forward window {plan.index + 1}: {exc}") from None
            tested = result_of(task, job)
            if tested.error is not None or job.exchange is None:
                raise ConfigError(f"walk-forward window {plan.index + 1}: {tested.error}")
            curves.append(job.equity_curve())
            trades.extend(job.exchange.get_trades())
            fees += float((tested.metrics or {}).get("fees_paid") or 0.0)
            cash = tested.final_equity
        results.append(WindowResult(plan, outcome, tested))
        publish(WindowTested(sweep_id, plan.index, len(plans), outcome.best, tested))
    timestamps = np.concatenate([times for times, _ in curves])
    equity = np.concatenate([values for _, values in curves])
    first, last = plans[0].test.start, plans[-1].test.stop - 1
    metrics = compute_metrics(
        timestamps=timestamps,
        equity=equity,
        trades=trades,
        fees_paid=fees,
        timeframe_ms=data.timeframe_ms,
        first_price=float(data.close[first]),
        last_price=float(data.close[last]),
    ).to_dict()
    return WalkForwardOutcome(results, timestamps, equity, metrics, len(data) - plans[-1].test.stop)


def _initial_cash(search: Search) -> float:
    quote = search.base.symbol.split("/")[1]
    return float(search.base.balances.get(quote, 0.0))
