"""The main screen's two lower columns (named so the stylesheet can lay them out)."""

from __future__ import annotations

from textual.containers import Vertical

from ats.ui.widgets.chart import ChartView
from ats.ui.widgets.trades_pane import TradesPane


class LeftColumn(Vertical):
    """Chart over log (or over the Trades pane, h)."""

    async def on_trades_pane_trade_picked(self, message: TradesPane.TradePicked) -> None:
        """A trade picked in the Trades pane: the chart above it shows the candles around
        it (in a narrow layout the chart takes the pane's place)."""
        message.stop()
        self.query_one(ChartView).show_time(message.moment)
        if self.screen.has_class("-narrow"):
            await self.screen.run_action("focus_panel('chart')")


class RightColumn(Vertical):
    """Orders over metrics."""
