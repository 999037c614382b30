"""A strategy that gets stuck on purpose (copied into a test's custom_modules/).

``how``: ``spin`` (``while True: pass``) or ``sleep`` (``time.sleep(5)`` on every
candle from ``at`` on; ``seconds`` and ``once`` change that); ``where``: ``setup``,
``on_candle``, ``on_order_update`` or ``on_stop``; ``marker``: a file created when it
starts hanging.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from ats.exchanges.data_classes import Candle, Order
from ats.strategies.base_strategy import BaseStrategy, StrategyParams


class StuckParams(StrategyParams):
    how: Literal["spin", "sleep"] = "spin"
    where: Literal["setup", "on_candle", "on_stop", "on_order_update"] = "on_candle"
    at: int = 50
    marker: str = ""
    seconds: float = 5.0
    once: bool = False


class Strategy(BaseStrategy):
    Params = StuckParams

    def setup(self) -> None:
        self.seen = 0
        if self.params.where == "setup":
            self.hang()

    def on_candle(self, candle: Candle) -> None:
        self.seen += 1
        due = self.seen == self.params.at or (self.seen > self.params.at and not self.params.once)
        if self.params.where == "on_candle" and due:
            self.hang()

    def on_order_update(self, order: Order) -> None:
        if self.params.where == "on_order_update":
            self.hang()

    def on_stop(self) -> None:
        if self.params.where == "on_stop":
            self.hang()

    def hang(self) -> None:
        if self.params.marker:
            Path(self.params.marker).touch()
        if self.params.how == "sleep":
            time.sleep(self.params.seconds)
            return
        while True:
            pass
