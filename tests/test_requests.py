"""The requests the SDK builds itself (calls.py) are the ones httpx's `build_request` would
build from the same client: same header lines in the same order, same body, same timeouts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import Dintero, RetryPolicy, UnexpectedError
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


class _Listing:
    """A stand-in for a generated operation module, with the contract `_responses.Operation`."""

    __name__ = "fake_operation"
    SUCCESS_STATUS = 200

    @staticmethod
    def build_request() -> dict[str, Any]:
        return {"method": "get", "url": "/accounts/T12345678/auth/clients"}

    @staticmethod
    def parse_success(response: httpx.Response) -> Any:
        return response.json()


@pytest.mark.parametrize("parsed", [None, {"a": "dict"}, "text"], ids=["None", "dict", "str"])
async def test_a_parser_that_breaks_its_contract_is_our_bug_not_dintero_s(
    httpx_mock: HTTPXMock,
    make_dintero: Callable[..., Dintero],
    parsed: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A 2xx that the generated parser turns into nothing, or into another type, is an
    UnexpectedError (logged as a bug), never a MalformedResponseError blamed on Dintero. Dintero
    did answer 2xx, so a create's outcome stays unknown to the caller."""

    class Broken(_Listing):
        @staticmethod
        def parse_success(response: httpx.Response) -> Any:
            return parsed

    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, method="GET", json=[])
    caller: Caller = make_dintero()._caller
    with pytest.raises(UnexpectedError) as info:
        await caller.call(Broken, list[Any], duplicate_risk="a duplicate")
    bugs = [r.levelname for r in caplog.records if r.name == "dintero_aio"]
    caplog.clear()  # this ERROR record is the point of the test
    assert bugs[-1] == "ERROR"
    assert "unexpected BrokenContract" in str(info.value)
    assert info.value.outcome_unknown


async def test_a_request_builder_whose_signature_changed_is_our_bug(
    make_dintero: Callable[..., Dintero], caplog: pytest.LogCaptureFixture
) -> None:
    """The request is built inside the boundary: a TypeError from a changed signature is an
    UnexpectedError, and nothing is sent."""
    caller: Caller = make_dintero()._caller
    with pytest.raises(UnexpectedError) as info:
        await caller.call(_Listing, list[Any], "an argument it no longer takes")
    caplog.clear()  # the ERROR record is the point of the test
    assert "unexpected TypeError" in str(info.value)
