"""What the journal reads of the engine: a narrow view of the job manager, its jobs and
their accounts, as structural protocols (the engine's classes satisfy them without
knowing the journal exists; mypy checks it where the manager is attached).

The journal never drives a job: it reads identity, status and config when a job's status
changes, and the account's orders, fills, trades and balances when the bus says they
changed, then writes rows from those.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from ats.exchanges.data_classes import Balance, Fill, Order, Progress, Trade
from ats.trading_job.events import EventBus


class JournaledAccount(Protocol):
    """A job's exchange, as the journal reads it (lists are copies it may keep)."""

    def get_orders(self) -> Sequence[Order]: ...
    def get_order(self, order_id: str) -> Order:
        """Raises KeyError for an order this account does not know (an earlier run's)."""
        ...

    def get_fills(self) -> Sequence[Fill]:
        """Every fill of this run, oldest first: fill ``n`` is journaled with seq n + 1."""
        ...

    def get_trades(self) -> Sequence[Trade]: ...
    def get_balances(self) -> Mapping[str, Balance]: ...

    @property
    def symbol(self) -> str: ...
    @property
    def initial_balances(self) -> Mapping[str, float]: ...

    @property
    def progress(self) -> Progress: ...


class CandleArrays(Protocol):
    @property
    def timestamps(self) -> np.ndarray: ...
    @property
    def close(self) -> np.ndarray: ...


class ReplayCursor(Protocol):
    """A job's replay of a candle file (back_trading, the job's ``capabilities.replay``):
    its equity curve can be rebuilt from its fills at a few sampled candles instead of
    all of them."""

    @property
    def data(self) -> CandleArrays | None: ...
    @property
    def cursor(self) -> int: ...


class JournaledCapabilities(Protocol):
    """What the job found its exchange can do, checked once when it was built."""

    @property
    def replay(self) -> ReplayCursor | None: ...


class JournaledConfig(Protocol):
    @property
    def name(self) -> str: ...
    def model_dump(self, *, mode: str = ...) -> dict[str, Any]: ...


class JournaledJob(Protocol):
    """A job as the journal sees it."""

    @property
    def id(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def error(self) -> str | None: ...
    @property
    def config(self) -> JournaledConfig: ...
    @property
    def exchange(self) -> JournaledAccount | None:
        """None until built; a new object for each run (its fills start at seq 1)."""
        ...

    @property
    def capabilities(self) -> JournaledCapabilities: ...

    def log(self, level: str, message: str) -> None:
        """A line in the job's own log (where a journal write failure is said)."""
        ...

    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]: ...


class JobSource(Protocol):
    """The job manager: where the journal finds jobs and their events."""

    @property
    def bus(self) -> EventBus: ...
    @property
    def jobs(self) -> Sequence[JournaledJob]: ...
    def get(self, job_id: str) -> JournaledJob:
        """Raises JobError for an unknown job."""
        ...

    def __iter__(self) -> Iterator[JournaledJob]: ...
