"""`aclose()` at the edges: a caller's own cancellation wins, a closed client says so, and
`aclose()` waits for every call it stopped, nested ones included, and no longer."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import ClientClosedError, Dintero

from .conftest import CLIENTS_URL, TOKEN_URL, token_body


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


def hang_lists(httpx_mock: HTTPXMock) -> asyncio.Event:
    """Every list request hangs; the event is set once the first one has arrived."""
    arrived = asyncio.Event()

    async def hang(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    httpx_mock.add_callback(hang, method="GET", url=CLIENTS_URL, is_reusable=True)
    return arrived


async def test_a_call_its_caller_cancelled_stays_cancelled_when_aclose_comes_too(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    arrived = hang_lists(httpx_mock)
    call = asyncio.ensure_future(dintero.clients.list())
    await arrived.wait()
    call.cancel()  # the caller's own cancellation, then aclose() before the call has run again
    await dintero.aclose()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_aclose_stops_each_call_once_even_a_task_that_calls_again(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """A task that aclose() stopped and that then calls again gets ClientClosedError at once,
    and a later cancellation of that task by its owner is a plain cancellation."""
    arrived = hang_lists(httpx_mock)
    outcomes: list[str] = []
    retried = asyncio.Event()

    async def caller() -> None:
        for _ in range(2):
            try:
                await dintero.clients.list()
            except ClientClosedError as exc:
                outcomes.append(str(exc))
        retried.set()
        await asyncio.sleep(30)

    task = asyncio.ensure_future(caller())
    await arrived.wait()
    async with asyncio.timeout(5):
        await dintero.aclose()
        await retried.wait()
    assert outcomes == [
        "GET /v1/accounts/T12345678/auth/clients: the client was closed during the call",
        "this Dintero client is closed (aclose() was called)",
    ]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_aclose_waits_for_every_stopped_call_before_closing_the_pool(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    arrived = hang_lists(httpx_mock)
    unwound: list[str] = []

    async def call(i: int) -> None:
        try:
            await dintero.clients.list()
        except ClientClosedError:
            unwound.append(f"call {i}")

    async def nested() -> None:
        async def inner(_: object) -> None:
            await dintero.clients.list()

        try:
            await dintero._caller.run("outer", inner)
        except ClientClosedError:
            unwound.append("nested")

    tasks = [asyncio.ensure_future(call(i)) for i in range(3)]
    tasks.append(asyncio.ensure_future(nested()))
    await arrived.wait()
    while len(httpx_mock.get_requests(method="GET")) < 4:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    async with asyncio.timeout(5):
        await dintero.aclose()
    assert sorted(unwound) == ["call 0", "call 1", "call 2", "nested"]
    assert dintero._caller.http.is_closed
    await asyncio.gather(*tasks)


async def test_aclose_without_calls_under_way_returns_at_once(dintero: Dintero) -> None:
    async with asyncio.timeout(1):
        await dintero.aclose()
    with pytest.raises(ClientClosedError, match=r"^this Dintero client is closed; make a new one$"):
        async with dintero:
            pass
