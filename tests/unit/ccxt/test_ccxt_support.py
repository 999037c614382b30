"""Retry policy shared by every ccxt caller."""

from __future__ import annotations

import ccxt.async_support as ccxt_async
import pytest

from ats.exceptions import ExchangeRefused
from ats.exchanges.ccxt_support import Backoff, is_retryable, retry_transient


async def _no_sleep(seconds: float) -> None:
    return None


async def test_transient_errors_are_retried_until_success() -> None:
    failures = [ccxt_async.RequestTimeout("slow"), ccxt_async.DDoSProtection("429")]
    logs: list[str] = []

    async def call() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    result = await retry_transient(
        call, what="t", backoff=Backoff(0.01), sleep=_no_sleep, log=lambda _, m: logs.append(m)
    )
    assert result == "ok"
    assert len(logs) == 3 and "working again after 2" in logs[-1]


@pytest.mark.parametrize("code", [-2015, -2014])
async def test_a_refused_api_key_is_not_retried(code: int) -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise ccxt_async.DDoSProtection(f'binance {{"code":{code},"msg":"Invalid API-key"}}')

    with pytest.raises(ccxt_async.DDoSProtection):
        await retry_transient(
            call, what="t", backoff=Backoff(0.01), sleep=_no_sleep, log=lambda *_: None
        )
    assert calls == 1


async def test_max_failures_gives_up() -> None:
    async def call() -> None:
        raise ccxt_async.ExchangeNotAvailable("503")

    with pytest.raises(ccxt_async.ExchangeNotAvailable):
        await retry_transient(
            call, what="t", backoff=Backoff(0.01), sleep=_no_sleep, log=lambda *_: None,
            max_failures=3,
        )  # fmt: skip


def _with_status(exc: Exception, status: int) -> Exception:
    exc.http_status = status  # type: ignore[attr-defined]  # as the rate limiter's hook sets it
    return exc


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_one_line_and_not_retried(status: int) -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise _with_status(ccxt_async.ExchangeNotAvailable(f"binance GET /x {status}"), status)

    with pytest.raises(ExchangeRefused, match=rf"^load: HTTP {status}: .*not retried"):
        await retry_transient(
            call, what="load", backoff=Backoff(0.01), sleep=_no_sleep, log=lambda *_: None
        )
    assert calls == 1


@pytest.mark.parametrize(
    "error",
    [
        _with_status(ccxt_async.ExchangeNotAvailable("503"), 503),
        _with_status(ccxt_async.RequestTimeout('{"code":-1007}'), 400),
        _with_status(ccxt_async.RateLimitExceeded("429"), 429),
        _with_status(ccxt_async.InvalidNonce('{"code":-1021}'), 400),
        ccxt_async.RequestTimeout("no response"),
    ],
)
def test_server_errors_timeouts_and_rate_limits_are_retryable(error: Exception) -> None:
    assert is_retryable(error)
