"""Every time limit of a call: the settings, each attempt's phases, the call's total deadline and
the wait for a queue slot.

A call has two kinds of limit. Each attempt has per-phase timeouts (connect, read, write, pool:
`timeout=`), which httpx enforces from the request's `timeout` extension; no phase may outlast the
call's deadline, so they are cut to the time left (`PerAttempt.within`). The whole call, attempts
and waits together, has a deadline (`RetryPolicy.total_timeout`), kept by `Deadlines`.

`asyncio.timeout_at` schedules and cancels one timer per call. That was a twentieth of a call's
instructions, and more with many calls under way: the loop keeps its timers in a heap ordered by a
Python-level comparison, so each call paid for every other call's timer too. Here every deadline
that falls in the same 1/64 s slot shares one timer, and starting or ending a deadline is a dict
lookup and a set update; the last deadline to leave a slot cancels its timer, so a finished call
leaves nothing scheduled. The price is that a call times out up to 1/64 s after its deadline,
which a total timeout counted in seconds does not notice. Otherwise it behaves as
`asyncio.timeout_at`: when the deadline passes, the task is cancelled, and if nothing else
cancelled it meanwhile, the `CancelledError` leaves the block as `TimeoutError`. No library keeps
shared timers like this, hence these lines.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

import httpx

from ._errors import InvalidInputError

_SLOTS_PER_SECOND = 64
_MAX_SECONDS = 7 * 24 * 3600
_PHASES = ("connect", "read", "write", "pool")


def seconds(name: str, value: object, *, zero_ok: bool = False) -> float:
    """A finite number of seconds, positive (or zero if `zero_ok`), at most a week."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if (number >= 0 if zero_ok else number > 0) and number <= _MAX_SECONDS:
            return number
    kind = "a positive or zero" if zero_ok else "a positive"
    raise InvalidInputError(f"{name} must be {kind} number of seconds, at most one week")


def timeout(value: object) -> httpx.Timeout:
    """The `timeout=` setting: seconds per attempt, or an `httpx.Timeout` whose phases are each
    None or valid seconds."""
    if isinstance(value, httpx.Timeout):
        for phase in _PHASES:
            if getattr(value, phase) is not None:
                seconds(f"timeout.{phase}", getattr(value, phase))
        return value
    return httpx.Timeout(seconds("timeout", value))


class PerAttempt:
    """An attempt's phase timeouts, as the request's `timeout` extension."""

    __slots__ = ("_longest", "phases", "timeout")

    def __init__(self, timeout: httpx.Timeout) -> None:
        self.timeout = timeout
        self.phases: dict[str, float | None] = timeout.as_dict()
        values = self.phases.values()
        #: A deadline further away than this cuts no phase.
        self._longest = math.inf if None in values else max(v for v in values if v is not None)

    def within(self, left: float) -> dict[str, float | None]:
        """The phases, none allowed to outlast a deadline `left` seconds away."""
        if left >= self._longest:
            return self.phases
        left = max(left, 0.001)
        return {k: left if v is None else min(v, left) for k, v in self.phases.items()}


async def wait_for_slot(slots: asyncio.Semaphore, request: httpx.Request) -> None:
    """Take one of `slots`, waiting at most the request's `pool` timeout, as waiting inside the
    pool would; `httpx.PoolTimeout` after that (nothing was sent: a retry is safe)."""
    limit = request.extensions["timeout"]["pool"]
    try:
        async with asyncio.timeout(limit):
            await slots.acquire()
    except TimeoutError:
        raise httpx.PoolTimeout(
            f"no connection became free within the pool timeout of {limit}s", request=request
        ) from None


class Deadlines:
    """The deadlines of one event loop's calls (a `Dintero` instance is bound to one loop)."""

    __slots__ = ("_slots",)

    def __init__(self) -> None:
        #: slot -> (the deadlines in it, the timer that expires them)
        self._slots: dict[int, tuple[set[Deadline], asyncio.TimerHandle]] = {}

    def at(
        self, when: float, task: asyncio.Task[object], loop: asyncio.AbstractEventLoop
    ) -> Deadline:
        """A context manager that cancels `task` (the current one) at `loop` time `when`."""
        return Deadline(self, when, task, loop)

    def _expire(self, slot: int) -> None:
        members, _ = self._slots.pop(slot)  # the timer runs only while its slot has members
        for deadline in members:
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

    def __enter__(self) -> Deadline:
        self._cancelling = self.task.cancelling()
        self._slot = slot = math.ceil(self._when * _SLOTS_PER_SECOND)
        slots = self._deadlines._slots
        entry = slots.get(slot)
        if entry is None:
            timer = self._loop.call_at(slot / _SLOTS_PER_SECOND, self._deadlines._expire, slot)
            entry = slots[slot] = (set(), timer)
        entry[0].add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        slots = self._deadlines._slots
        entry = slots.get(self._slot)
        if entry is not None:  # None: the slot's timer has fired
            members, timer = entry
            members.discard(self)
            if not members:  # the last one out stops the timer
                timer.cancel()
                del slots[self._slot]
        # As asyncio.Timeout: take back our cancellation; if no other is pending, it was ours.
        if (
            self.expired
            and self.task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc
