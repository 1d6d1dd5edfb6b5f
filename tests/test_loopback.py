"""The real SDK against the emulator on a real loopback socket, through every injected fault.

Each test checks the outcome the caller sees AND what the server saw: how many requests arrived,
how many took effect, and that no fault ever produced a duplicate client. Every test runs on both
backends (httpx's own transport, and aiohttp's): the promises are the same.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dintero_aio import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    Dintero,
    InternalServerError,
    NotFoundError,
    RetryPolicy,
)
from dintero_aio import _auth as auth_module
from dintero_aio._http_client import BACKENDS
from dintero_aio.testing import Emulator, RunningEmulator, serve

QUICK = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, total_timeout=10)


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve(Emulator()) as running:
        yield running


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def connect(
    running: RunningEmulator, make_dintero: Callable[..., Dintero], backend: str
) -> Callable[..., Dintero]:
    """Dintero instances logged in to the served emulator (closed after the test)."""
    emulator = running.emulator

    def connect(**overrides: Any) -> Dintero:
        return make_dintero(
            **{
                "account_id": emulator.account_id,
                "client_id": emulator.client_id,
                "client_secret": emulator.client_secret,
                "base_url": running.base_url,
                "retry": QUICK,
                "backend": backend,
                **overrides,
            }
        )

    return connect


@pytest.fixture
def emulator(running: RunningEmulator) -> Emulator:
    return running.emulator


@pytest.mark.parametrize("after_processing", [False, True])
@pytest.mark.parametrize("reset", [False, True])
async def test_dropped_connection_on_create_never_duplicates(
    connect: Callable[..., Dintero], emulator: Emulator, after_processing: bool, reset: bool
) -> None:
    emulator.drop_next("create", after_processing=after_processing, reset=reset)

    with pytest.raises(APIConnectionError) as info:
        await connect().clients.create(name="pos")

    assert info.value.outcome_unknown
    assert emulator.received("create") == 1  # not retried
    assert len(emulator.clients) == int(after_processing)  # so never a duplicate


async def test_dropped_connection_on_list_is_retried(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.drop_next("list")
    assert await connect().clients.list() == []
    assert emulator.received("list") == 2


async def test_slow_create_times_out_and_is_not_retried(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.delay_next("create", 1.0, after_processing=True)
    started = time.monotonic()

    with pytest.raises(APITimeoutError) as info:
        await connect(timeout=0.2).clients.create(name="pos")

    assert time.monotonic() - started < 0.9
    assert info.value.outcome_unknown
    assert emulator.received("create") == 1


async def test_slow_read_is_retried_within_the_deadline(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.delay_next("list", 1.0)
    assert await connect(timeout=0.2).clients.list() == []
    assert emulator.received("list") == 2


async def test_429_with_retry_after_is_waited_out(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.fail_next("create", status=429, retry_after=1)
    started = time.monotonic()
    await connect().clients.create(name="pos")
    assert time.monotonic() - started >= 1.0
    assert (emulator.received("create"), emulator.processed("create")) == (2, 1)
    assert len(emulator.clients) == 1


async def test_503_on_the_token_endpoint_and_on_create_are_retried(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.fail_next("token", status=503, times=2)
    emulator.fail_next("create", status=503, retry_after=0)
    await connect().clients.create(name="pos")
    assert (emulator.received("token"), emulator.processed("token")) == (3, 1)
    assert (emulator.received("create"), emulator.processed("create")) == (2, 1)


async def test_500_on_create_is_not_retried(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    emulator.fail_next("create", status=500)
    with pytest.raises(InternalServerError) as info:
        await connect().clients.create(name="pos")
    assert info.value.outcome_unknown
    assert emulator.received("create") == 1


async def test_wrong_credentials(connect: Callable[..., Dintero], emulator: Emulator) -> None:
    with pytest.raises(AuthenticationError, match="client credentials"):
        await connect(client_secret="wrong").clients.create(name="pos")
    assert emulator.received("token") == 1
    assert emulator.received("create") == 0


async def test_one_token_for_a_cold_burst_and_one_refresh_per_expiry(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    dintero = connect()

    await asyncio.gather(*(dintero.clients.create() for _ in range(200)))
    assert emulator.processed("token") == 1

    emulator.expire_tokens()  # the server ends the token early: every request gets a 401
    await asyncio.gather(*(dintero.clients.create() for _ in range(200)))
    refresh = dintero._tokens._refresh
    if refresh is not None:  # the refresh runs in the background: the calls did not wait
        await refresh
    assert emulator.processed("token") == 2
    assert emulator.processed("create") == len(emulator.clients) == 400


async def test_one_proactive_refresh_when_the_lifetime_runs_low(
    connect: Callable[..., Dintero], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    dintero = connect()
    await dintero.clients.list()
    later = time.monotonic() + emulator.expires_in - 30  # within the last minute of the token
    monkeypatch.setattr(auth_module, "monotonic", lambda: later)
    await asyncio.gather(*(dintero.clients.create() for _ in range(200)))
    refresh = dintero._tokens._refresh
    if refresh is not None:  # the refresh runs in the background: the calls did not wait
        await refresh
    assert emulator.processed("token") == 2
    assert emulator.received("create") == 200  # no 401 was needed


async def test_the_whole_lifecycle(connect: Callable[..., Dintero], emulator: Emulator) -> None:
    dintero = connect()
    created = await dintero.clients.create(name="pos", client_id="pos-1")
    emulator.add_grant(str(created.id))  # without a grant the new client cannot log in
    assert [c.id for c in await dintero.clients.list()] == [created.id]
    assert (await dintero.clients.get(created.id)).name == "pos"

    rotated = await dintero.clients.rotate_secret(created.id)
    assert rotated.client_secret != created.client_secret
    with pytest.raises(AuthenticationError):  # the old secret no longer logs in
        await connect(client_id="pos-1", client_secret=created.client_secret).clients.list()
    await connect(client_id="pos-1", client_secret=rotated.client_secret).clients.list()

    await dintero.clients.delete(created.id)
    with pytest.raises(NotFoundError):
        await dintero.clients.get(created.id)
    assert await dintero.clients.list() == []


async def test_delete_whose_response_was_lost_still_succeeds(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    dintero = connect()
    created = await dintero.clients.create()
    emulator.drop_next("delete", after_processing=True)
    await dintero.clients.delete(created.id)  # the retry's 404 means our first attempt worked
    assert (emulator.received("delete"), emulator.processed("delete")) == (2, 1)


async def test_rotate_whose_response_was_lost_is_not_repeated(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    dintero = connect()
    created = await dintero.clients.create()
    emulator.drop_next("rotate", after_processing=True)
    with pytest.raises(APIConnectionError, match="second rotation") as info:
        await dintero.clients.rotate_secret(created.id)
    assert info.value.outcome_unknown
    assert (emulator.received("rotate"), emulator.processed("rotate")) == (1, 1)
