"""Candle feeds for the paper exchange: where live-style candles come from."""

from __future__ import annotations

import abc

from ats.exchanges.data_classes import Candle, Progress
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.run_control import RunControl


class CandleFeed(abc.ABC):
    """Produces closed candles one at a time, pacing itself (real time or replayed)."""

    timeframe_ms: int = 60_000
    catching_up: bool = False
    """True while the candle just handed out is history (newer ones already waiting)."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Load data or connect."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    async def market_rules(self) -> MarketRules | None:
        """The market's precision and limits where the feed's exchange publishes them
        (a paper job then trades under the rules its live twin would); None otherwise."""
        return None

    @abc.abstractmethod
    async def next_candle(self, control: RunControl) -> Candle | None:
        """The next closed candle, or None when the feed has ended."""

    @property
    def progress(self) -> Progress:
        return Progress()

    @property
    def connection_state(self) -> str | None:
        """A short note while the feed's connection is held back (see
        :attr:`BaseExchange.connection_state`); None when all is well."""
        return None

    def snapshot(self) -> dict[str, object]:
        return {}

    def restore(self, data: dict[str, object]) -> None:  # noqa: B027 - optional hook
        """Continue from a snapshot."""
