"""list, get, delete and rotate-secret: requests, results and each retry class."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    APIConnectionError,
    ClientInfo,
    ClientWithSecret,
    Dintero,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
)

from .conftest import CLIENTS_URL, CREATED_SECRET, TOKEN_URL, client_body, error_body, token_body

CLIENT_UUID = uuid.UUID("6f1c2a4e-8a9b-4c3d-9e8f-0123456789ab")
CLIENT_URL = f"{CLIENTS_URL}/{CLIENT_UUID}"
ROTATE_URL = f"{CLIENT_URL}/rotate-secret"


def info_body(**fields: object) -> dict[str, object]:
    body = client_body(id=str(CLIENT_UUID), **fields)
    del body["client_secret"]
    return body


def fail_first(httpx_mock: HTTPXMock, method: str, url: str, first: Exception | int) -> None:
    """The first attempt fails with `first`: an httpx exception, or a status."""
    if isinstance(first, Exception):
        httpx_mock.add_exception(first, method=method, url=url)
    else:
        httpx_mock.add_response(method=method, url=url, status_code=first)


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


async def test_list(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(
        method="GET", url=CLIENTS_URL, json=[info_body(), info_body(name="other")]
    )
    clients = await dintero.clients.list()
    assert [c.name for c in clients] == ["pos", "other"]
    assert all(type(c) is ClientInfo for c in clients)


async def test_empty_list(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[])
    assert await dintero.clients.list() == []


@pytest.mark.parametrize("body", [b"{}", b'{"items": []}', b'"[]"', b"null", b"[{}]", b"[1]"])
async def test_list_body_that_is_not_an_array_of_clients(
    httpx_mock: HTTPXMock, dintero: Dintero, body: bytes
) -> None:
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, content=body)
    with pytest.raises(MalformedResponseError):
        await dintero.clients.list()


@pytest.mark.parametrize(
    "given", [CLIENT_UUID, str(CLIENT_UUID), str(CLIENT_UUID).upper(), CLIENT_UUID.hex]
)
async def test_get_sends_the_canonical_uuid(
    httpx_mock: HTTPXMock, dintero: Dintero, given: uuid.UUID | str
) -> None:
    httpx_mock.add_response(method="GET", url=CLIENT_URL, json=info_body())
    client = await dintero.clients.get(given)
    assert client.id == CLIENT_UUID


async def test_get_missing_client(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(method="GET", url=CLIENT_URL, status_code=404, json=error_body())
    with pytest.raises(NotFoundError):
        await dintero.clients.get(CLIENT_UUID)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_reads_and_delete_are_retried_after_ambiguous_failures(
    httpx_mock: HTTPXMock, dintero: Dintero, method: str
) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), method=method, url=CLIENT_URL)
    httpx_mock.add_response(method=method, url=CLIENT_URL, status_code=502, json=error_body())
    httpx_mock.add_response(method=method, url=CLIENT_URL, json=info_body())
    call = dintero.clients.get if method == "GET" else dintero.clients.delete
    await call(CLIENT_UUID)
    assert len(httpx_mock.get_requests(method=method, url=CLIENT_URL)) == 3


async def test_delete(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(
        method="DELETE", url=CLIENT_URL, json=info_body(deleted_at="2026-11-29T12:00:00Z")
    )
    assert await dintero.clients.delete(CLIENT_UUID) is None


async def test_delete_404_on_the_first_attempt_is_not_found(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=404, json=error_body())
    with pytest.raises(NotFoundError):
        await dintero.clients.delete(CLIENT_UUID)


@pytest.mark.parametrize(
    "first",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        500,
        502,
        504,
    ],
    ids=str,
)
async def test_delete_404_after_a_maybe_processed_attempt_means_deleted(
    httpx_mock: HTTPXMock, dintero: Dintero, first: Exception | int
) -> None:
    fail_first(httpx_mock, "DELETE", CLIENT_URL, first)
    httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=404, json=error_body())
    assert await dintero.clients.delete(CLIENT_UUID) is None
    assert len(httpx_mock.get_requests(url=CLIENT_URL)) == 2


@pytest.mark.parametrize(
    "first", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), 429, 503], ids=str
)
async def test_delete_404_after_only_unprocessed_failures_is_not_found(
    httpx_mock: HTTPXMock, dintero: Dintero, first: Exception | int
) -> None:
    fail_first(httpx_mock, "DELETE", CLIENT_URL, first)
    httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=404, json=error_body())
    with pytest.raises(NotFoundError):
        await dintero.clients.delete(CLIENT_UUID)


async def test_rotate_secret(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(method="POST", url=ROTATE_URL, json=client_body(id=str(CLIENT_UUID)))
    rotated = await dintero.clients.rotate_secret(str(CLIENT_UUID))
    assert type(rotated) is ClientWithSecret
    assert rotated.client_secret == CREATED_SECRET
    assert CREATED_SECRET not in repr(rotated)
    assert httpx_mock.get_requests(url=ROTATE_URL)[0].content == b""


@pytest.mark.parametrize("first", [httpx.ConnectError("refused"), 429, 503], ids=str)
async def test_rotate_is_retried_when_provably_unprocessed(
    httpx_mock: HTTPXMock, dintero: Dintero, first: Exception | int
) -> None:
    fail_first(httpx_mock, "POST", ROTATE_URL, first)
    httpx_mock.add_response(url=ROTATE_URL, json=client_body(id=str(CLIENT_UUID)))
    await dintero.clients.rotate_secret(CLIENT_UUID)
    assert len(httpx_mock.get_requests(url=ROTATE_URL)) == 2


@pytest.mark.parametrize(
    ("first", "error"),
    [
        (httpx.ReadTimeout("slow"), APIConnectionError),
        (httpx.RemoteProtocolError("dropped"), APIConnectionError),
        (500, InternalServerError),
        (504, InternalServerError),
    ],
    ids=str,
)
async def test_rotate_is_not_retried_after_ambiguous_failures(
    httpx_mock: HTTPXMock, dintero: Dintero, first: Exception | int, error: type[Exception]
) -> None:
    fail_first(httpx_mock, "POST", ROTATE_URL, first)
    with pytest.raises(error) as info:
        await dintero.clients.rotate_secret(CLIENT_UUID)
    assert len(httpx_mock.get_requests(url=ROTATE_URL)) == 1
    assert "outcome is unknown" in str(info.value)
    assert "second rotation would invalidate" in str(info.value)
