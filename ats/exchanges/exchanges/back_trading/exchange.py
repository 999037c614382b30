"""back_trading: replays a candle file through the simulated matching engine.

The hot loop is written for speed: columns are converted to Python lists a chunk at a
time (bounded memory), one Candle object is reused, the matching engine is skipped
while no order is open, and precomputed indicator outputs are bound per candle as
plain attribute writes. Between chunks the loop yields to the event loop, so a running
backtest never freezes the console.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ats.data.candle_cache import load_candles_cached
from ats.exceptions import ConfigError, DataError
from ats.exchanges.base_exchange import LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import Progress
from ats.exchanges.equity_curve import equity_curve
from ats.exchanges.exchanges.back_trading.candle_data import (
    CandleData,
    CandleDataError,
)
from ats.exchanges.run_control import RunControl
from ats.exchanges.simulated_exchange import SimulatedExchange

# Adaptive chunking: each chunk aims at the run control's share of an event-loop turn.
_MIN_CHUNK, _MAX_CHUNK = 64, 65_536


class Exchange(SimulatedExchange):
    """Deterministic backtests on a CSV/Parquet candle file (``config: {data: PATH}``)."""

    name = "back_trading"
    mode = "backtest"

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
        if not config.get("data"):
            raise ConfigError("exchange.data: back_trading needs a candle file path")
        self.data_path = Path(config["data"])
        self.data: CandleData | None = None
        self.cursor = 0
        """Index of the next candle to replay; saved in snapshots to resume."""
        self._series: list[tuple[object, str, np.ndarray]] = []
        self._chunk = 4096

    async def connect(self) -> None:
        await self.load_inputs()

    async def load_inputs(self) -> None:
        if self.data is None:
            self.load_data(await asyncio.to_thread(load_candles_cached, self.data_path))

    def load_data(self, data: CandleData) -> None:
        """Use already-loaded candles (tests and benchmarks share one load)."""
        if len(data) == 0:
            raise DataError(f"{data.path}: no candles")
        self.data = data
        self.timeframe_ms = data.timeframe_ms

    def require_data(self) -> CandleData:
        if self.data is None:
            raise DataError(f"{self.data_path}: data not loaded; call connect() first")
        return self.data

    @property
    def progress(self) -> Progress:
        total = len(self.data) if self.data is not None else None
        return Progress(self.cursor, total, self.candle.timestamp or None)

    # -- precomputed series ------------------------------------------------------------
    def bind_series(self, target: object, attribute: str, values: np.ndarray) -> None:
        """Set ``target.attribute = values[i]`` before the strategy sees candle *i*.

        Used for indicator outputs computed in one vectorised pass before the replay.
        """
        if len(values) != len(self.require_data()):
            raise ValueError(f"series for {attribute} has {len(values)} values, not {len(self)}")
        self._series.append((target, attribute, values))

    def clear_series(self) -> None:
        self._series.clear()

    def __len__(self) -> int:
        return len(self.data) if self.data is not None else 0

    # -- replay ------------------------------------------------------------------------
    async def run(self, control: RunControl) -> None:
        data = self.require_data()
        total = len(data)
        columns = (data.timestamps, data.open, data.high, data.low, data.close, data.volume)
        share = control.share
        with share.member():
            while self.cursor < total:
                start = self.cursor
                stop = min(start + self._chunk, total)
                began = time.perf_counter()
                self._run_chunk(start, [column[start:stop].tolist() for column in columns])
                self.cursor = stop
                self._adapt_chunk(time.perf_counter() - began, stop - start, share.slice_seconds)
                await control.cpu_checkpoint()
        if self.cursor:
            self._set_candle(self.cursor - 1)  # the file's values, whatever a strategy wrote
        self.ledger.mark(self.symbol, self.candle.close)

    def _adapt_chunk(self, elapsed: float, size: int, target: float) -> None:
        if size < self._chunk:
            return
        scale = target / max(elapsed, 1e-6)
        self._chunk = int(min(max(self._chunk * min(max(scale, 0.5), 2.0), _MIN_CHUNK), _MAX_CHUNK))

    def _run_chunk(self, start: int, columns: list[list[Any]]) -> None:
        size = len(columns[0])
        targets = [target for target, _, _ in self._series]
        series = [values[start : start + size].tolist() for _, _, values in self._series]
        loop = _replay_loop(tuple(attribute for _, attribute, _ in self._series))
        handler = self.on_candle or _ignore
        try:
            loop(
                columns,
                series,
                targets,
                self.candle,
                handler,
                self.engine.open_orders,
                self.engine.match,
            )
        except BaseException:
            # Resume (or report) at the candle that failed: find it by its timestamp.
            failed_at = int(np.searchsorted(self.require_data().timestamps, self.candle.timestamp))
            self.cursor = min(max(failed_at, start), start + size)
            raise

    # -- vectorised fast path -------------------------------------------------------------
    def run_signals(self, entries: np.ndarray, exits: np.ndarray) -> None:
        """Replay boolean signal arrays instead of calling the strategy per candle.

        Same semantics as a long-only all-in ``on_candle``: an entry signal on candle *i*
        while flat buys with all free quote, an exit signal while holding sells the whole
        position, each by a market order filled at the next open by the same matching
        engine. Work is per signal, not per candle, so this runs at numpy speed.
        """
        data = self.require_data()
        size = len(data)
        if entries.shape != (size,) or exits.shape != (size,):
            raise ValueError(f"signals must be boolean arrays of length {size}")
        base, quote = self.symbol.split("/")
        entry_at = np.flatnonzero(entries)
        exit_at = np.flatnonzero(exits)
        index = self.cursor
        while True:
            entry = _first_at_or_after(entry_at, index)
            if entry is None:
                break
            self._set_candle(entry)
            order = self.submit_order(
                self.symbol, "buy", "market", 0.0, quote_amount=self.wallet.free(quote)
            )
            if entry + 1 >= size or not order.is_open:
                index = entry + 1
                break
            self._replay_match(entry + 1)
            if self.wallet.total(base) <= 0:
                index = entry + 1
                continue
            exit_ = _first_at_or_after(exit_at, entry + 1)
            if exit_ is None:
                break
            self._set_candle(exit_)
            self.submit_order(self.symbol, "sell", "market", self.wallet.free(base))
            if exit_ + 1 >= size:
                break
            self._replay_match(exit_ + 1)
            index = exit_ + 1
        self.cursor = size
        self._set_candle(size - 1)
        self.ledger.mark(self.symbol, self.candle.close)

    def _set_candle(self, index: int) -> None:
        data = self.require_data()
        candle = self.candle
        candle.timestamp = int(data.timestamps[index])
        candle.open = float(data.open[index])
        candle.high = float(data.high[index])
        candle.low = float(data.low[index])
        candle.close = float(data.close[index])
        candle.volume = float(data.volume[index])

    def _replay_match(self, index: int) -> None:
        data = self.require_data()
        self.engine.match(
            int(data.timestamps[index]),
            float(data.open[index]),
            float(data.high[index]),
            float(data.low[index]),
        )

    # -- results -------------------------------------------------------------------------
    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, equity in quote) at every replayed candle's close."""
        data = self.require_data()
        stop = self.cursor
        return data.timestamps[:stop], equity_curve(
            data.timestamps[:stop],
            data.close[:stop],
            self.initial_balances,
            self.engine.fills,
            self.symbol,
        )

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "cursor": self.cursor}

    def restore(self, data: dict[str, Any]) -> None:
        super().restore(data)
        self.cursor = int(data["cursor"])


def _first_at_or_after(indexes: np.ndarray, start: int) -> int | None:
    position = int(np.searchsorted(indexes, start))
    return int(indexes[position]) if position < len(indexes) else None


def _ignore(candle: Any) -> None:
    """Handler used before a strategy is bound."""


@functools.cache
def _replay_loop(attributes: tuple[str, ...]) -> Callable[..., None]:
    """Compile the per-candle loop for this set of bound series attributes.

    Binding precomputed indicator outputs with a generic ``setattr`` loop costs more
    than the whole strategy call, so — like ``dataclasses`` and ``namedtuple`` — the loop
    is generated with one plain attribute store per series. Attribute names are checked
    to be identifiers before they reach the source.
    """
    for attribute in attributes:
        if not attribute.isidentifier():
            raise ValueError(f"series attribute {attribute!r} is not an identifier")
    names = [f"value_{k}" for k in range(len(attributes))]
    unpack = ", ".join(["ts", "op", "hi", "lo", "cl", "vo", *names])
    targets = "".join(f"    target_{k} = targets[{k}]\n" for k in range(len(attributes)))
    stores = "".join(
        f"        target_{k}.{attribute} = {names[k]}\n" for k, attribute in enumerate(attributes)
    )
    source = (
        "def replay(columns, series, targets, candle, handler, open_orders, match):\n"
        f"{targets}"
        f"    for {unpack} in zip(*columns, *series):\n"
        "        if open_orders:\n"
        "            match(ts, op, hi, lo)\n"
        "        candle.timestamp = ts\n"
        "        candle.open = op\n"
        "        candle.high = hi\n"
        "        candle.low = lo\n"
        "        candle.close = cl\n"
        "        candle.volume = vo\n"
        f"{stores}"
        "        handler(candle)\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<back_trading replay loop {attributes}>", "exec"), namespace)
    replay: Callable[..., None] = namespace["replay"]
    return replay


__all__ = ["CandleDataError", "Exchange"]
