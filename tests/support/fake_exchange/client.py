"""Build ccxt's real async Binance class pointed at a loopback FakeBinance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async

BINANCE_SPOT_HOST = "https://api.binance.com"


def make_binance(
    base_url: str,
    *,
    api_key: str = "test-key",
    secret: str = "test-secret",
    timeout_ms: int = 3000,
    spot_error_table: bool = True,
    timeout_on_exit_ms: int = 0,
    options: dict[str, Any] | None = None,
) -> ccxt_async.binance:
    """Return a real ``ccxt.async_support.binance`` whose every REST url targets ``base_url``.

    Every ``http...`` string in ``urls['api']`` keeps its path and gets the loopback scheme
    and host. Options keep ``load_markets`` on ``/api/v3/exchangeInfo`` only.

    ``spot_error_table``: ccxt picks its spot-specific error table by url prefix
    (``https://api.binance.com/``), which a loopback url never matches; when True, error
    lookup is told the original host so errors map exactly as in production.
    ``timeout_on_exit_ms``: ccxt's ``close()`` sleeps this long (250 ms by default, for SSL
    teardown); plain-http loopback needs none.
    The caller must ``await exchange.close()``.
    """
    import ccxt.async_support as ccxt_async

    loopback = urlsplit(base_url)
    origin = f"{loopback.scheme}://{loopback.netloc}"
    exchange = ccxt_async.binance(
        {
            "apiKey": api_key,
            "secret": secret,
            "timeout": timeout_ms,
            "enableRateLimit": False,
            "options": {
                "fetchMargins": False,
                "fetchCurrencies": False,
                "adjustForTimeDifference": False,
                "fetchMarkets": {"types": ["spot"]},
                **(options or {}),
            },
        }
    )
    exchange.timeout_on_exit = timeout_on_exit_ms
    api_urls: dict[str, Any] = exchange.urls["api"]
    for name, url in api_urls.items():
        if isinstance(url, str) and url.startswith("http"):
            parts = urlsplit(url)
            api_urls[name] = origin + parts.path

    if spot_error_table:
        lookup = exchange.get_exceptions_by_url

        def get_exceptions_by_url(url: str | None, exact_or_broad: str) -> dict[str, Any]:
            if url is not None and url.startswith(origin + "/"):
                url = BINANCE_SPOT_HOST + url[len(origin) :]
            result: dict[str, Any] = lookup(url, exact_or_broad)
            return result

        exchange.get_exceptions_by_url = get_exceptions_by_url
    return exchange
