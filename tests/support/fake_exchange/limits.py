"""Binance's per-IP request weight limit, Retry-After windows and escalating IP bans.

What Binance documents (spot REST "LIMITS"), and what this models:

- Every route has a weight; the weights of an IP's requests add up per fixed interval
  (REQUEST_WEIGHT, 6000 per 1 MINUTE). Every response carries the current total in
  ``X-MBX-USED-WEIGHT-1M``.
- Over the limit: HTTP 429, code -1003, and a ``Retry-After`` header giving the seconds to
  wait "to prevent a ban" (here: until the interval ends).
- "Repeatedly violating rate limits and/or failing to back off after receiving 429s will
  result in an automated IP ban (HTTP status 418)". Here every request that arrives while a
  Retry-After window (or a ban) is still running is such a violation: it is counted in
  :attr:`WeightLimits.violations` and answered 418 with ``Retry-After`` and "IP banned until
  <ms>". Only requests arriving within ``in_flight_grace`` seconds of the window's start
  are spared (answered 429 or 418, counted in ``in_flight``): they were on their way
  before the 429 went out, so no client could have held them back ("after receiving").
- "IP bans are tracked and scale in duration for repeat offenders, from 2 minutes to 3
  days": each ban lasts twice the previous one, from ``ban_seconds`` up to
  ``max_ban_seconds`` (tests scale both down).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .models import LoggedRequest

Params = dict[str, str]

WEIGHT_LIMIT = 6000
"""REQUEST_WEIGHT per minute that ``exchangeInfo`` publishes for spot."""

Weight = int | Callable[[Params], int]


def _depth_weight(params: Params) -> int:
    limit = int(params.get("limit") or 100) if (params.get("limit") or "").isdigit() else 100
    for top, weight in ((100, 5), (500, 25), (1000, 50)):
        if limit <= top:
            return weight
    return 250


def _ticker_24hr_weight(params: Params) -> int:
    if "symbol" in params:
        return 2
    if "symbols" in params:
        count = params["symbols"].count(",") + 1
        return 2 if count <= 20 else 40 if count <= 100 else 80
    return 80


#: Weights from Binance's spot REST documentation; unknown routes weigh 1.
ROUTE_WEIGHTS: dict[tuple[str, str], Weight] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/depth"): _depth_weight,
    ("GET", "/api/v3/ticker/24hr"): _ticker_24hr_weight,
    ("GET", "/api/v3/ticker/price"): lambda p: 2 if "symbol" in p else 4,
    ("GET", "/api/v3/avgPrice"): 2,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): lambda p: 20 if "computeCommissionRates" in p else 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/openOrders"): lambda p: 6 if "symbol" in p else 80,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): lambda p: 5 if "orderId" in p else 20,
}


def request_weight(method: str, path: str, params: Params) -> int:
    """The weight Binance charges for one request."""
    weight = ROUTE_WEIGHTS.get((method, path), 1)
    return weight(params) if callable(weight) else weight


def retry_after_header(seconds: float) -> str:
    """Binance sends whole seconds; a window scaled below one second for tests is sent as
    decimal seconds (ms precision) so tests need not sleep a full second."""
    if seconds >= 1:
        return str(math.ceil(seconds))
    return f"{max(seconds, 0.001):.3f}"


@dataclass
class Limited:
    """A refusal: HTTP ``status`` (429 or 418), ``retry_after`` seconds and the -1003 text."""

    status: int
    retry_after: float
    msg: str


@dataclass
class WeightLimits:
    """Weight accounting and Retry-After/ban windows of one IP (the fake serves one).

    ``limit=None`` turns weight limiting off (weights are still counted and reported);
    windows opened by injected 429/418 faults are enforced either way.
    """

    limit: int | None = WEIGHT_LIMIT
    window_seconds: float = 60.0
    ban_seconds: float = 120.0
    max_ban_seconds: float = 3 * 86_400.0
    in_flight_grace: float = 0.05
    clock: Callable[[], float] = time.monotonic
    server_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    """The exchange's clock, for the "banned until <ms>" text."""
    used: int = 0
    bans: int = 0
    retry_after_until: float = 0.0
    ban_until: float = 0.0
    violations: list[LoggedRequest] = field(default_factory=list)
    in_flight: list[LoggedRequest] = field(default_factory=list)
    """Requests inside a window that arrived within ``in_flight_grace`` of its start."""
    window_opened: float = float("-inf")
    rate_limited: int = 0
    """429 answers given for weight over the limit."""
    _window_id: int = -1

    def used_weight(self) -> int:
        """Weight used in the current interval (``X-MBX-USED-WEIGHT-1M``)."""
        self._roll(self.clock())
        return self.used

    def blocked_for(self) -> float:
        """Seconds until both the Retry-After window and any ban are over."""
        return max(self.retry_after_until, self.ban_until, self.clock()) - self.clock()

    def check(self, request: LoggedRequest, params: Params) -> Limited | None:
        """Charge ``request``'s weight; a refusal if it must not be served."""
        now = self.clock()
        self._roll(now)
        self.used += request_weight(request.method, request.path, params)
        if now < max(self.retry_after_until, self.ban_until):
            if now < self.window_opened + self.in_flight_grace:
                self.in_flight.append(request)
                if now < self.ban_until:
                    return self.ban(self.ban_until - now)
                return self.open_window(self.retry_after_until - now)
            self.violations.append(request)
            return self.ban()
        if self.limit is not None and self.used > self.limit:
            self.rate_limited += 1
            window_end = (self._window_id + 1) * self.window_seconds
            return self.open_window(window_end - now)
        return None

    def open_window(self, seconds: float) -> Limited:
        """Start (or extend) a Retry-After window: a 429 answer."""
        now = self.clock()
        if now >= max(self.retry_after_until, self.ban_until):
            self.window_opened = now
        self.retry_after_until = max(self.retry_after_until, now + seconds)
        per = _interval_text(self.window_seconds)
        return Limited(
            429,
            seconds,
            f"Too much request weight used; current limit is {self.limit or WEIGHT_LIMIT} "
            f"request weight per {per}. Please use WebSocket Streams for live updates to "
            "avoid polling the API.",
        )

    def ban(self, seconds: float | None = None) -> Limited:
        """Ban the IP: each ban lasts twice the previous one (or ``seconds``)."""
        if seconds is None:
            seconds = min(self.ban_seconds * 2**self.bans, self.max_ban_seconds)
            self.bans += 1
        now = self.clock()
        if now >= max(self.retry_after_until, self.ban_until):
            self.window_opened = now
        self.ban_until = max(self.ban_until, now + seconds)
        until_ms = self.server_ms() + int((self.ban_until - now) * 1000)
        return Limited(
            418,
            self.ban_until - now,
            f"Way too much request weight used; IP banned until {until_ms}. Please use "
            "WebSocket Streams for live updates to avoid bans.",
        )

    def _roll(self, now: float) -> None:
        window_id = int(now // self.window_seconds)
        if window_id != self._window_id:
            self._window_id, self.used = window_id, 0


def _interval_text(seconds: float) -> str:
    if seconds == 60:
        return "1 MINUTE"
    return f"{seconds:g} SECOND"
