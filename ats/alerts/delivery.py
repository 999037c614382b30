"""Sending messages through apprise from one worker thread, never from the event loop.

The queue is bounded: when a channel is slower than the messages (it hangs until its
timeout on every try), the oldest waiting message is dropped and the next one says how
many were. apprise runs synchronously in the worker (``async_mode`` off), so no other
thread is involved and nothing waits for a hanging channel at exit: the worker is a
daemon thread, and :meth:`Delivery.close` waits for it only a bounded time.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ats.alerts.compose import Message
from ats.alerts.config import scheme_of
from ats.exceptions import ConfigError
from ats.utils.redaction import redact

logger = logging.getLogger(__name__)
QUEUE_SIZE = 20

ReportFunction = Callable[[str], None]


class Delivery:
    """One worker thread sending :class:`Message` s to every channel in ``urls``."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout_s: float,
        queue_size: int = QUEUE_SIZE,
        report: ReportFunction | None = None,
    ) -> None:
        import apprise

        # apprise logs failures (with parts of the URL) at WARNING: keep them out of the
        # terminal and the console's screen; failures are reported here, without secrets.
        apprise_log = logging.getLogger("apprise")
        apprise_log.addHandler(logging.NullHandler())
        apprise_log.propagate = False
        self._apprise = apprise.Apprise(asset=_asset(apprise))
        for index, url in enumerate(urls, 1):
            if not self._apprise.add(url):
                raise ConfigError(
                    f"ATS_ALERT_URLS: entry {index} ({scheme_of(url)}://…) is not a URL "
                    "apprise understands"
                )
        for service in self._apprise:
            service.socket_connect_timeout = timeout_s
            service.socket_read_timeout = timeout_s
        self.channels = ", ".join(scheme_of(url) for url in urls)
        self._report = report
        self._queue: queue.Queue[Message | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(target=self._work, name="ats-alerts", daemon=True)
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        """Messages dropped because the queue was full (a slow or hanging channel)."""
        self._dropped_told = 0
        self._failing = False
        self._busy_since: float | None = None

    def start(self) -> None:
        self._thread.start()

    def send(self, message: Message) -> None:
        """Queue ``message``; never blocks (the oldest waiting message makes room)."""
        self._put(message)

    def _put(self, item: Message | None) -> None:
        with self._lock:
            while True:
                try:
                    self._queue.put_nowait(item)
                    return
                except queue.Full:
                    try:
                        if self._queue.get_nowait() is not None:
                            self.dropped += 1
                    except queue.Empty:
                        pass

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being sent."""
        return self._queue.unfinished_tasks == 0

    @property
    def stuck_for(self) -> float:
        """Seconds the message being sent has taken so far (0 when idle)."""
        started = self._busy_since
        return 0.0 if started is None else time.monotonic() - started

    async def close(self, wait_s: float) -> bool:
        """Let the worker send what is queued, waiting at most ``wait_s`` seconds (without
        blocking the loop); True when everything went out (or failed) in time."""
        self._put(None)
        deadline = time.monotonic() + wait_s
        while self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return not self._thread.is_alive()

    # -- the worker thread -------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            message = self._queue.get()
            try:
                if message is None:
                    return
                self._busy_since = time.monotonic()
                self._deliver(message)
            finally:
                self._busy_since = None
                self._queue.task_done()

    def _deliver(self, message: Message) -> None:
        body = message.body
        dropped = self.dropped - self._dropped_told
        if dropped:
            self._dropped_told = self.dropped
            body += f"\n({dropped} earlier alert message(s) dropped: the channel was too slow)"
        try:
            ok = bool(
                self._apprise.notify(
                    body=redact(body), title=redact(message.title), notify_type=message.level
                )
            )
        except Exception as exc:  # a channel's bug must not end the worker
            logger.info("alerts: apprise raised %s", type(exc).__name__)
            ok = False
        if ok:
            self.sent += 1
            if self._failing:
                self._failing = False
                self._tell(f"alerts: delivery to {self.channels} works again")
        else:
            self.failed += 1
            if not self._failing:
                self._failing = True
                self._tell(
                    f"alerts: delivery to {self.channels} failed; the jobs are not affected "
                    "and the next messages are tried as usual"
                )

    def _tell(self, text: str) -> None:
        logger.info("%s", text)
        if self._report is not None:
            try:
                self._report(text)
            except Exception:  # e.g. the loop it hops to has closed
                logger.debug("alerts: report failed", exc_info=True)


def _asset(apprise: Any) -> Any:
    """Synchronous sends (our own thread is the worker), no files written anywhere."""
    try:
        return apprise.AppriseAsset(async_mode=False, storage_mode="memory")
    except TypeError:  # an apprise without persistent storage
        return apprise.AppriseAsset(async_mode=False)
