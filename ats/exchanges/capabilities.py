"""What an exchange can do beyond the order API of :class:`BaseExchange`, as types.

Each capability is a small protocol an exchange plugin satisfies by having its methods
(no registration, no base class). The job asks once, when it builds the exchange
(:meth:`Capabilities.of`), and from then on uses the typed handle or knows the exchange
cannot: nothing probes an exchange by attribute name at run time. Declaring what a
plugin supports up front is what Freqtrade's exchange classes do with their feature
flags; here the methods themselves are the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ats.data.candles import CandleData
    from ats.exchanges.base_exchange import BaseExchange


@runtime_checkable
class Replayable(Protocol):
    """Replays finite candle data held in memory (back_trading).

    The job binds indicator series computed in one vectorised pass to it, can run a
    strategy's vectorised signals on it, and charts its data up to ``cursor``."""

    data: CandleData | None
    """The candles, once loaded (``connect``/``load_inputs``/``load_data``)."""
    cursor: int
    """Index of the next candle to replay."""

    def load_data(self, data: CandleData) -> None:
        """Use candles already loaded (tests, benchmarks and sweeps share one load)."""

    def bind_series(self, target: object, attribute: str, values: np.ndarray) -> None:
        """Set ``target.attribute = values[i]`` before the strategy sees candle *i*."""

    def clear_series(self) -> None: ...

    def run_signals(self, entries: np.ndarray, exits: np.ndarray) -> None:
        """Trade precomputed entry/exit signals through the same order model."""

    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps, equity) at every replayed candle's close."""


@runtime_checkable
class Snapshottable(Protocol):
    """Saves and restores its account, orders and position in the data (JSON only)."""

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, data: dict[str, Any]) -> None: ...


@runtime_checkable
class HistoryWarming(Protocol):
    """Encodes its unchanging history (finished orders, fills) off the event loop ahead
    of a snapshot, so the snapshot itself only encodes what is still open."""

    async def warm_history(self) -> None: ...

    def snapshot_encoded(self) -> dict[str, Any]:
        """The snapshot with that history as text (only the snapshot file's encoder,
        :func:`~ats.persistence.canonical_json.canonical_json`, can write it)."""
        ...


@runtime_checkable
class Paced(Protocol):
    """Replays candles paced like a live market, at an adjustable speed (paper on a
    replayed file; a paper job on a live feed has the methods but refuses a change)."""

    @property
    def speed(self) -> float | None:
        """Times real time (0 = as fast as possible); None when the feed is live."""

    def set_speed(self, factor: float) -> float:
        """Set the pace; returns the speed now in force. ConfigError if it cannot."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """One exchange's capabilities, checked once; None where it has not got one."""

    replay: Replayable | None = None
    snapshots: Snapshottable | None = None
    history_warming: HistoryWarming | None = None
    pace: Paced | None = None

    @classmethod
    def of(cls, exchange: BaseExchange | None) -> Capabilities:
        if exchange is None:
            return NO_CAPABILITIES
        return cls(
            replay=exchange if isinstance(exchange, Replayable) else None,
            snapshots=exchange if isinstance(exchange, Snapshottable) else None,
            history_warming=exchange if isinstance(exchange, HistoryWarming) else None,
            pace=exchange if isinstance(exchange, Paced) else None,
        )


NO_CAPABILITIES = Capabilities()
