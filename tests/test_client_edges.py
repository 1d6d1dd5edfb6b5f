"""`Dintero` at the edges: what a view keeps and what it overrides, the environment's message,
the token check's name in errors, and what the token cache says of itself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    ClientClosedError,
    Dintero,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    RetryPolicy,
)

from .conftest import BASE_URL, CLIENTS_URL, TOKEN_URL, token_body

NO_RETRY = RetryPolicy(max_retries=0, total_timeout=5)


def record_timeouts(httpx_mock: HTTPXMock) -> list[dict[str, float | None]]:
    seen: list[dict[str, float | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, json=[])

    httpx_mock.add_callback(record, method="GET", url=CLIENTS_URL, is_reusable=True)
    return seen


async def test_a_view_with_only_a_timeout_keeps_the_retry_policy(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, status_code=503, is_reusable=True)
    view = make_dintero(retry=NO_RETRY).with_options(timeout=3)
    with pytest.raises(InternalServerError):
        await view.clients.list()
    assert len(httpx_mock.get_requests(method="GET")) == 1  # max_retries=0 still holds


async def test_a_view_with_only_a_retry_policy_keeps_the_timeout_and_one_with_a_timeout_sets_it(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    seen = record_timeouts(httpx_mock)
    dintero = make_dintero(timeout=7.0)
    await dintero.with_options(retry=RetryPolicy(total_timeout=60)).clients.list()
    await dintero.with_options(timeout=3.0, retry=RetryPolicy(total_timeout=60)).clients.list()
    assert [phases["read"] for phases in seen] == [7.0, 3.0]


async def test_a_view_s_grants_use_the_view_s_policy(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(method="GET", status_code=503, is_reusable=True)
    view = make_dintero().with_options(retry=NO_RETRY)
    with pytest.raises(InternalServerError) as info:
        await view.grants.list()
    assert info.value.response.request.url.path == "/v1/accounts/T12345678/auth/client-grants"
    assert len(httpx_mock.get_requests(method="GET")) == 1


def test_from_env_names_the_missing_variables_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DINTERO_CLIENT_ID", "someone")
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env()
    assert str(info.value) == (
        "environment variable(s) not set: DINTERO_ACCOUNT_ID, DINTERO_CLIENT_SECRET"
    )


async def test_the_token_check_is_named_in_its_errors(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    never = asyncio.Event()

    async def token_endpoint(request: httpx.Request) -> httpx.Response:
        await never.wait()
        raise AssertionError("unreachable")

    httpx_mock.add_callback(token_endpoint, url=TOKEN_URL, is_optional=True)
    check = asyncio.ensure_future(dintero.verify_credentials())
    await asyncio.sleep(0.02)
    await dintero.aclose()
    with pytest.raises(ClientClosedError) as info:
        await check
    assert str(info.value) == "token check: the client was closed during the call"


async def test_the_token_cache_says_when_its_token_is_due_and_nothing_else(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    assert repr(dintero._tokens) == "<Tokens empty>"
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(expires_in=3600))
    assert await dintero.verify_credentials() == 3600
    assert repr(dintero._tokens) in (
        "<Tokens token refresh due in 3540s>",
        "<Tokens token refresh due in 3539s>",
    )


async def test_an_exchange_token_that_cannot_be_a_header_is_malformed(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    partner = make_dintero(account_id="P00000001")
    httpx_mock.add_response(url=f"{BASE_URL}/accounts/P00000001/auth/token", json=token_body())
    httpx_mock.add_response(
        url=f"{BASE_URL}/accounts/P00000001/auth/exchange_token",
        json=token_body("merchant\r\ntoken"),
    )
    with pytest.raises(MalformedResponseError, match="cannot be sent in a header"):
        await partner.for_account("T00000002").clients.list()
    assert httpx_mock.get_requests(url=f"{BASE_URL}/accounts/T00000002/auth/clients") == []
