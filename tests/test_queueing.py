"""The FIFO queue in front of the connection pool: order, bound, cancellation, pool timeout,
and that token requests never wait behind the calls that need the token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import APITimeoutError, Dintero, RetryPolicy
from dintero_aio._http_client import MAX_CONNECTIONS
from dintero_aio._queue import RequestQueue as Queue

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, token_body


class Held:
    """A stand-in for `httpx.AsyncClient.send` that holds every request until released."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.running = 0
        self.most = 0
        self.gates: dict[str, asyncio.Event] = {}

    async def send(self, request: httpx.Request, auth: object = None) -> httpx.Response:
        name = request.url.path
        self.order.append(name)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.gates.setdefault(name, asyncio.Event()).wait()
        finally:
            self.running -= 1
        return httpx.Response(200, request=request)

    def release(self, name: str) -> None:
        self.gates.setdefault(name, asyncio.Event()).set()


def request(name: str, pool: float | None = 30.0) -> httpx.Request:
    timeout = httpx.Timeout(30.0, pool=pool).as_dict()
    return httpx.Request("GET", f"https://example.com/{name}", extensions={"timeout": timeout})


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_reach_the_pool_in_arrival_order_and_never_more_than_the_slots() -> None:
    held, queue = Held(), Queue(2)
    names = [f"r{i}" for i in range(6)]
    tasks = [asyncio.create_task(queue.send(held, request(n), None)) for n in names]
    await settle()
    assert held.order == ["/r0", "/r1"]
    for name in ("r1", "r0", "r3", "r2", "r5", "r4"):  # released out of order
        held.release(f"/{name}")
        await settle()
    await asyncio.gather(*tasks)
    assert held.order == [f"/{n}" for n in names]
    assert held.most == 2


async def test_a_request_cancelled_while_waiting_takes_no_slot() -> None:
    held, queue = Held(), Queue(1)
    first = asyncio.create_task(queue.send(held, request("a"), None))
    waiting = asyncio.create_task(queue.send(held, request("b"), None))
    last = asyncio.create_task(queue.send(held, request("c"), None))
    await settle()
    waiting.cancel()
    held.release("/a")
    held.release("/c")
    await asyncio.gather(first, last)
    assert waiting.cancelled()
    assert held.order == ["/a", "/c"]
    # Every slot came back: the next request is sent at once.
    held.release("/d")
    await asyncio.wait_for(queue.send(held, request("d"), None), 1)


async def test_a_failed_or_cancelled_send_gives_its_slot_back() -> None:
    class Failing(Held):
        async def send(self, request: httpx.Request, auth: object = None) -> httpx.Response:
            raise httpx.ConnectError("refused", request=request)

    queue = Queue(1)
    for _ in range(3):
        with pytest.raises(httpx.ConnectError):
            await queue.send(Failing(), request("x"), None)
    held = Held()
    stuck = asyncio.create_task(queue.send(held, request("y"), None))
    await settle()
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)
    held.release("/z")
    await asyncio.wait_for(queue.send(held, request("z"), None), 1)


async def test_waiting_longer_than_the_pool_timeout_is_a_pool_timeout() -> None:
    held, queue = Held(), Queue(1)
    first = asyncio.create_task(queue.send(held, request("a"), None))
    await settle()
    loop = asyncio.get_running_loop()
    started = loop.time()
    late = request("b", pool=0.05)
    with pytest.raises(httpx.PoolTimeout, match=r"pool timeout of 0\.05s") as info:
        await queue.send(held, late, None)
    assert info.value.request is late  # what _redact.error strips the credentials from
    assert 0.04 < loop.time() - started < 1
    assert held.order == ["/a"]  # never sent
    held.release("/a")
    await first


async def test_the_sdk_sends_at_most_the_pool_size_at_once_and_a_pool_timeout_is_retried(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a transport of the user's, the SDK queues; a create that timed out in the queue
    was never sent, so it is retried even though creates are not retried after a send."""
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    gate = asyncio.Event()
    running = most = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        running -= 1
        return httpx.Response(200, json=client_body())

    httpx_mock.add_callback(slow, url=CLIENTS_URL, method="POST", is_reusable=True)
    policy = RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.01, total_timeout=5)
    dintero = make_dintero(retry=policy, timeout=httpx.Timeout(5.0, pool=0.05))
    calls = [asyncio.create_task(dintero.clients.create()) for _ in range(MAX_CONNECTIONS + 5)]
    await asyncio.sleep(0.3)  # the 5 over the pool size time out twice in the queue
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert most == MAX_CONNECTIONS
    timed_out = [r for r in results if isinstance(r, APITimeoutError)]
    assert len(timed_out) == 5
    assert all("PoolTimeout" in str(e) and not e.outcome_unknown for e in timed_out)
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == MAX_CONNECTIONS


async def test_a_transport_of_the_users_is_not_queued(make_dintero: Callable[..., Dintero]) -> None:
    seen = 0
    gate = asyncio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=token_body())
        seen += 1
        await gate.wait()
        return httpx.Response(200, json=[])

    dintero = make_dintero(transport=httpx.MockTransport(answer))
    calls = [asyncio.create_task(dintero.clients.list()) for _ in range(MAX_CONNECTIONS * 2)]
    # Every request reaches the transport while none has an answer; a queue would hold back
    # all but MAX_CONNECTIONS for good. (Polled: a fixed 0.1 s wait failed on a loaded machine.)
    for _ in range(500):
        if seen == MAX_CONNECTIONS * 2:
            break
        await asyncio.sleep(0.01)
    assert seen == MAX_CONNECTIONS * 2
    gate.set()
    await asyncio.gather(*calls)
