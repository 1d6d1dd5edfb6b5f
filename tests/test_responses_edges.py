"""What is read from a response: Retry-After as an HTTP-date in any zone, Dintero's error code and
message in whatever shape they come, and a 2xx that is not the spec's model."""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Callable

import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    BadRequestError,
    Dintero,
    MalformedResponseError,
    RateLimitError,
    RetryPolicy,
)

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, token_body

ONCE = RetryPolicy(max_retries=0, total_timeout=5)


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


def http_date(seconds_from_now: float, zone: datetime.tzinfo | None) -> str:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds_from_now)
    if zone is None:  # formatted with "-0000": a date whose zone is not given
        return email.utils.format_datetime(when.replace(tzinfo=None))
    return email.utils.format_datetime(when.astimezone(zone))


@pytest.mark.parametrize(
    "zone",
    [datetime.UTC, datetime.timezone(datetime.timedelta(hours=2)), None],
    ids=["GMT", "+0200", "no zone"],
)
async def test_retry_after_as_a_future_http_date_is_the_seconds_until_then(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], zone: datetime.tzinfo | None
) -> None:
    value = http_date(120, zone)
    httpx_mock.add_response(url=CLIENTS_URL, status_code=429, headers={"Retry-After": value})
    with pytest.raises(RateLimitError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert info.value.retry_after is not None
    assert 115 <= info.value.retry_after <= 121, value


async def test_retry_after_in_seconds_may_be_fractional_or_padded(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=429, headers={"Retry-After": " 2.5 "})
    with pytest.raises(RateLimitError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert info.value.retry_after == 2.5


async def test_a_429_without_retry_after_has_none(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=429)
    with pytest.raises(RateLimitError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert info.value.retry_after is None


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'\n  {"error": {"code": "bad", "message": "no"}}', "bad", "no"),
        (b'{"error": {"code": 42, "message": "no"}}', None, "no"),
        (b'{"error": {"code": "bad", "message": ["no"]}}', "bad", None),
        (json.dumps({"error": {"message": "m" * 600}}).encode(), None, "m" * 500),
    ],
    ids=["leading whitespace", "code not a string", "message not a string", "long message"],
)
async def test_dintero_s_error_code_and_message_are_read_defensively(
    httpx_mock: HTTPXMock,
    make_dintero: Callable[..., Dintero],
    body: bytes,
    code: str | None,
    message: str | None,
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=400, content=body)
    with pytest.raises(BadRequestError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert (info.value.code, info.value.message) == (code, message)
    path = "/v1/accounts/T12345678/auth/clients"
    expected = f"HTTP 400 Bad Request from GET {path}"
    if code:
        expected += f" [{code}]"
    if message:
        expected += f": {message}"
    assert str(info.value) == expected


async def test_a_2xx_status_the_spec_does_not_list_is_malformed_not_none(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=202, json=client_body())
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.create()
    assert str(info.value).startswith(
        "202 response to POST /v1/accounts/T12345678/auth/clients is not the 200 the spec promises"
    )


@pytest.mark.parametrize(
    "fields",
    [{"name": 42}, {"client_id": ["pos-1"]}, {"callbacks": ["https://x", 3]}],
    ids=["name", "client_id", "a callback"],
)
async def test_one_mistyped_field_of_a_listed_client_makes_the_list_malformed(
    httpx_mock: HTTPXMock, dintero: Dintero, fields: dict[str, object]
) -> None:
    good = client_body()
    bad = client_body(**fields)
    for body in (good, bad):
        del body["client_secret"]
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[good, bad])
    with pytest.raises(MalformedResponseError, match="a missing or mistyped field"):
        await dintero.clients.list()


async def test_a_list_body_may_start_with_whitespace(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, content=b"\n  []")
    assert await dintero.clients.list() == []


async def test_a_list_body_that_is_not_an_array_says_so(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json={"clients": []})
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.list()
    assert str(info.value) == "expected a JSON array from Dintero"
    assert info.value.response.json() == {"clients": []}
