"""Typed errors for every status, and MalformedResponseError for 2xx bodies off the spec."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

import dintero_aio
from dintero_aio import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Dintero,
    DinteroError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, error_body, token_body


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequestError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (302, APIStatusError),
        (418, APIStatusError),
        (409, APIStatusError),
        (501, InternalServerError),
        (599, InternalServerError),
    ],
)
async def test_status_maps_to_its_error_class(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int, error: type[APIStatusError]
) -> None:
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=status, json=error_body("it broke", "the_code")
    )

    with pytest.raises(error) as info:
        await dintero.clients.create()

    assert type(info.value) is error
    assert info.value.status_code == status
    assert info.value.code == "the_code"
    assert info.value.message == "it broke"
    assert info.value.response.status_code == status
    assert f"HTTP {status}" in str(info.value)
    assert "it broke" in str(info.value)
    assert info.value.retry_after is None  # no Retry-After was sent


def test_an_error_built_by_hand_has_no_retry_after() -> None:
    """Users raise SDK errors in their own tests: one built by hand says that no usable
    Retry-After was sent, as one from a response without the header does."""
    response = httpx.Response(429, request=httpx.Request("GET", CLIENTS_URL))
    error = RateLimitError("slow down", response=response, code=None, api_message=None)
    assert (error.status_code, error.retry_after) == (429, None)


async def test_rate_limit_error_carries_retry_after(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=dintero_aio.RetryPolicy(max_retries=0))
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=429, headers={"Retry-After": "7"}, json=error_body()
    )
    with pytest.raises(RateLimitError) as info:
        await dintero.clients.create()
    assert info.value.retry_after == 7.0


async def test_401_twice_is_authentication_error(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body(), is_reusable=True)
    with pytest.raises(AuthenticationError):
        await dintero.clients.create()


@pytest.mark.parametrize(
    "body",
    [b"", b"<html>oops</html>", b"not json", b'{"error": "flat"}', b"[1, 2]", b"\xff\xfe"],
)
async def test_error_bodies_of_any_shape_still_give_a_typed_error(
    httpx_mock: HTTPXMock, dintero: Dintero, body: bytes
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=400, content=body)
    with pytest.raises(BadRequestError) as info:
        await dintero.clients.create()
    assert info.value.code is None
    assert info.value.message is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json at all", "not JSON"),
        (b'{"id": "6f1c', "truncated"),
        (json.dumps([client_body()]).encode(), "a JSON array"),
        (b"null", "null"),
        (json.dumps({"client_secret": "x"}).encode(), "missing id"),
        (json.dumps(client_body(client_secret=None)).encode(), "null secret"),
        (
            json.dumps({k: v for k, v in client_body().items() if k != "client_secret"}).encode(),
            "no secret",
        ),
        (json.dumps(client_body(id="not-a-uuid")).encode(), "bad uuid"),
        (json.dumps(client_body(id=123)).encode(), "uuid of wrong type"),
        (json.dumps(client_body(name=42)).encode(), "name of wrong type"),
        (json.dumps(client_body(callbacks="https://x")).encode(), "callbacks not a list"),
        (json.dumps(client_body(callbacks=[1])).encode(), "callback not a string"),
        (json.dumps(client_body(created_at="yesterday")).encode(), "bad date-time"),
        (json.dumps(client_body(created_at=5)).encode(), "date-time of wrong type"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_malformed_success_body_is_malformed_response_error(
    httpx_mock: HTTPXMock, dintero: Dintero, body: bytes, why: str
) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, content=body)
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.create()
    evidence = info.value.response.content
    assert evidence == re.sub(rb'("client_secret": )"[^"]*"', rb'\1"**********"', body)
    assert info.value.outcome_unknown  # a 2xx: the client was made, its secret is unreadable
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 1  # never retried


async def test_parser_failure_is_named_not_chained(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    # The parser's own exception can quote a value of a body that holds a secret.
    httpx_mock.add_response(url=CLIENTS_URL, json={"client_secret": "x"})
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.create()
    assert "KeyError 'id'" in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    "token",
    [
        {"access_token": "a", "token_type": "Bearer"},
        {"access_token": "a", "token_type": "Mac", "expires_in": 60},
        {"access_token": 5, "token_type": "Bearer", "expires_in": 60},
        {"access_token": "a", "token_type": "Bearer", "expires_in": "60"},
        {"access_token": "a", "token_type": "Bearer", "expires_in": True},
        ["a"],
    ],
)
async def test_malformed_token_response(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], token: object
) -> None:
    dintero = make_dintero()
    httpx_mock.reset()
    httpx_mock.add_response(url=TOKEN_URL, json=token)
    with pytest.raises(MalformedResponseError):
        await dintero.clients.create()
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []


async def test_unexpected_2xx_status_is_malformed(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=CLIENTS_URL, status_code=201, json=client_body())
    with pytest.raises(MalformedResponseError, match="201"):
        await dintero.clients.create()


def test_every_error_is_a_dintero_error() -> None:
    for name in dintero_aio.__all__:
        value = getattr(dintero_aio, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, DinteroError), name
    assert issubclass(dintero_aio.APITimeoutError, dintero_aio.APIConnectionError)
    assert issubclass(dintero_aio.InvalidInputError, ValueError)


async def test_connection_error_is_chained_to_the_httpx_error(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=dintero_aio.RetryPolicy(max_retries=0))
    cause = httpx.ConnectError("refused")
    httpx_mock.add_exception(cause, url=CLIENTS_URL)
    with pytest.raises(dintero_aio.APIConnectionError) as info:
        await dintero.clients.create()
    assert info.value.__cause__ is cause
