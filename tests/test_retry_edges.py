"""The edges of the retry rules: policy bounds, the jitter range, which waits a server may set,
what counts as "may have been processed" across attempts, and what the retry log says."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    APIConnectionError,
    APITimeoutError,
    Dintero,
    InternalServerError,
    InvalidInputError,
    RateLimitError,
    RetryPolicy,
)
from dintero_aio import _retry as retry_module

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, error_body, token_body

CLIENT_URL = f"{CLIENTS_URL}/6f1c2a4e-8a9b-4c3d-9e8f-0123456789ab"
LIST_PATH = "/v1/accounts/T12345678/auth/clients"


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


def dintero_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "dintero_aio"]


# --- the policy's settings --------------------------------------------------------------------


def test_max_retries_is_a_whole_number_from_0_to_100() -> None:
    assert RetryPolicy(max_retries=0).max_retries == 0
    assert RetryPolicy(max_retries=100).max_retries == 100
    with pytest.raises(
        InvalidInputError, match=r"^RetryPolicy\.max_retries must be from 0 to 100$"
    ):
        RetryPolicy(max_retries=101)
    for not_whole in (True, 2.0, "2"):
        with pytest.raises(
            InvalidInputError, match=r"^RetryPolicy\.max_retries must be a whole number$"
        ):
            RetryPolicy(max_retries=not_whole)  # type: ignore[arg-type]


def test_initial_delay_may_equal_but_not_exceed_max_delay() -> None:
    same = RetryPolicy(initial_delay=2, max_delay=2)
    assert (same.initial_delay, same.max_delay) == (2.0, 2.0)
    with pytest.raises(
        InvalidInputError, match=r"^RetryPolicy\.initial_delay must not exceed max_delay$"
    ):
        RetryPolicy(initial_delay=2.5, max_delay=2)


def test_delays_may_be_zero_but_the_total_timeout_may_not() -> None:
    policy = RetryPolicy(initial_delay=0, max_delay=0, total_timeout=1)
    assert [type(v) for v in (policy.initial_delay, policy.max_delay, policy.total_timeout)] == [
        float,
        float,
        float,
    ]
    assert policy.delay(3) == 0.0
    with pytest.raises(InvalidInputError, match=r"RetryPolicy\.total_timeout"):
        RetryPolicy(total_timeout=0)


def test_the_jitter_spans_the_upper_half_of_each_ceiling() -> None:
    policy = RetryPolicy(initial_delay=1.0, max_delay=4.0)
    delays = [policy.delay(1) for _ in range(500)]  # ceiling 2.0
    assert 1.0 <= min(delays) < 1.1
    assert 1.9 < max(delays) <= 2.0


def test_late_retries_wait_max_delay_without_overflowing() -> None:
    policy = RetryPolicy(initial_delay=0.5, max_delay=8.0)
    for retry_number in (64, 1023, 10**6):
        assert 4.0 <= policy.delay(retry_number) <= 8.0


def test_retry_argument_is_none_or_a_policy() -> None:
    assert retry_module.policy(None) == RetryPolicy()
    mine = RetryPolicy(max_retries=5)
    assert retry_module.policy(mine) is mine
    with pytest.raises(InvalidInputError, match=r"^retry must be a RetryPolicy, got dict$"):
        retry_module.policy({"max_retries": 1})


# --- which waits a server may set -------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_retry_after_on_an_ambiguous_status_is_not_a_wait(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], status: int
) -> None:
    """Retry-After means something on 429 and 503 only: a safe call retried after a 5xx that
    carries one waits the policy's own short delay, not the header's 30 s."""
    policy = RetryPolicy(max_retries=1, initial_delay=0.001, max_delay=0.001, total_timeout=3)
    httpx_mock.add_response(
        method="GET", url=CLIENTS_URL, status_code=status, headers={"Retry-After": "30"}
    )
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[])
    async with asyncio.timeout(2):
        assert await make_dintero(retry=policy).clients.list() == []


async def test_a_wait_that_would_pass_the_deadline_is_not_started_and_is_logged(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(
        method="GET", url=CLIENTS_URL, status_code=429, headers={"Retry-After": "30"}
    )
    with pytest.raises(RateLimitError):
        await make_dintero(retry=RetryPolicy(total_timeout=5)).clients.list()
    not_retrying = [m for m in dintero_messages(caplog) if m.startswith("not retrying")]
    assert not_retrying == [
        f"not retrying: a 30.00s wait would pass the deadline; "
        f"HTTP 429 Too Many Requests from GET {LIST_PATH}"
    ]
    assert f"giving up after 0 retries: HTTP 429 Too Many Requests from GET {LIST_PATH}" in (
        dintero_messages(caplog)
    )


async def test_the_log_counts_retries_in_words(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], caplog: pytest.LogCaptureFixture
) -> None:
    policy = RetryPolicy(max_retries=1, initial_delay=0, max_delay=0, total_timeout=5)
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, status_code=503, is_reusable=True)
    with pytest.raises(InternalServerError):
        await make_dintero(retry=policy).clients.list()
    error = f"HTTP 503 Service Unavailable from GET {LIST_PATH}"
    messages = dintero_messages(caplog)
    assert f"retry 1 of 1 in 0.00s after {error}" in messages
    assert f"giving up after 1 retry: {error}" in messages


# --- "may have been processed" across attempts ------------------------------------------------


async def test_a_delete_that_may_have_been_processed_once_stays_so_after_a_refusal(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    """500 (maybe deleted), then 503 (refused, not processed), then 404: the first attempt
    deleted the client, so the delete succeeded."""
    policy = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.001, total_timeout=5)
    for status in (500, 503, 404):
        httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=status)
    dintero = make_dintero(retry=policy)
    assert await dintero.clients.delete(CLIENT_URL.rsplit("/", 1)[1]) is None
    assert len(httpx_mock.get_requests(method="DELETE")) == 3


async def test_a_safe_call_that_ran_out_of_time_in_flight_has_a_known_outcome(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        raise AssertionError("unreachable")

    httpx_mock.add_callback(hang, method="GET", url=CLIENTS_URL)
    policy = RetryPolicy(max_retries=0, total_timeout=0.1)
    with pytest.raises(APITimeoutError) as info:
        await make_dintero(retry=policy).clients.list()
    assert not info.value.outcome_unknown
    assert str(info.value) == f"GET {LIST_PATH}: total_timeout of 0.1s ran out"
    assert isinstance(info.value.__cause__, TimeoutError)


async def test_a_create_that_gave_up_after_an_ambiguous_failure_keeps_its_cause(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    cause = httpx.ReadError("connection reset")
    httpx_mock.add_exception(cause, url=CLIENTS_URL)
    with pytest.raises(APIConnectionError) as info:
        await dintero.clients.create()
    assert info.value.__cause__ is cause
    assert str(info.value).startswith(
        "POST /v1/accounts/T12345678/auth/clients: ReadError (https://api.dintero.com): "
        "connection reset "
        "The outcome is unknown: not retried, because "
    )


async def test_a_refused_create_is_retried_until_it_succeeds(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], caplog: pytest.LogCaptureFixture
) -> None:
    policy = RetryPolicy(max_retries=3, initial_delay=0.001, max_delay=0.001, total_timeout=5)
    for _ in range(3):
        httpx_mock.add_response(url=CLIENTS_URL, status_code=429, json=error_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    created = await make_dintero(retry=policy).clients.create()
    assert created.name == "pos"
    retries = [m for m in dintero_messages(caplog) if m.startswith("retry ")]
    assert [m.split(" in ")[0] for m in retries] == ["retry 1 of 3", "retry 2 of 3", "retry 3 of 3"]
    assert not any(r.levelno > logging.INFO for r in caplog.records if r.name == "dintero_aio")
