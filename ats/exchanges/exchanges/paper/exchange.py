"""paper: live-style candles with fills simulated by the same matching engine as
back_trading. Paper and live differ only in who fills the orders.

``params.feed`` chooses the candle source: ``replay`` (a candle file paced in real time,
no network) or ``ccxt`` (public market data of a real exchange).
"""

from __future__ import annotations

from typing import Any

from ats.exceptions import ConfigError
from ats.exchanges.base_exchange import LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.capabilities import Paced
from ats.exchanges.data_classes import Progress
from ats.exchanges.feeds.base_feed import CandleFeed
from ats.exchanges.run_control import RunControl
from ats.exchanges.simulated_exchange import SimulatedExchange


def make_feed(symbol: str, params: dict[str, Any], log: LogFunction | None = None) -> CandleFeed:
    kind = params.get("feed", "replay")
    if kind == "replay":
        from ats.exchanges.feeds.replay_feed import ReplayFeed

        if not params.get("data"):
            raise ConfigError("exchange.params.data: a replay feed needs a candle file")
        return ReplayFeed(params["data"], symbol, params.get("speed", 1.0))
    if kind == "ccxt":
        from ats.exchanges.feeds.ccxt_feed import CcxtFeed

        return CcxtFeed(symbol, params, log=log)
    raise ConfigError(f"exchange.params.feed: unknown feed {kind!r} (use replay or ccxt)")


class Exchange(SimulatedExchange):
    name = "paper"
    mode = "paper"

    def __init__(
        self,
        *,
        symbol: str,
        fees: BaseFees,
        balances: dict[str, float],
        config: dict[str, Any],
        log: LogFunction | None = None,
    ) -> None:
        super().__init__(symbol=symbol, fees=fees, balances=balances, config=config, log=log)
        self.feed = make_feed(symbol, config, self.log)
        self.refuse_orders_on_history(self.feed)
        self.first_close = None

    async def load_inputs(self) -> None:
        if self.config.get("feed", "replay") == "replay":
            await self.feed.open()  # reads the candle file; a ccxt feed opens in connect

    async def connect(self) -> None:
        await self.feed.open()
        self.timeframe_ms = self.feed.timeframe_ms
        if self.config.get("market") is None:  # a market: block overrides the exchange's
            rules = await self.feed.market_rules()
            if rules is not None:
                self.use_market_rules(rules)

    async def disconnect(self) -> None:
        await self.feed.close()

    async def run(self, control: RunControl) -> None:
        while (candle := await self.feed.next_candle(control)) is not None:
            if self.first_close is None:
                self.first_close = candle.close
            self.process_candle(candle)

    def set_speed(self, factor: float) -> float:
        if not isinstance(self.feed, Paced):
            raise ConfigError("this feed runs in real time; its speed cannot change")
        return float(self.feed.set_speed(factor))

    @property
    def speed(self) -> float | None:
        return self.feed.speed if isinstance(self.feed, Paced) else None

    @property
    def connection_state(self) -> str | None:
        return self.feed.connection_state

    @property
    def progress(self) -> Progress:
        progress = self.feed.progress
        progress.timestamp = self.candle.timestamp or None
        return progress

    def _snapshot_extra(self) -> dict[str, Any]:
        return {"feed": self.feed.snapshot(), "first_close": self.first_close}

    def restore(self, data: dict[str, Any]) -> None:
        super().restore(data)
        self.feed.restore(data.get("feed") or {})
        self.first_close = data.get("first_close")
