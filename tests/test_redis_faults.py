"""The store is never a point of failure: a real redis-server killed, stopped, restarted empty,
read-only or out of memory, and stores that raise or hang. Every fetch still returns a token,
nothing from the store reaches the caller, nothing is logged above INFO, no secret is logged,
and the store is used again after a pause."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from dintero_aio import InvalidInputError
from dintero_aio._auth import Issued
from dintero_aio._redis_cache import RedisTokenCache
from dintero_aio._shared_tokens import IN_FLIGHT, SharedSource
from dintero_aio._token_cache import TokenCache

from .redis_server import RedisServer, running_redis
from .test_redis_shared import KEY, REDIS_KEY, SECRET, Clock, FakeDintero

PAUSE = (0.3, 0.6)  # short pauses after a failure, so the tests see the store used again


class Counted:
    """A `TokenCache` that counts the operations passed on to `cache`; those named in `fail`
    raise instead, and with `hang` every operation waits forever."""

    def __init__(self, cache: TokenCache, *, fail: tuple[str, ...] = (), hang: bool = False):
        self.cache = cache
        self.fail = fail
        self.hang = hang
        self.calls: Counter[str] = Counter()
        self.timeout = cache.timeout
        self.lock_ttl = cache.lock_ttl

    async def _do(self, name: str, *args: Any) -> Any:
        self.calls[name] += 1
        if self.hang:
            await asyncio.Event().wait()
        if name in self.fail:
            raise RuntimeError(f"{name} failed: {SECRET}")  # a message that must not be logged
        return await getattr(self.cache, name)(*args)

    async def get(self, key: str) -> str | None:
        result: str | None = await self._do("get", key)
        return result

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._do("set", key, value, ttl)

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return bool(await self._do("add", key, value, ttl))

    async def delete_if(self, key: str, value: str) -> bool:
        return bool(await self._do("delete_if", key, value))


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
async def clients() -> AsyncIterator[list[Redis]]:
    made: list[Redis] = []
    yield made
    for client in made:
        await client.aclose()


@pytest.fixture(autouse=True)
def quiet(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here: nothing above INFO, and no secret or token in any log record."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert record.levelno <= logging.INFO, record.getMessage()
        message = record.getMessage()
        assert SECRET not in message
        assert "fake-access-token" not in message


def counted(server: RedisServer, clients: list[Redis], **options: Any) -> Counted:
    clients.append(Redis.from_url(server.url))
    return Counted(RedisTokenCache(clients[-1], timeout=0.2), **options)


def source(cache: TokenCache, dintero: FakeDintero, **options: Any) -> SharedSource:
    return SharedSource(cache, dintero, key=KEY, secret=SECRET, pause=PAUSE, **options)


async def test_a_killed_server_means_fetching_in_process_then_the_store_after_a_pause(
    server: RedisServer, clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    dintero = FakeDintero()
    cache = counted(server, clients)
    shared = source(cache, dintero)
    assert (await shared.fetch()).source == "dintero"
    server.kill()
    caplog.clear()

    other = source(counted(server, clients), dintero)  # another process, arriving now
    got = await other.fetch()
    assert (got.source, got.stored) == ("dintero", None)  # fetched for itself, stored nowhere
    assert [r.getMessage() for r in caplog.records if "token cache" in r.getMessage()] == [
        "token cache unavailable (ConnectionError): fetching tokens in this process, "
        "next try in 0.3s"
    ]
    assert (await shared.fetch()).source == "dintero"  # this process finds out too
    before = sum(cache.calls.values())
    for _ in range(3):  # within the pause: straight to Dintero, the store is not even tried
        assert (await shared.fetch()).source == "dintero"
    assert sum(cache.calls.values()) == before

    server.start()  # restarted, empty, on the same port
    await asyncio.sleep(PAUSE[0])
    got = await shared.fetch()
    assert (got.source, got.access_token) == ("dintero", dintero.issued[-1])
    assert isinstance(got.stored, str)  # stored for the fleet again
    assert (await other.fetch()).access_token == got.access_token
    assert "token cache available again" in caplog.text


async def test_a_stopped_server_costs_one_timeout_then_nothing_until_the_pause_ends(
    server: RedisServer, clients: list[Redis]
) -> None:
    dintero = FakeDintero(delay=0.0)
    shared = source(counted(server, clients), dintero)
    await shared.fetch()  # connected
    server.pause()
    started = time.monotonic()
    got = await asyncio.gather(*(shared.fetch() for _ in range(5)))
    assert 0.2 <= time.monotonic() - started < 0.6  # one 0.2 s timeout, for all five at once
    assert {issued.source for issued in got} == {"dintero"}
    started = time.monotonic()
    await shared.fetch()
    assert time.monotonic() - started < 0.1
    server.resume()
    await asyncio.sleep(PAUSE[0])
    assert isinstance((await shared.fetch()).stored, str)


async def test_a_server_killed_while_the_fleet_waits_fails_no_fetch(
    server: RedisServer, clients: list[Redis]
) -> None:
    dintero = FakeDintero(delay=0.3)
    fleet = [source(counted(server, clients), dintero) for _ in range(5)]
    fetching = asyncio.gather(*(shared.fetch() for shared in fleet))
    await asyncio.sleep(0.1)  # one owner fetching, four waiting
    server.kill()
    got = await fetching
    assert all(isinstance(issued, Issued) for issued in got)
    assert 1 <= len(dintero.issued) <= 5  # the owner's, and one per waiter that fell back
    assert {issued.access_token for issued in got} <= set(dintero.issued)


async def test_a_restarted_empty_server_costs_the_fleet_one_fetch(
    server: RedisServer, clients: list[Redis]
) -> None:
    clock = Clock()
    dintero = FakeDintero()
    fleet = [source(counted(server, clients), dintero, clock=clock) for _ in range(6)]
    await asyncio.gather(*(shared.fetch() for shared in fleet))
    server.kill()
    server.start()
    clock.now += 3600 - 30  # every process's token now due for refresh
    got = await asyncio.gather(*(shared.fetch() for shared in fleet))
    assert len(dintero.issued) == 2  # the clients reconnected: one fetch for the fleet
    assert {issued.access_token for issued in got} == {dintero.issued[1]}


async def test_a_read_only_replica_means_fetching_in_process(
    server: RedisServer, clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    with running_redis() as replica:
        assert replica.command("REPLICAOF", "127.0.0.1", str(server.port)).startswith(b"+OK")
        dintero = FakeDintero()
        cache = counted(replica, clients)
        got = await asyncio.gather(*(source(cache, dintero).fetch() for _ in range(3)))
    assert {issued.source for issued in got} == {"dintero"}
    assert cache.calls["add"] >= 1  # tried, refused
    assert "token cache unavailable (ReadOnlyError)" in caplog.text


async def test_a_full_server_means_fetching_in_process_until_it_has_room(
    server: RedisServer, clients: list[Redis], caplog: pytest.LogCaptureFixture
) -> None:
    dintero = FakeDintero()
    shared = source(counted(server, clients), dintero)
    server.command("CONFIG", "SET", "maxmemory", "1")
    assert (await shared.fetch()).source == "dintero"
    assert "token cache unavailable (OutOfMemoryError)" in caplog.text
    server.command("CONFIG", "SET", "maxmemory", "0")
    await asyncio.sleep(PAUSE[0])
    assert isinstance((await shared.fetch()).stored, str)


async def test_a_token_is_used_even_if_storing_it_fails(
    server: RedisServer, clients: list[Redis]
) -> None:
    dintero = FakeDintero()
    cache = counted(server, clients, fail=("set",))
    got = await source(cache, dintero).fetch()
    assert (got.source, got.access_token, got.stored) == ("dintero", dintero.issued[0], None)
    assert len(dintero.issued) == 1  # not fetched a second time
    probe = Redis.from_url(server.url)
    try:
        assert await probe.exists(REDIS_KEY + ":lock") == 0  # released all the same
    finally:
        await probe.aclose()


@pytest.mark.parametrize("failing", ["get", "add", "delete_if"])
async def test_any_exception_from_a_store_means_fetching_in_process(
    server: RedisServer, clients: list[Redis], failing: str
) -> None:
    dintero = FakeDintero()
    shared = source(counted(server, clients, fail=(failing,)), dintero)
    first = await shared.fetch()
    await shared.rejected(first)
    assert isinstance(await shared.fetch(), Issued)


async def test_a_store_that_never_answers_is_timed_out(
    server: RedisServer, clients: list[Redis]
) -> None:
    dintero = FakeDintero(delay=0.0)
    started = time.monotonic()
    got = await source(counted(server, clients, hang=True), dintero).fetch()
    assert got.source == "dintero"
    assert 0.2 <= time.monotonic() - started < 0.5


class SlowOnce:
    """An in-memory store whose first `get` answers after `delay` (past its 0.1 s timeout)."""

    def __init__(self, delay: float) -> None:
        self.data: dict[str, str] = {}
        self.delay = delay
        self.timeout = 0.1
        self.lock_ttl = 2.0

    async def get(self, key: str) -> str | None:
        delay, self.delay = self.delay, 0.0
        await asyncio.sleep(delay)
        return self.data.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.data[key] = value

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return self.data.setdefault(key, value) == value

    async def delete_if(self, key: str, value: str) -> bool:
        return self.data.get(key) == value and self.data.pop(key) == value


async def test_a_timeout_while_the_store_answers_others_is_a_busy_process_not_a_dead_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SlowOnce(delay=0.3)
    dintero = FakeDintero(delay=0.05)
    slow, other = source(store, dintero), source(store, dintero)
    got = await asyncio.gather(slow.fetch(), other.fetch())
    assert len(dintero.issued) == 1  # the slow one went round again and read the other's
    assert [issued.source for issued in got] == ["shared", "dintero"]
    assert "unavailable" not in caplog.text


class SlotsOnly:
    """A store that cannot be weakly referenced (no __weakref__): its sources each keep their
    own health."""

    __slots__ = ("data", "lock_ttl", "timeout")

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.timeout = 0.1
        self.lock_ttl = 1.0

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        self.data[key] = value

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return self.data.setdefault(key, value) == value

    async def delete_if(self, key: str, value: str) -> bool:
        if self.data.get(key) != value:
            return False
        del self.data[key]
        return True


async def test_any_store_with_the_four_operations_serves_a_fleet() -> None:
    store = SlotsOnly()
    dintero = FakeDintero()
    fleet = [source(store, dintero) for _ in range(4)]
    got = await asyncio.gather(*(shared.fetch() for shared in fleet))
    assert len(dintero.issued) == 1
    assert {issued.access_token for issued in got} == set(dintero.issued)
    assert list(store.data) == [REDIS_KEY.removeprefix("dintero-aio:")]


class Latent(SlotsOnly):
    """Every operation answers after two 10 ms steps, as a network answer takes a few turns of
    the event loop to reach its caller."""

    async def _turns(self) -> None:
        await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)

    async def get(self, key: str) -> str | None:
        await self._turns()
        return await super().get(key)

    async def set(self, key: str, value: str, ttl: float) -> None:
        await self._turns()
        await super().set(key, value, ttl)

    async def add(self, key: str, value: str, ttl: float) -> bool:
        await self._turns()
        return await super().add(key, value, ttl)

    async def delete_if(self, key: str, value: str) -> bool:
        await self._turns()
        return await super().delete_if(key, value)


async def test_an_event_loop_held_up_past_the_timeout_is_not_a_dead_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Latent()
    dintero = FakeDintero(delay=0.0)
    fetching = asyncio.create_task(source(store, dintero).fetch())
    await asyncio.sleep(0.005)  # its first operation is under way
    time.sleep(0.3)  # noqa: ASYNC251 - the loop held up by other work, past the 0.1 s timeout
    got = await fetching
    assert isinstance(got.stored, str)  # fetched for the fleet and stored, not alone
    assert "unavailable" not in caplog.text


class Settingless:
    """The four operations, without `timeout` and `lock_ttl`."""

    async def get(self, key: str) -> str | None:
        return None

    async def set(self, key: str, value: str, ttl: float) -> None:
        """Stores nothing."""

    async def add(self, key: str, value: str, ttl: float) -> bool:
        return True

    async def delete_if(self, key: str, value: str) -> bool:
        return False


@pytest.mark.parametrize(("timeout", "lock_ttl"), [(None, 1.0), (1.0, None), (0, 1), (1, "10")])
def test_a_store_without_its_two_settings_is_invalid_input(timeout: Any, lock_ttl: Any) -> None:
    store: Any = Settingless()
    if timeout is not None:
        store.timeout = timeout
    if lock_ttl is not None:
        store.lock_ttl = lock_ttl
    with pytest.raises(InvalidInputError, match=r"token_cache\.(timeout|lock_ttl)"):
        source(store, FakeDintero())


class Gauge(Latent):
    """Notes the most operations under way at once."""

    def __init__(self) -> None:
        super().__init__()
        self.now = self.most = 0

    async def _turns(self) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            await super()._turns()
        finally:
            self.now -= 1


def merchants(store: TokenCache, dintero: FakeDintero, count: int) -> list[SharedSource]:
    return [
        SharedSource(store, dintero, key=("exchange", "P00000001", "c", f"T{n:08d}"), secret="s")
        for n in range(count)
    ]


async def test_a_process_keeps_a_few_store_operations_under_way_however_many_fetches() -> None:
    store = Gauge()
    dintero = FakeDintero(delay=0.0)
    await asyncio.gather(*(shared.fetch() for shared in merchants(store, dintero, 40)))
    assert store.most == IN_FLIGHT == 4
    assert len(dintero.issued) == 40


async def test_fetches_queued_behind_a_dead_store_give_up_at_once_not_one_by_one() -> None:
    store: Any = Counted(SlotsOnly(), hang=True)
    store.timeout = 0.1
    dintero = FakeDintero(delay=0.0)
    started = time.monotonic()
    got = await asyncio.gather(*(shared.fetch() for shared in merchants(store, dintero, 40)))
    assert time.monotonic() - started < 0.5  # one timeout, not ten rounds of four
    assert {issued.source for issued in got} == {"dintero"}
    assert sum(store.calls.values()) == IN_FLIGHT  # only the first four reached the store
