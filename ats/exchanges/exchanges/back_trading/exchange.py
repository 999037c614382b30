"""back_trading: replays a candle file through the simulated matching engine.

The hot loop is written for speed: columns are converted to Python lists a chunk at a
time (bounded memory), one Candle object is reused, the matching engine is skipped
while no order is open, and precomputed indicator outputs are bound per candle as
plain attribute writes. Between chunks the loop yields to the event loop, so a running
backtest never freezes the console.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ats.data.candle_cache import load_candles_cached
from ats.data.candles import CandleData, CandleDataError
from ats.exceptions import ConfigError, DataError
from ats.exchanges.base_exchange import LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import Order, OrderSide, OrderType, Progress, split_symbol
from ats.exchanges.equity_curve import equity_curve
from ats.exchanges.run_control import RunControl
from ats.exchanges.simulated_exchange import SimulatedExchange

_BUY, _SELL, _MARKET = OrderSide.BUY, OrderSide.SELL, OrderType.MARKET  # per order: constants

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
        self._saved_total: int | None = None
        """The file's candle count as saved: a restored job shows its progress (100% when
        finished) without reading the file, which is loaded only when needed."""
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
        total = len(self.data) if self.data is not None else self._saved_total
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

        Same decisions as a long-only all-in ``on_candle``: on candle *i*, an entry signal
        while flat (:attr:`Position.is_flat`) buys with all free quote; otherwise an exit
        signal while holding sells everything sellable; each by a market order the same
        matching engine fills at the next open. The candles at the signals are gathered
        from the columns in one numpy step and walked as plain lists (numpy scalar reads
        and searches cost microseconds each: the hot loop of bench/backtest_speed.py's
        vectorised figure).
        """
        data = self.require_data()
        size = len(data)
        if entries.shape != (size,) or exits.shape != (size,):
            raise ValueError(f"signals must be boolean arrays of length {size}")
        if self.market_rules.is_empty:
            self._skip_between_trades(entries, exits)
        else:
            self._visit_every_signal(entries, exits)
        self.cursor = size
        self._set_candle(size - 1)
        self.ledger.mark(self.symbol, self.candle.close)

    def _skip_between_trades(self, entries: np.ndarray, exits: np.ndarray) -> None:
        """Without market rules "flat" is "no base held", which only fills change: so
        the entries while holding and the exits while flat are skipped unseen (work per
        trade, not per signal, however dense the signals).

        Nothing reads the trade ledger meanwhile, so when nobody else hears the fills
        either, they are booked in one go at the end (:meth:`TradeLedger.on_fills`; a
        tenth of bench/backtest_speed.py's vectorised run).
        """
        engine = self.engine
        if self.fill_listeners or self._filled not in engine.fill_listeners:
            self._trade_signals(entries, exits)
            return
        first = len(engine.fills)
        engine.fill_listeners.remove(self._filled)
        try:
            self._trade_signals(entries, exits)
        finally:
            engine.fill_listeners.append(self._filled)
            self.ledger.on_fills(engine.fills[first:])

    def _trade_signals(self, entries: np.ndarray, exits: np.ndarray) -> None:
        data = self.require_data()
        size = len(data)
        base, quote = split_symbol(self.symbol)
        start = self.cursor
        entry_rows = _SignalRows(data, np.flatnonzero(entries[start:]) + start)
        exit_rows = _SignalRows(data, np.flatnonzero(exits[start:]) + start)
        wallet, candle = self.wallet, self.candle
        buy, sell, fill = self._market_orders()
        e = x = 0  # positions in entry_rows / exit_rows
        while e < len(entry_rows) and wallet.free(quote) > 0:
            entry = entry_rows.index[e]
            entry_rows.set_candle(candle, e)
            order = buy(wallet.free(quote))
            if entry + 1 >= size or not order.is_open:
                break
            fill(order, entry_rows.next_open(e))
            if wallet.total(base) <= 0:
                e += 1
                continue
            x = bisect.bisect_left(exit_rows.index, entry + 1, x)
            if x >= len(exit_rows):
                break
            exit_ = exit_rows.index[x]
            exit_rows.set_candle(candle, x)
            order = sell(wallet.free(base))
            if exit_ + 1 >= size:
                break
            fill(order, exit_rows.next_open(x))
            e = bisect.bisect_left(entry_rows.index, exit_ + 1, e)

    def _market_orders(
        self,
    ) -> tuple[
        Callable[[float], Order],
        Callable[[float], Order],
        Callable[[Order, tuple[int, float, float, float]], None],
    ]:
        """(buy with a quote budget, sell an amount, fill at the next candle) for
        :meth:`_skip_between_trades`, placed on the signal candle. Through
        :meth:`submit_order` and :meth:`MatchingEngine.match` when risk limits check
        orders or orders are already open; else straight to the engine's market-order
        calls, the same orders and fills in half the calls (bench/backtest_speed.py,
        vectorised)."""
        symbol, engine = self.symbol, self.engine
        if self.order_checks or engine.open_orders:
            submit, match = self.submit_order, engine.match

            def buy(budget: float) -> Order:
                return submit(symbol, _BUY, _MARKET, 0.0, quote_amount=budget)

            def sell(amount: float) -> Order:
                return submit(symbol, _SELL, _MARKET, amount)

            def fill(order: Order, row: tuple[int, float, float, float]) -> None:
                match(*row)

            return buy, sell, fill
        place, fill_market, open_orders = (
            engine.place_market,
            engine.fill_market,
            engine.open_orders,
        )
        candle, timeframe = self.candle, self.timeframe_ms or self.DEFAULT_TIMEFRAME_MS

        def buy_now(budget: float) -> Order:  # at self.now, the signal candle's close
            return place(symbol, _BUY, 0.0, budget, candle.timestamp + timeframe)

        def sell_now(amount: float) -> Order:
            return place(symbol, _SELL, amount, None, candle.timestamp + timeframe)

        def fill_next(order: Order, row: tuple[int, float, float, float]) -> None:
            if len(open_orders) == 1:  # else an order that did not fill is still open
                fill_market(order, row[0], row[1])
            else:
                engine.match(*row)

        return buy_now, sell_now, fill_next

    def _visit_every_signal(self, entries: np.ndarray, exits: np.ndarray) -> None:
        """With market rules, dust makes "flat" depend on the price (minimum notional), so
        every signal candle is decided as ``on_candle`` would, with the same checks."""
        data = self.require_data()
        size = len(data)
        quote = split_symbol(self.symbol)[1]
        start = self.cursor
        at = np.flatnonzero(entries[start:] | exits[start:]) + start
        rows = _SignalRows(data, at)
        is_entry, is_exit = entries[at].tolist(), exits[at].tolist()
        wallet, symbol = self.wallet, self.symbol
        for k, index in enumerate(rows.index):
            rows.set_candle(self.candle, k)
            position = self.get_position(symbol)
            if is_entry[k] and position.is_flat:
                free_quote = wallet.free(quote)
                if not free_quote > 0:
                    continue
                order = self.submit_order(symbol, _BUY, _MARKET, 0.0, quote_amount=free_quote)
            elif is_exit[k] and position.sellable > 0:
                order = self.submit_order(symbol, _SELL, _MARKET, position.sellable)
            else:
                continue
            if index + 1 < size and order.is_open:
                self.engine.match(*rows.next_open(k))

    def _set_candle(self, index: int) -> None:
        data = self.require_data()
        candle = self.candle
        candle.timestamp = int(data.timestamps[index])
        candle.open = float(data.open[index])
        candle.high = float(data.high[index])
        candle.low = float(data.low[index])
        candle.close = float(data.close[index])
        candle.volume = float(data.volume[index])

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

    def _snapshot_extra(self) -> dict[str, Any]:
        total = len(self.data) if self.data is not None else self._saved_total
        return {
            "cursor": self.cursor,
            "candles": total,
            "timeframe_ms": self.timeframe_ms,
        }

    def restore(self, data: dict[str, Any]) -> None:
        super().restore(data)
        self.cursor = int(data["cursor"])
        if data.get("candles") is not None:
            self._saved_total = int(data["candles"])
        if data.get("timeframe_ms") and self.data is None:
            self.timeframe_ms = int(data["timeframe_ms"])


class _SignalRows:
    """The candles at some signal indexes and the candles right after them, as lists."""

    __slots__ = ("index", "next_rows", "rows")

    def __init__(self, data: CandleData, at: np.ndarray) -> None:
        self.index: list[int] = at.tolist()
        columns = (data.timestamps, data.open, data.high, data.low, data.close, data.volume)
        self.rows = list(zip(*(column[at].tolist() for column in columns), strict=True))
        after = np.minimum(at + 1, len(data) - 1)  # the last candle has no next: never used
        self.next_rows = list(zip(*(column[after].tolist() for column in columns[:4]), strict=True))

    def __len__(self) -> int:
        return len(self.index)

    def set_candle(self, candle: Any, k: int) -> None:
        """Make ``candle`` the signal candle ``k`` (the one the strategy decides on)."""
        (
            candle.timestamp,
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
        ) = self.rows[k]

    def next_open(self, k: int) -> tuple[int, float, float, float]:
        """(timestamp, open, high, low) of the candle after signal ``k``: where it fills."""
        return self.next_rows[k]


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
