"""Retries that lose nothing: what is retried, what is not, Retry-After and the total deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    APIConnectionError,
    APITimeoutError,
    Dintero,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
)
from dintero_aio._retry import RetryPolicy as _Policy

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, error_body, token_body

NOT_SENT = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("connect timed out"),
    httpx.PoolTimeout("no free connection"),
]
MAYBE_PROCESSED = [
    httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.ReadError("connection reset"),
    httpx.WriteTimeout("write timed out"),
]


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


def creates(httpx_mock: HTTPXMock) -> int:
    return len(httpx_mock.get_requests(url=CLIENTS_URL))


@pytest.mark.parametrize("exc", NOT_SENT, ids=lambda e: type(e).__name__)
async def test_create_is_retried_after_connect_phase_failures(
    httpx_mock: HTTPXMock, dintero: Dintero, exc: Exception
) -> None:
    httpx_mock.add_exception(exc, url=CLIENTS_URL)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    assert creates(httpx_mock) == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_create_is_retried_after_refusals(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=status, json=error_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    assert creates(httpx_mock) == 2


@pytest.mark.parametrize("exc", MAYBE_PROCESSED, ids=lambda e: type(e).__name__)
async def test_create_is_not_retried_after_an_ambiguous_network_failure(
    httpx_mock: HTTPXMock, dintero: Dintero, exc: Exception
) -> None:
    httpx_mock.add_exception(exc, url=CLIENTS_URL)

    with pytest.raises(APIConnectionError) as info:
        await dintero.clients.create()

    assert creates(httpx_mock) == 1
    assert info.value.outcome_unknown
    assert "outcome is unknown" in str(info.value)
    assert "duplicate client" in str(info.value)
    cause = info.value.__cause__
    if isinstance(exc, httpx.RemoteProtocolError):  # a copy: its text may quote server bytes
        assert type(cause) is type(exc)
        assert str(cause) == str(exc).split(":", 1)[0]
    else:
        assert cause is exc
    assert isinstance(info.value, APITimeoutError) == isinstance(exc, httpx.TimeoutException)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_create_is_not_retried_after_an_ambiguous_status(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=status, json=error_body("boom"))

    with pytest.raises(InternalServerError) as info:
        await dintero.clients.create()

    assert creates(httpx_mock) == 1
    assert info.value.status_code == status
    assert info.value.outcome_unknown
    assert "duplicate client" in str(info.value)


async def test_retries_stop_after_max_retries(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=503, json=error_body(), is_reusable=True)
    with pytest.raises(InternalServerError) as info:
        await dintero.clients.create()
    assert creates(httpx_mock) == 3  # 1 + max_retries=2
    assert not info.value.outcome_unknown  # 503: provably not processed


async def test_max_retries_zero_disables_retries(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(max_retries=0))
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=CLIENTS_URL)
    with pytest.raises(APIConnectionError):
        await dintero.clients.create()
    assert creates(httpx_mock) == 1


async def test_non_retryable_statuses_are_not_retried(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=400, json=error_body())
    with pytest.raises(Exception, match="HTTP 400"):
        await dintero.clients.create()
    assert creates(httpx_mock) == 1


async def test_retry_after_seconds_is_honoured(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(initial_delay=0, max_delay=0))
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=429, headers={"Retry-After": "0.3"}, json=error_body()
    )
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    started = time.monotonic()
    await dintero.clients.create()
    assert time.monotonic() - started >= 0.3
    assert creates(httpx_mock) == 2


async def test_retry_after_http_date_is_honoured(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(total_timeout=2))
    past = "Wed, 21 Oct 2015 07:28:00 GMT"  # already passed: retry at once
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=503, headers={"Retry-After": past}, json=error_body()
    )
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    assert creates(httpx_mock) == 2


async def test_retry_after_beyond_the_deadline_raises_at_once(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(total_timeout=5))
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=429, headers={"Retry-After": "30"}, json=error_body()
    )
    started = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        await dintero.clients.create()
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 30.0
    assert creates(httpx_mock) == 1


async def test_total_timeout_bounds_attempts_and_sleeps(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    """Each attempt's timeout is cut to what is left; the call ends at the deadline."""
    policy = RetryPolicy(max_retries=50, initial_delay=0.01, max_delay=0.01, total_timeout=0.3)
    dintero = make_dintero(retry=policy, timeout=10.0)
    seen_timeouts: list[float] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        seen_timeouts.append(request.extensions["timeout"]["read"])
        await asyncio.sleep(0.1)
        return httpx.Response(503, json=error_body())

    httpx_mock.add_callback(slow, url=CLIENTS_URL, is_reusable=True)
    started = time.monotonic()
    with pytest.raises((InternalServerError, APITimeoutError)):
        await dintero.clients.create()
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.8  # bounded by the deadline, far below 50 attempts of 0.1 s
    assert all(t <= 0.3 for t in seen_timeouts)
    assert seen_timeouts == sorted(seen_timeouts, reverse=True)


async def test_deadline_during_a_request_is_a_timeout_with_unknown_outcome(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(total_timeout=0.1))

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1)
        return httpx.Response(200, json=client_body())

    httpx_mock.add_callback(hang, url=CLIENTS_URL)
    with pytest.raises(APITimeoutError) as info:
        await dintero.clients.create()
    assert "total_timeout" in str(info.value)
    assert info.value.outcome_unknown


async def test_with_options_overrides_retry_and_shares_the_token(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=503, json=error_body())
    await dintero.clients.create()
    no_retry = dintero.with_options(retry=RetryPolicy(max_retries=0), timeout=5)
    with pytest.raises(InternalServerError):
        await no_retry.clients.create()
    assert creates(httpx_mock) == 2  # not retried in the view
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 1  # one token for both
    assert no_retry._caller.http is dintero._caller.http  # one connection pool


def test_delays_grow_exponentially_with_jitter_up_to_max_delay() -> None:
    policy = _Policy(initial_delay=0.5, max_delay=8.0)
    for retry_number, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = [policy.delay(retry_number) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 100  # jittered


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"initial_delay": -1},
        {"max_delay": -0.1},
        {"total_timeout": 0},
    ],
)
def test_retry_policy_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises((ValueError, TypeError)):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_retry_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_retries = 5  # type: ignore[misc]
