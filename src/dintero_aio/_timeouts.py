"""The calls' total deadlines, kept with one event-loop timer per 1/64 s slot.

`asyncio.timeout_at` schedules and cancels one timer per call. That was a twentieth of a call's
instructions, and more with many calls under way: the loop keeps its timers in a heap ordered by a
Python-level comparison, so each call paid for every other call's timer too. Here every deadline
that falls in the same 1/64 s slot shares one timer, and starting or ending a deadline is a dict
lookup and a set update; a timer whose calls have all ended simply finds nothing to do. The
price is that a call times out up to 1/64 s after its deadline, which a total timeout counted in
seconds does not notice.

Otherwise it behaves as `asyncio.timeout_at`: when the deadline passes, the task is cancelled,
and if nothing else cancelled it meanwhile, the `CancelledError` leaves the block as
`TimeoutError`. No library keeps shared timers like this, hence these lines.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

_SLOTS_PER_SECOND = 64


class Deadlines:
    """The deadlines of one event loop's calls (a `Dintero` instance is bound to one loop)."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        self._slots: dict[int, set[Deadline]] = {}

    def at(
        self, when: float, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop
    ) -> Deadline:
        """A context manager that cancels `task` (the current one) at `loop` time `when`."""
        return Deadline(self, when, task, loop)

    def _expire(self, slot: int) -> None:
        for deadline in self._slots.pop(slot):  # one timer per slot: it is there
            deadline.expired = True
            deadline.task.cancel()


class Deadline:
    __slots__ = ("_cancelling", "_deadlines", "_loop", "_slot", "_when", "expired", "task")

    def __init__(
        self,
        deadlines: Deadlines,
        when: float,
        task: asyncio.Task[object],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._deadlines = deadlines
        self._when = when
        self._loop = loop
        self.task = task
        self.expired = False

    def __enter__(self) -> None:
        self._cancelling = self.task.cancelling()
        self._slot = slot = math.ceil(self._when * _SLOTS_PER_SECOND)
        slots = self._deadlines._slots
        members = slots.get(slot)
        if members is None:
            members = slots[slot] = set()
            self._loop.call_at(slot / _SLOTS_PER_SECOND, self._deadlines._expire, slot)
        members.add(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        members = self._deadlines._slots.get(self._slot)
        if members is not None:  # None: the slot's timer has fired
            members.discard(self)
        # As asyncio.Timeout: take back our cancellation; if no other is pending, it was ours.
        if (
            self.expired
            and self.task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
