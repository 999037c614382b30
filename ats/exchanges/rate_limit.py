"""One rate limiter per exchange host in the process, shared by every job and download.

Exchanges limit requests per IP, not per job: Binance counts request weight per IP, answers
HTTP 429 with ``Retry-After`` when it is used up, and bans the IP (HTTP 418, "banned
until <ms>", from 2 minutes up to 3 days, longer on each repeat) when requests keep
coming inside that window. A ban stops every job on the machine. So every ccxt client
ATS builds for the same exchange and host shares one :class:`AccountLimiter`, which

- after a 429 or 418, refuses to send anything until ``Retry-After`` has passed (checked
  before ccxt signs a request and again right before it goes out; the refusal is a
  ``DDoSProtection`` that never left the process), and lets callers wait that window out
  (:meth:`AccountLimiter.wait`);
- says so once in the log of every job using it, and gives the console a short state
  ("banned until 12:03:00").

ccxt's own client-side throttle stays on in front of it (``enableRateLimit``).
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from ats.exchanges.lazy_ccxt import ccxt

LogFunction = Callable[[str, str], None]
SleepFunction = Callable[[float], Awaitable[None]]

DEFAULT_WINDOW_SECONDS = 1.0
"""Pause after a 429 that names no Retry-After."""
BANNED_UNTIL = re.compile(r"banned until (\d{12,14})")


class AccountLimiter:
    """Retry-After windows and IP bans of one exchange host, shared in the process."""

    def __init__(self, name: str, origin: str) -> None:
        self.name = name
        self.origin = origin
        self.banned = False
        """Whether the current (or last) window is an IP ban (418) rather than a 429."""
        self.used_weight: int | None = None
        """The exchange's last ``X-MBX-USED-WEIGHT-1M`` (Binance), if it sends one."""
        self._until = 0.0  # monotonic end of the Retry-After window or ban
        self._until_wall = 0.0
        self._logs: dict[LogFunction, int] = {}
        self._announced_end = False

    # -- state -----------------------------------------------------------------------
    def remaining(self) -> float:
        """Seconds before the next request may be sent (0 when free)."""
        return max(self._until - time.monotonic(), 0.0)

    def state_text(self) -> str | None:
        """ "banned until 12:03:00" or "rate limited until 12:03:00" (local time), or None."""
        if self.remaining() <= 0:
            return None
        until = datetime.fromtimestamp(self._until_wall).strftime("%H:%M:%S")
        return f"{'banned' if self.banned else 'rate limited'} until {until}"

    # -- who hears about it ----------------------------------------------------------
    def watch(self, log: LogFunction) -> None:
        """Announce windows and bans in ``log`` (once, however many clients it has)."""
        self._logs[log] = self._logs.get(log, 0) + 1

    def unwatch(self, log: LogFunction) -> None:
        count = self._logs.get(log, 0) - 1
        if count > 0:
            self._logs[log] = count
        else:
            self._logs.pop(log, None)

    def _announce(self, level: str, message: str) -> None:
        for log in list(self._logs):
            log(level, message)

    # -- sending -----------------------------------------------------------------------
    async def wait(self, sleep: SleepFunction = asyncio.sleep) -> None:
        """Sleep (through ``sleep``, so a job's stop still ends it) until sending is allowed."""
        while (left := self.remaining()) > 0:
            await sleep(left)

    def check(self) -> None:
        """Raise ccxt's ``DDoSProtection`` (marked ``ats_not_sent``) inside a window."""
        if self.remaining() > 0:
            error = ccxt.DDoSProtection(f"{self.name}: not sent: {self.state_text()} (Retry-After)")
            error.ats_not_sent = True
            raise error

    # -- what the exchange said ----------------------------------------------------------
    def observe(self, status: int, headers: dict[str, Any] | None, body: str | None) -> None:
        """Take a response's status and headers into account."""
        headers = {str(k).lower(): v for k, v in (headers or {}).items()}
        weight = headers.get("x-mbx-used-weight-1m")
        if isinstance(weight, str) and weight.isdigit():
            self.used_weight = int(weight)
        if status in (418, 429):
            self._limited(status, headers.get("retry-after"), body or "")
        elif status < 400 and self.banned and not self._announced_end and self.remaining() <= 0:
            self._announced_end = True
            self._announce("INFO", f"{self.name}: the IP ban is over; requests go out again")

    def _limited(self, status: int, retry_after: Any, body: str) -> None:
        seconds = parse_retry_after(retry_after)
        if seconds is None and status == 418 and (match := BANNED_UNTIL.search(body)):
            seconds = int(match.group(1)) / 1000 - time.time()  # the exchange's clock
        if seconds is None:
            seconds = DEFAULT_WINDOW_SECONDS
        seconds = max(seconds, 0.0)
        was_blocked, was_banned = self.remaining() > 0, self.banned and self.remaining() > 0
        ban = status == 418
        until = time.monotonic() + seconds
        if until > self._until:
            self._until, self._until_wall = until, time.time() + seconds
        if ban:
            self.banned, self._announced_end = True, False
        elif not was_blocked:
            self.banned = False
        until_text = datetime.fromtimestamp(self._until_wall).strftime("%H:%M:%S")
        if ban and not was_banned:
            self._announce(
                "WARNING",
                f"{self.name}: the exchange banned this IP (HTTP 418) until {until_text}; "
                f"no request goes to {self.origin} before then, for any job",
            )
        elif not was_blocked:
            self._announce(
                "WARNING",
                f"{self.name}: rate limit reached (HTTP 429); no request goes to "
                f"{self.origin} for {seconds:.3g}s (Retry-After), for any job",
            )


def parse_retry_after(value: Any) -> float | None:
    """``Retry-After`` as seconds: a number (decimals accepted) or an HTTP date."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


# -- one limiter per (exchange, host) and event loop -----------------------------------
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], Any]] = (
    weakref.WeakKeyDictionary()
)


def limiter_for(exchange_id: str, origin: str) -> AccountLimiter:
    """The process's limiter for ``exchange_id`` at ``origin`` (scheme://host[:port]).

    Keyed by host, not API key: Binance limits and bans per IP, so the public market data
    client must wait out a ban as much as the private one. One set per event loop
    (asyncio objects belong to one loop; tests run many loops)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return AccountLimiter(exchange_id, origin)
    table = _limiters.setdefault(loop, {})
    key = (exchange_id, origin)
    if key not in table:
        table[key] = AccountLimiter(exchange_id, origin)
    limiter: AccountLimiter = table[key]
    return limiter


def api_origin(client: Any) -> str:
    """scheme://host of the client's REST API (its ``public`` url where it has one)."""
    api = (getattr(client, "urls", None) or {}).get("api")
    candidates: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, str) and node.startswith("http"):
            candidates.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                collect(value)

    if isinstance(api, dict) and isinstance(api.get("public"), str):
        candidates.append(api["public"])
    collect(api)
    if not candidates:
        return ""
    parts = urlsplit(candidates[0])
    return f"{parts.scheme}://{parts.netloc}"


def install(client: Any, limiter: AccountLimiter) -> None:
    """Route every request of the ccxt ``client`` through ``limiter``.

    The window is checked when ccxt starts a request (``fetch2``: before its throttle
    wait and the signing) and again right before the request goes out (``fetch``: a 429
    to another request may have arrived meanwhile). The responses' status and headers
    reach the limiter through ``handle_errors``, which ccxt calls for every response; the
    HTTP status is also put on the error (``http_status``) so callers can tell a 404 from
    a 503. Requests already on their way when a 429 arrives cannot be called back; that
    is why nothing more is sent once it has."""
    client.ats_limiter = limiter
    fetch2, fetch = client.fetch2, client.fetch
    handle_errors = client.handle_errors
    handle_http_status_code = client.handle_http_status_code

    async def limited_fetch2(*args: Any, **kwargs: Any) -> Any:
        limiter.check()
        return await fetch2(*args, **kwargs)

    async def limited_fetch(*args: Any, **kwargs: Any) -> Any:
        limiter.check()
        return await fetch(*args, **kwargs)

    def observed_handle_errors(code: int, reason: str, url: str, method: str, headers: Any,
                               body: Any, *rest: Any) -> Any:  # fmt: skip
        limiter.observe(code, headers, body if isinstance(body, str) else None)
        try:
            return handle_errors(code, reason, url, method, headers, body, *rest)
        except Exception as exc:
            exc.http_status = code  # type: ignore[attr-defined]
            raise

    def tagged_handle_http_status_code(code: int, *rest: Any) -> Any:
        try:
            return handle_http_status_code(code, *rest)
        except Exception as exc:
            exc.http_status = code  # type: ignore[attr-defined]
            raise

    client.fetch2, client.fetch = limited_fetch2, limited_fetch
    client.handle_errors = observed_handle_errors
    client.handle_http_status_code = tagged_handle_http_status_code


def limiter_of(client: Any) -> AccountLimiter | None:
    """The limiter :func:`install` put on ``client``, if any."""
    limiter = getattr(client, "ats_limiter", None)
    return limiter if isinstance(limiter, AccountLimiter) else None
