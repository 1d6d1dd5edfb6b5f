"""A first-in, first-out queue in front of httpx's connection pool.

httpcore's pool re-examines every waiting request whenever a connection changes state, so its cost
grows with the square of the requests waiting: 10,000 concurrent calls over loopback never
finished (raw httpx included) while the server sat idle. Here API requests wait in arrival order,
and at most as many are sent at once as the pool has connections, so the pool never builds a
queue of its own.

A request holds its slot until its response has been read or it failed. Waiting for a slot is
bounded by the request's `pool` timeout, as waiting inside the pool is, and ends with
`httpx.PoolTimeout` (the request was never sent, so a retry is safe); it also counts against the
call's deadline, since it happens inside the call. A request cancelled while it waits takes no
slot. Token requests do not queue (`calls.Caller.call`): a request that holds a slot may be
waiting for a token, and the token's request must not wait behind it.

Why in front of `http.send` and not a transport wrapper (issue 20 weighed both): httpx stops
reading the proxy variables once it is given a transport, so wrapping the default one would mean
mounting a wrapper per proxy ourselves, as `_http_client` has to for aiohttp; and the queue
protects httpcore's pool, which a user's own `transport=` does not have, so it is rightly left out
there.
"""

from __future__ import annotations

import asyncio
from time import monotonic

import httpx

from ._timeouts import wait_for_slot
from ._wire import STATE


class RequestQueue:
    """Requests in arrival order, at most `size` of them sent at once."""

    __slots__ = ("_slots",)

    def __init__(self, size: int) -> None:
        self._slots = asyncio.Semaphore(size)  # FIFO: a newcomer never overtakes a waiter

    async def send(
        self, http: httpx.AsyncClient, request: httpx.Request, auth: httpx.Auth | None
    ) -> httpx.Response:
        """`http.send(request)` once a slot is free."""
        if self._slots.locked():
            await self._wait(request)
        else:
            await self._slots.acquire()  # a slot is free: returns at once
        try:
            return await http.send(request, auth=auth or httpx.USE_CLIENT_DEFAULT)
        finally:
            self._slots.release()

    async def _wait(self, request: httpx.Request) -> None:
        """Wait for a slot, and tell the call's observer how long it waited (timed out too)."""
        state = request.extensions.get(STATE)  # None for a request sent without a call
        started = monotonic()
        try:
            await wait_for_slot(self._slots, request)
        finally:
            if state is not None:
                state.observed.waited("queue", monotonic() - started)
