"""Shared deadline timers (deadlines.py) behave as `asyncio.timeout_at`, one timer per slot."""

from __future__ import annotations

import asyncio

import pytest

from dintero_aio._timeouts import Deadlines


def current() -> asyncio.Task[object]:
    task = asyncio.current_task()
    assert task is not None
    return task


async def test_the_deadline_cancels_the_block_as_a_timeout_soon_after_it_passes() -> None:
    loop = asyncio.get_running_loop()
    when = loop.time() + 0.05
    with pytest.raises(TimeoutError), Deadlines().at(when, current(), loop):
        await asyncio.sleep(10)
    assert when <= loop.time() < when + 1 / 64 + 0.05
    assert current().cancelling() == 0  # the cancellation was taken back


async def test_a_deadline_already_past_times_out_at_the_first_wait() -> None:
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError), Deadlines().at(loop.time() - 1, current(), loop):
        await asyncio.sleep(10)


async def test_a_block_that_ends_in_time_is_never_cancelled_afterwards() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    with deadlines.at(loop.time() + 0.02, current(), loop):
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)  # past the deadline: the slot's timer fires and finds nothing


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    async def call() -> None:
        with Deadlines().at(loop.time() + 10, current(), loop):
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(call())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_from_elsewhere_after_the_deadline_is_not_swallowed() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    entered = asyncio.Event()

    async def call() -> None:
        with deadlines.at(loop.time() + 0.01, current(), loop):
            entered.set()
            try:
                await asyncio.sleep(10)
            finally:
                await asyncio.sleep(10)  # the deadline has cancelled us; now someone else does

    task = asyncio.create_task(call())
    await entered.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_calls_whose_deadlines_share_a_slot_share_one_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    timers: list[float] = []
    call_at = loop.call_at

    def counted(when: float, *args: object) -> asyncio.TimerHandle:
        timers.append(when)
        return call_at(when, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "call_at", counted)
    deadlines = Deadlines()
    base = round(loop.time()) + 5.0  # a slot boundary: k/64 s

    async def call(offset: float) -> None:
        with deadlines.at(base + offset, current(), loop):
            await asyncio.sleep(0)

    await asyncio.gather(*(call(i / 64_000) for i in range(1, 1000)))  # all in one 1/64 s slot
    await asyncio.gather(*(call(1 / 64 + i / 64_000) for i in range(1, 1000)))  # the next slot
    assert timers == [base + 1 / 64, base + 2 / 64]
