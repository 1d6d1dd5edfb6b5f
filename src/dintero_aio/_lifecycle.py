"""Whose event loop a `Dintero` instance belongs to, whether it is closed, and its calls under way.

`aclose()` must not leave a call hanging, failing with an unrelated error, or holding a socket:
it cancels every call under way (each then ends with `ClientClosedError`, see `_calls.Caller`),
waits for them to unwind — only that long — and then the connection pool is closed with nothing
left in it. Cancellation is asyncio's own way to stop a task at whatever it awaits, and httpcore
closes a connection whose request was cancelled, so no socket outlives `aclose()`.
"""

from __future__ import annotations

import asyncio

from ._errors import ClientClosedError, EventLoopError

_CLOSING = "dintero-aio: the client is being closed"


class Lifecycle:
    def __init__(self) -> None:
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._calls: dict[asyncio.Task[object], int] = {}  # task -> calls it is inside
        self._cancelled: set[asyncio.Task[object]] = set()
        #: Set once no call is under way but in the closers' own tasks.
        self._idle: asyncio.Event | None = None
        self._closers: set[asyncio.Task[object] | None] = set()

    def enter(self) -> asyncio.Task[object]:
        """Register a call of the current task; raise if the instance cannot serve it."""
        task = asyncio.current_task()
        assert task is not None  # an awaited coroutine runs in a task
        loop = task.get_loop()
        if loop is not self._loop:
            if self._loop is not None:
                raise EventLoopError(
                    "this Dintero instance belongs to the event loop it first ran on (its "
                    "connections do too); make one instance per asyncio.run()"
                )
            self._loop = loop
        if self.closed:
            raise ClientClosedError("this Dintero client is closed (aclose() was called)")
        self._calls[task] = self._calls.get(task, 0) + 1
        return task

    def leave(self, task: asyncio.Task[object]) -> None:
        count = self._calls.pop(task) - 1
        if count:
            self._calls[task] = count
        self._check_idle()

    def stopped_by_close(self, task: asyncio.Task[object]) -> bool:
        """For a call that got CancelledError: True if `close()` alone cancelled it (the
        cancellation is then taken back and the call ends with ClientClosedError)."""
        if task not in self._cancelled:
            return False
        self._cancelled.discard(task)
        return task.uncancel() == 0

    async def close(self) -> None:
        """Refuse new calls, cancel those under way and wait until they have ended.

        Any number of closers may overlap (a shutdown handler's `aclose()` while `async with`
        exits): the first cancels the calls, once; every closer waits for the same moment."""
        self.closed = True
        self._closers.add(asyncio.current_task())
        if self._idle is None:
            self._idle = asyncio.Event()
            for task in self._calls:
                if task not in self._closers and task.cancel(_CLOSING):
                    self._cancelled.add(task)
        self._check_idle()
        await self._idle.wait()

    def _check_idle(self) -> None:
        if self._idle is not None and self._calls.keys() <= self._closers:
            self._idle.set()
