"""What every ccxt user in ATS shares: building a client, URL overrides, retries.

ccxt is imported inside the functions only: importing it costs ~0.5 s and ~100 MB, and
``ats --help`` or a backtest must never pay that.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ats.exceptions import ConfigError

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
) -> Any:
    """A ``ccxt.async_support`` client; ConfigError if ccxt has no such exchange.

    ``urls`` is a base URL (every REST URL keeps its path, e.g. a proxy, testnet mirror
    or the test-suite's loopback server) or a dict deep-merged into ccxt's ``urls``.
    ``enable_rate_limit`` keeps ccxt's client-side throttle (off only for loopback tests).
    """
    import ccxt.async_support as ccxt_async

    exchange_class = getattr(ccxt_async, exchange_id, None)
    if exchange_class is None or exchange_id not in ccxt_async.exchanges:
        raise ConfigError(f"exchange: ccxt has no exchange {exchange_id!r}")
    config: dict[str, Any] = {
        "enableRateLimit": enable_rate_limit,
        "timeout": timeout_ms,
        "options": dict(options or {}),
        **(credentials or {}),
    }
    client = exchange_class(config)
    apply_url_overrides(client, urls)
    return client


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
) -> T:
    """Await ``call()``, retrying ccxt's transient errors forever with backoff.

    ``OperationFailed`` is ccxt's "may succeed if retried" branch (NetworkError and its
    children: timeouts, 429/418, 5xx, dropped connections; BadResponse). ExchangeError
    (bad symbol, insufficient funds, ...) is not retried. Only use this for calls that
    are safe to repeat (reads, or writes made idempotent by a client order id).
    With ``max_failures``, the error is raised after that many failures in a row.
    """
    import ccxt.async_support as ccxt_async

    while True:
        try:
            result = await call()
        except ccxt_async.OperationFailed as exc:
            if _is_refused_key(exc):
                raise
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


def _is_refused_key(exc: BaseException) -> bool:
    """ccxt raises Binance's -2015/-2014 (bad or revoked API key) as DDoSProtection once a
    private call has succeeded; retrying those forever would hide a revoked key."""
    import ccxt.async_support as ccxt_async

    text = str(exc)
    return isinstance(exc, ccxt_async.DDoSProtection) and (
        '"code":-2015' in text.replace(" ", "") or '"code":-2014' in text.replace(" ", "")
    )
