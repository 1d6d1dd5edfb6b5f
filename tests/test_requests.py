"""The requests the SDK builds itself (calls.py) are the ones httpx's `build_request` would
build from the same client: same header lines in the same order, same body, same timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import Dintero, RetryPolicy
from dintero_aio._calls import Caller

from .conftest import ACCESS_TOKEN, ACCOUNT, CLIENTS_URL, TOKEN_URL, client_body, token_body

CLIENT_UUID = "5f0c1f7e-3b8a-4a5e-9f7d-000000000001"
GRANTS_URL = f"https://api.dintero.com/v1/accounts/{ACCOUNT}/auth/client-grants"


def lines(request: httpx.Request) -> list[tuple[str, str]]:
    return [
        (k.lower(), v) for k, v in request.headers.multi_items() if k.lower() != "authorization"
    ]


@pytest.mark.parametrize("base_url", ["https://api.dintero.com/v1", "http://127.0.0.1:8123/v1"])
async def test_a_create_is_the_request_build_request_would_make(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], base_url: str
) -> None:
    httpx_mock.add_response(url=f"{base_url}/accounts/{ACCOUNT}/auth/token", json=token_body())
    httpx_mock.add_response(
        url=f"{base_url}/accounts/{ACCOUNT}/auth/clients", method="POST", json=client_body()
    )
    dintero = make_dintero(
        base_url=base_url, timeout=httpx.Timeout(7.0, connect=2.0), retry=RetryPolicy()
    )
    await dintero.clients.create(name="pos", callbacks=["https://example.com/cb"])

    sent = httpx_mock.get_requests(method="POST")[-1]
    http = dintero._caller.http
    expected = http.build_request(
        "POST",
        f"{base_url}/accounts/{ACCOUNT}/auth/clients",
        json={"name": "pos", "callbacks": ["https://example.com/cb"]},
        timeout=httpx.Timeout(7.0, connect=2.0),
    )
    assert lines(sent) == lines(expected)
    assert sent.content == expected.content
    assert sent.extensions["timeout"] == expected.extensions["timeout"]
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_a_list_with_query_parameters_is_the_request_build_request_would_make(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(method="GET", json=[])
    dintero = make_dintero()
    await dintero.grants.list(client_id=CLIENT_UUID, audience="https://example.com/a")

    sent = httpx_mock.get_requests(method="GET")[-1]
    expected = dintero._caller.http.build_request(
        "GET", GRANTS_URL, params={"audience": "https://example.com/a", "client_id": CLIENT_UUID}
    )
    assert sent.url == expected.url
    assert lines(sent) == lines(expected)


async def test_an_operation_with_header_parameters_adds_them_to_the_request(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    """No operation in the spec has header parameters yet; one that does gets them sent."""

    class WithHeader:
        SUCCESS_STATUS = 200

        @staticmethod
        def build_request() -> dict[str, Any]:
            return {
                "method": "get",
                "url": "/accounts/T12345678/auth/clients",
                "headers": {"X-Trace": "abc"},
            }

        @staticmethod
        def parse_success(response: httpx.Response) -> Any:
            return response.json()

    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, method="GET", json=[])
    caller: Caller = make_dintero()._caller
    await caller.call(WithHeader, list[Any])
    sent = httpx_mock.get_requests(method="GET")[-1]
    assert sent.headers["x-trace"] == "abc"
    assert lines(sent)[: len(caller.headers)] == [
        (k.lower(), v) for k, v in caller.headers.multi_items()
    ]  # added to the client's headers, not instead of them
    assert "x-trace" not in caller.headers  # the shared headers were copied, not changed
