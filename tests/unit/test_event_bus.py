"""The event bus: kinds chosen per subscriber, direct handlers, statuses as an enum."""

from __future__ import annotations

from ats.trading_job.events import (
    EventBus,
    JobEvent,
    JobLog,
    JobProgress,
    JobRemoved,
    JobStatusChanged,
)
from ats.trading_job.status import JobStatus


def test_subscribers_get_only_the_kinds_they_asked_for() -> None:
    bus = EventBus()
    statuses = bus.subscribe(kinds=(JobStatusChanged, JobRemoved))
    everything = bus.subscribe()
    handled: list[JobEvent] = []
    listener = bus.listen(handled.append, kinds=[JobLog])
    events: list[JobEvent] = [
        JobProgress("a", 1, 2, 1.0, None),
        JobStatusChanged("a", JobStatus.RUNNING),
        JobLog("a", "INFO", "hello"),
        JobRemoved("a"),
    ]
    for event in events:
        bus.publish(event)
    assert statuses.drain() == [events[1], events[3]]
    assert everything.drain() == events
    assert handled == [events[2]]
    listener.close()
    bus.publish(JobLog("a", "INFO", "gone"))
    assert handled == [events[2]] and len(everything.drain()) == 1


def test_a_subscriber_added_later_is_routed_too() -> None:
    bus = EventBus()
    bus.publish(JobLog("a", "INFO", "before anyone listens"))
    seen: list[JobEvent] = []
    bus.listen(seen.append)
    bus.publish(JobLog("a", "INFO", "now"))
    assert [event.message for event in seen if isinstance(event, JobLog)] == ["now"]


def test_statuses_travel_as_the_enum() -> None:
    event = JobStatusChanged("a", "finished")  # type: ignore[arg-type]
    assert event.status is JobStatus.FINISHED
    assert JobStatusChanged("a", JobStatus.ERROR, "boom").status is JobStatus.ERROR


def test_jobs_can_ask_whether_anyone_reads_a_kind() -> None:
    bus = EventBus()
    assert not bus.wants(JobLog) and not bus.wants(JobProgress)
    logs = bus.subscribe(kinds=[JobLog])
    assert bus.wants(JobLog) and not bus.wants(JobProgress)
    everything = bus.listen(lambda event: None)
    assert bus.wants(JobProgress) and bus.wants(JobEvent)
    everything.close()
    assert bus.wants(JobLog) and not bus.wants(JobProgress)
    logs.close()
    assert not bus.wants(JobLog)
