"""Live metrics of a running job: realised and unrealised P&L, fees, drawdown, win rate.

Nothing here runs per candle: :class:`LiveMetrics` is brought up to date when a view of
the job is built (at most ~10 times a second per changed job), and then only looks at
the fills and round trips added since the last look. Drawdown is measured on the equity
seen at those moments, so between two looks a dip can be missed; the final report
(:mod:`ats.trading_job.metrics`) measures it on every candle.
"""

from __future__ import annotations

from dataclasses import dataclass

from ats.exchanges.base_exchange import BaseExchange
from ats.trading_job.views import LiveMetricsView


@dataclass(slots=True)
class LiveMetrics:
    """Running sums over a job's append-only fills and round trips."""

    fills_seen: int = 0
    fees_paid: float = 0.0
    closed_seen: int = 0
    """Closed trades counted (closed trades come first, in order; the open one last)."""
    realised_pnl: float = 0.0
    wins: int = 0
    trades: int = 0
    peak_equity: float | None = None
    max_drawdown_pct: float = 0.0

    def reset(self) -> None:
        """A new run (the job was rebuilt): start counting afresh."""
        self.fills_seen = self.closed_seen = self.wins = self.trades = 0
        self.fees_paid = self.realised_pnl = self.max_drawdown_pct = 0.0
        self.peak_equity = None

    def update(
        self,
        exchange: BaseExchange,
        equity: float,
        unrealised_pnl: float,
        initial_equity: float | None = None,
    ) -> LiveMetricsView:
        """The view now; reads only what was added since the last call. The starting
        equity, when known, is the first peak (a run that only lost is in drawdown)."""
        if self.peak_equity is None and initial_equity:
            self.peak_equity = initial_equity
        if exchange.fill_count() < self.fills_seen:
            self.reset()  # the exchange was rebuilt or restored with less history
        if exchange.fill_count() != self.fills_seen:
            fills = exchange.get_fills()
            self.fees_paid += sum(fill.fee_value for fill in fills[self.fills_seen :])
            self.fills_seen = len(fills)
            trades = exchange.get_trades()
            for trade in trades[self.closed_seen :]:
                if trade.exit_time is None:
                    break
                self.closed_seen += 1
                self.realised_pnl += trade.pnl
                self.wins += trade.pnl > 0
            self.trades = len(trades)
        drawdown = self._sample(equity)
        return LiveMetricsView(
            realised_pnl=self.realised_pnl,
            unrealised_pnl=unrealised_pnl,
            fees_paid=self.fees_paid,
            drawdown_pct=drawdown,
            max_drawdown_pct=self.max_drawdown_pct,
            win_rate_pct=100.0 * self.wins / self.closed_seen if self.closed_seen else None,
            trades=self.trades,
            closed_trades=self.closed_seen,
        )

    def _sample(self, equity: float) -> float:
        """Current drawdown in percent (<= 0), keeping the peak and the deepest seen."""
        if self.peak_equity is None or equity > self.peak_equity:
            self.peak_equity = equity
        if self.peak_equity <= 0:
            return 0.0
        drawdown = 100.0 * (equity / self.peak_equity - 1.0)
        self.max_drawdown_pct = min(self.max_drawdown_pct, drawdown)
        return drawdown
