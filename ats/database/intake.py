"""What the bus delivered since the journal's last batch, reduced as it arrives.

The journal subscribes once (:func:`subscribe`); each event is reduced to a few plain
values right where it is published, and the writer (:mod:`ats.database.writer`) takes
what gathered (:meth:`Intake.take`) once per batch.
"""

from __future__ import annotations

from ats.database.events import FillCommitted
from ats.exchanges.data_classes import OrderStatus
from ats.trading_job.events import (
    BalanceChanged,
    CandleClosed,
    EventBus,
    Filled,
    JobEvent,
    JobProgress,
    Listener,
    OrderUpdated,
)

QUEUE_SIZE = 500_000
"""The journal's bus subscription; large so a burst of fills is never dropped."""
SEP = "\x1f"


def order_key(job_id: str, order_id: str) -> str:
    return job_id + SEP + order_id


def subscribe(bus: EventBus, intake: Intake) -> Listener:
    """The journal's one subscription: the bus hands events straight to ``intake``
    instead of queueing them (publishing is on the job's hot path; see :class:`Intake`)."""
    return bus.listen(intake.put)


class Intake:
    """What the bus delivered since the last batch, reduced as it arrives.

    A job allocates its events whether or not anyone listens; holding them until the next
    batch made the garbage collector run about six times as often during a backtest
    (each pass also walking the replay loop's large per-chunk lists): that was most of the
    journal's cost. So order, fill and balance events are reduced at once to strings and
    numbers, which the collector does not track, and dropped; rows are built from the
    jobs' live state when the batch is written. Bounded: past QUEUE_SIZE order events
    the rest are counted as dropped and the writer resyncs from job state.
    """

    __slots__ = (
        "balance_jobs",
        "changed",
        "dropped",
        "fill_jobs",
        "h_at",
        "h_filled",
        "h_job",
        "h_order",
        "h_status",
        "order_keys",
        "other",
        "progress",
    )

    def __init__(self) -> None:
        self._reset()

    def take(self) -> Intake:
        """A copy holding everything so far; this intake starts empty again."""
        taken = Intake.__new__(Intake)
        for name in self.__slots__:
            setattr(taken, name, getattr(self, name))
        self._reset()
        return taken

    def _reset(self) -> None:
        self.order_keys: dict[str, None] = {}
        self.h_job: list[str] = []
        self.h_order: list[str] = []
        self.h_status: list[OrderStatus] = []
        self.h_filled: list[float] = []
        self.h_at: list[int] = []
        self.changed: set[str] = set()
        self.fill_jobs: set[str] = set()
        self.balance_jobs: set[str] = set()
        self.progress: dict[str, JobProgress] = {}
        self.other: list[JobEvent] = []
        self.dropped = 0

    def put(self, event: JobEvent) -> None:
        kind = type(event)
        job_id = event.job_id
        if kind is OrderUpdated:
            if len(self.h_job) >= QUEUE_SIZE:
                self.dropped += 1
                return
            order = event.order  # type: ignore[attr-defined]
            self.order_keys[job_id + SEP + order.id] = None
            self.h_job.append(job_id)
            self.h_order.append(order.id)
            self.h_status.append(order.status)
            self.h_filled.append(order.filled)
            self.h_at.append(order.last_update)
            self.changed.add(job_id)
        elif kind is BalanceChanged:
            self.balance_jobs.add(job_id)
        elif kind is Filled:
            self.fill_jobs.add(job_id)
            self.changed.add(job_id)
        elif kind is JobProgress:
            self.progress[job_id] = event  # type: ignore[assignment]
        elif kind is not FillCommitted and kind is not CandleClosed:
            if len(self.other) >= QUEUE_SIZE:
                self.dropped += 1
                return
            self.other.append(event)
