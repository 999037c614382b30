"""What every ccxt user in ATS shares: building a client, URL overrides, retries.

Every client is built by :func:`make_client` and goes through the process's shared rate
limiter for its exchange host (:mod:`ats.exchanges.rate_limit`). Errors are sorted by
kind (:func:`is_retryable`): network trouble, 5xx, timeouts and rate limits are retried
with backoff (rate limits wait out ``Retry-After``); a 400/401/403/404, a filter failure or
any other refusal is not.

ccxt is imported on first use only (:mod:`ats.exchanges.lazy_ccxt`): importing it costs
~0.5 s and ~100 MB, and ``ats --help`` or a backtest must never pay that.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ats.exceptions import ConfigError, ExchangeRefused
from ats.exchanges import rate_limit
from ats.exchanges.lazy_ccxt import ccxt, ccxt_module

T = TypeVar("T")
LogFunction = Callable[[str, str], None]
SleepFunction = Callable[[float], Awaitable[None]]


def make_client(
    exchange_id: str,
    *,
    timeout_ms: int = 10_000,
    options: dict[str, Any] | None = None,
    urls: dict[str, Any] | str | None = None,
    credentials: dict[str, str] | None = None,
    enable_rate_limit: bool = True,
    sandbox: bool = False,
    spot: bool = True,
) -> Any:
    """A ``ccxt.async_support`` client; ConfigError if ccxt has no such exchange.

    ``urls`` is a base URL (every REST URL keeps its path, e.g. a proxy, testnet mirror
    or the test-suite's loopback server) or a dict deep-merged into ccxt's ``urls``.
    ``sandbox`` switches ccxt to the exchange's test network (``set_sandbox_mode``) before
    ``urls`` apply. ``spot``: the client only needs spot markets (see
    :func:`default_options`). ``enable_rate_limit`` keeps ccxt's client-side throttle
    (off only for loopback tests); the shared :mod:`rate_limit` limiter is always on.
    """
    client_class = _client_class(exchange_id)
    config: dict[str, Any] = {
        "enableRateLimit": enable_rate_limit,
        "timeout": timeout_ms,
        "options": dict(options or {}),
        **(credentials or {}),
    }
    client = client_class(config)
    apply_default_options(
        client, set(options or {}), spot=spot, custom_urls=bool(urls), signed=bool(credentials)
    )
    if sandbox:
        try:
            client.set_sandbox_mode(True)
        except ccxt.NotSupported:
            raise ConfigError(f"exchange.params.sandbox: {exchange_id} has no sandbox") from None
    apply_url_overrides(client, urls)
    rate_limit.install(client, rate_limit.limiter_for(exchange_id, rate_limit.api_origin(client)))
    return client


def apply_default_options(
    client: Any, user_set: set[str], *, spot: bool, custom_urls: bool, signed: bool = True
) -> None:
    """Options ATS sets unless the user set them (``user_set``).

    A spot symbol needs spot markets only: where ccxt loads several market types
    (Binance: spot, then the futures hosts /fapi and /dapi) it is asked for spot alone,
    and margin pairs are not fetched. With custom urls (a testnet, proxy or mirror), the
    currency list is not fetched either: it comes from a private wallet endpoint (Binance
    /sapi) such hosts rarely serve. For a ``signed`` (private) client,
    ``adjustForTimeDifference`` makes ccxt sign requests with the exchange's clock (read
    at ``load_markets``), so a local clock that is off by seconds does not get every
    private request refused (Binance -1021)."""
    options: dict[str, Any] = client.options

    def default(key: str, value: Any) -> None:
        if key in options and key not in user_set:
            options[key] = value

    if signed:
        default("adjustForTimeDifference", True)
    if spot:
        markets = options.get("fetchMarkets")
        if isinstance(markets, dict) and isinstance(markets.get("types"), list):
            default("fetchMarkets", {**markets, "types": ["spot"]})
        default("fetchMargins", False)
    if custom_urls:
        default("fetchCurrencies", False)


def apply_url_overrides(client: Any, urls: dict[str, Any] | str | None) -> None:
    """``urls``: a base url string rebases every REST url, a dict is deep-merged."""
    if isinstance(urls, str):
        _rebase_urls(client.urls.get("api"), urls)
    elif urls:
        client.urls = client.deep_extend(client.urls, urls)


def _rebase_urls(api: Any, base_url: str) -> None:
    """Point every REST url at ``base_url``'s scheme and host, keeping each path."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    if not isinstance(api, dict):
        return
    for name, url in api.items():
        if isinstance(url, str) and url.startswith("http"):
            api[name] = origin + urlsplit(url).path
        elif isinstance(url, dict):
            _rebase_urls(url, base_url)


def is_spot(symbol: str) -> bool:
    """``BTC/USDT`` is spot; ccxt writes derivatives with a settle currency (``BTC/USDT:USDT``)."""
    return ":" not in symbol


def short_error(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Backoff:
    """Exponential backoff with jitter; ``reset()`` after a success."""

    def __init__(self, base_seconds: float = 1.0, max_seconds: float = 60.0) -> None:
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.failures = 0

    def next_delay(self) -> float:
        self.failures += 1
        delay = min(self.max_seconds, self.base_seconds * 2 ** (self.failures - 1))
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    backoff: Backoff,
    sleep: SleepFunction,
    log: LogFunction,
    max_failures: int | None = None,
    limiter: rate_limit.AccountLimiter | None = None,
    resync_clock: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Await ``call()``, retrying transient errors (:func:`is_retryable`) with backoff.

    Only use this for calls that are safe to repeat (reads, or writes made idempotent by
    a client order id). With ``max_failures``, the error is raised after that many
    failures in a row. A refusal that retrying cannot fix (HTTP 400/401/403/404) becomes
    :class:`ExchangeRefused`, one line naming ``what``. With a ``limiter``, no attempt is
    made inside a Retry-After window or ban: a rate limit is waited out (the limiter
    announces it) and does not count as a failure. ``resync_clock`` is awaited when the
    exchange refuses a request's timestamp (ccxt ``InvalidNonce``, Binance -1021: the
    clocks drifted apart since they were compared), before the retry.
    """
    while True:
        if limiter is not None:
            await limiter.wait(sleep)
        try:
            result = await call()
        except ccxt.OperationFailed as exc:
            if _is_refused_key(exc):
                raise
            if not is_retryable(exc):
                raise refused(what, exc) from None
            if limiter is not None and limiter.remaining() > 0:
                continue  # 429/418 (or refused before sending): wait out Retry-After
            if resync_clock is not None and isinstance(exc, ccxt.InvalidNonce):
                await resync_clock()
            if max_failures is not None and backoff.failures + 1 >= max_failures:
                backoff.reset()
                raise
            delay = backoff.next_delay()
            log(
                "WARNING",
                f"{what}: {type(exc).__name__}: {short_error(exc)}; "
                f"retry {backoff.failures} in {delay:.2f}s",
            )
            await sleep(delay)
            continue
        if backoff.failures:
            log("INFO", f"{what}: working again after {backoff.failures} failed attempts")
            backoff.reset()
        return result


def _client_class(venue: str) -> Any:
    """ccxt's client class for ``venue`` (an id in ``ccxt.exchanges``); ConfigError if none."""
    known: list[str] = ccxt.exchanges
    client_class = getattr(ccxt_module(), venue, None) if venue in known else None
    if client_class is None:
        raise ConfigError(f"exchange: ccxt has no exchange {venue!r}")
    return client_class


RETRYABLE_4XX = frozenset({408, 418, 425, 429})
"""Client-error statuses that mean "later": timeout, ban, too early, rate limit."""


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the response behind a ccxt error, if there was one (set by the
    rate limiter's hook on every client :func:`make_client` builds)."""
    status = getattr(exc, "http_status", None)
    return status if isinstance(status, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Whether repeating the request may succeed.

    ccxt's ``OperationFailed`` branch (network errors, timeouts, 429/418, 5xx) is, except
    where the response was a client error: ccxt maps a plain 400, 403 or 404 to
    ``ExchangeNotAvailable`` too, but a path the host does not serve or a request its
    firewall refuses fails the same way every time. A timeout (ccxt ``RequestTimeout``,
    also Binance's -1007), a rate limit or a refused timestamp (``InvalidNonce``, -1021:
    compare clocks and retry) stays retryable whatever the status."""
    if not isinstance(exc, ccxt.OperationFailed) or _is_refused_key(exc):
        return False
    if isinstance(exc, ccxt.RequestTimeout | ccxt.DDoSProtection | ccxt.InvalidNonce):
        return True
    status = http_status(exc)
    return status is None or not 400 <= status < 500 or status in RETRYABLE_4XX


def refused(what: str, exc: BaseException) -> ExchangeRefused:
    """One line for a request the exchange refused for good."""
    status = http_status(exc)
    code = f"HTTP {status}: " if status is not None else ""
    return ExchangeRefused(
        f"{what}: {code}{type(exc).__name__}: {short_error(exc)} (not retried: it would "
        "fail the same way; check the exchange, urls and options)"
    )


def _is_refused_key(exc: BaseException) -> bool:
    """ccxt raises Binance's -2015/-2014 (bad or revoked API key) as DDoSProtection once a
    private call has succeeded; retrying those forever would hide a revoked key."""
    text = str(exc)
    return isinstance(exc, ccxt.DDoSProtection) and (
        '"code":-2015' in text.replace(" ", "") or '"code":-2014' in text.replace(" ", "")
    )
