"""A refused 2xx body still leaves its evidence: status, response headers, method and URL."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from dintero_aio import (
    Dintero,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    ResponseTooLargeError,
    RetryPolicy,
)

from .conftest import CLIENTS_URL, TOKEN_URL, token_body

HEADERS = {"X-Request-Id": "req-7", "Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


def assert_evidence(error: MalformedResponseError, status: int) -> None:
    evidence = error.response
    assert evidence.status_code == status
    assert evidence.headers["x-request-id"] == "req-7"
    assert evidence.request.method == "GET"
    assert evidence.request.url == CLIENTS_URL
    assert "authorization" not in evidence.request.headers


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "in-memory"])
async def test_a_body_past_the_limit_is_refused_with_its_evidence(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], streamed: bool
) -> None:
    body = b"[" + b" " * 2000 + b"]"
    if streamed:
        httpx_mock.add_response(
            url=CLIENTS_URL, status_code=203, headers=HEADERS, stream=IteratorStream([body])
        )
    else:
        httpx_mock.add_response(url=CLIENTS_URL, status_code=203, headers=HEADERS, content=body)
    with pytest.raises(ResponseTooLargeError) as info:
        await make_dintero(max_response_bytes=1000).clients.list()
    assert str(info.value) == (
        "203 response from Dintero refused: its body is longer than 1000 bytes "
        "(raise max_response_bytes if such answers are expected)"
    )
    assert_evidence(info.value, 203)


async def test_a_body_of_exactly_the_limit_is_read(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    body = b"[" + b" " * 998 + b"]"
    httpx_mock.add_response(url=CLIENTS_URL, stream=IteratorStream([body[:500], body[500:]]))
    assert await make_dintero(max_response_bytes=1000).clients.list() == []


async def test_a_2xx_body_that_cannot_be_decoded_is_malformed_with_its_evidence(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    headers = {**HEADERS, "Content-Encoding": "gzip"}
    httpx_mock.add_response(
        url=CLIENTS_URL, headers=headers, stream=IteratorStream([b"not gzip at all"])
    )
    with pytest.raises(MalformedResponseError) as info:
        await make_dintero().clients.list()
    assert type(info.value) is MalformedResponseError
    assert str(info.value) == (
        "200 response from Dintero refused: its Content-Encoding could not be decoded"
    )
    assert_evidence(info.value, 200)
    assert "content-encoding" not in info.value.response.headers


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", "gzip, identity", "deflate"])
async def test_encoded_bodies_are_decoded(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], encoding: str
) -> None:
    body = b"[]"
    encoded = gzip.compress(body)  # deflate accepts zlib or gzip framing
    chunks = [encoded[:5], encoded[5:]]
    headers = {"Content-Encoding": encoding}
    httpx_mock.add_response(url=CLIENTS_URL, headers=headers, stream=IteratorStream(chunks))
    assert await make_dintero().clients.list() == []


async def test_an_error_body_that_cannot_be_decoded_still_gives_the_status_error(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    headers = {**HEADERS, "Content-Encoding": "gzip"}
    httpx_mock.add_response(
        url=CLIENTS_URL,
        status_code=500,
        headers=headers,
        stream=IteratorStream([b"not gzip", b" at all"]),
    )
    with pytest.raises(InternalServerError) as info:
        await make_dintero(retry=RetryPolicy(max_retries=0)).clients.list()
    assert info.value.response.content == b""  # the undecodable evidence ends where it broke
    assert info.value.response.headers["x-request-id"] == "req-7"


async def test_a_body_encoded_twice_is_decoded_twice(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    twice = gzip.compress(gzip.compress(b"[]"))
    headers = {"Content-Encoding": "gzip, gzip"}
    httpx_mock.add_response(url=CLIENTS_URL, headers=headers, stream=IteratorStream([twice]))
    assert await make_dintero().clients.list() == []


@pytest.mark.parametrize(("status", "size"), [(200, 1001), (200, 1000), (404, 1001)])
async def test_a_transport_that_read_the_body_already_is_held_to_the_limit_too(
    make_dintero: Callable[..., Dintero], status: int, size: int
) -> None:
    """An in-memory transport (httpx.MockTransport) hands over a body it has read already."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=token_body())
        return httpx.Response(status, content=b"[" + b" " * (size - 2) + b"]")

    dintero = make_dintero(transport=httpx.MockTransport(handler), max_response_bytes=1000)
    if status == 404:
        with pytest.raises(NotFoundError):
            await dintero.clients.list()
    elif size > 1000:
        with pytest.raises(ResponseTooLargeError) as info:
            await dintero.clients.list()
        assert str(info.value).startswith(
            "200 response from Dintero refused: its body is longer than 1000 bytes"
        )
        assert info.value.response.request.url.path.endswith("/auth/clients")
    else:
        assert await dintero.clients.list() == []
