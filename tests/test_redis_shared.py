"""`SharedSource` against a real redis-server: single-flight across "processes" (each its own
`RedisTokenCache` on its own Redis connection pool), encryption at rest, 401s, dead lock
owners, and a fake Dintero that counts the tokens it issues.

The faults (server killed, stopped, restarted empty, read-only, out of memory) are in
test_redis_faults.py; the fleet of real processes against the emulator in test_redis_fleet.py.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from dintero_aio import APIConnectionError
from dintero_aio._auth import Issued
from dintero_aio._redis_cache import RedisTokenCache
from dintero_aio._shared_tokens import SharedSource, key_name, refresh_point

from .redis_server import RedisServer, running_redis

SECRET = "client-secret-4f9a7c-shared"
AUDIENCE = "https://api.dintero.com/v1/accounts/T12345678"
KEY = ("token", "T12345678", "sdk-client", AUDIENCE)
REDIS_KEY = "dintero-aio:token:T12345678:sdk-client:https%3A//api.dintero.com/v1/accounts/T12345678"


class FakeDintero:
    """The inner source: issues a new token per fetch (after `delay`), failing the first
    `failures` fetches, and records what it issued and what was rejected."""

    def __init__(self, lifetime: int = 3600, delay: float = 0.02, failures: int = 0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.failures = failures
        self.issued: list[str] = []
        self.rejections: list[Issued] = []

    async def fetch(self) -> Issued:
        await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise APIConnectionError("Dintero is down")
        token = f"eyJhbGciOi.fake-access-token-{len(self.issued)}"
        self.issued.append(token)
        return Issued(token, self.lifetime, float(self.lifetime))

    async def rejected(self, token: Issued) -> None:
        self.rejections.append(token)


class Clock:
    """Wall-clock seconds that a test moves by hand (Redis TTLs still run on real time)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
async def probe(server: RedisServer) -> AsyncIterator[Redis]:
    """A client of the test's own, to look at (and tamper with) what is stored."""
    client = Redis.from_url(server.url)
    yield client
    await client.aclose()


Make = Callable[..., SharedSource]


@pytest.fixture
async def process(server: RedisServer) -> AsyncIterator[Make]:
    """`process(inner, **options)`: a SharedSource as one process of a fleet would have it, on
    a Redis connection pool of its own."""
    clients: list[Redis] = []

    def make(
        inner: FakeDintero,
        *,
        key: tuple[str, ...] = KEY,
        secret: str = SECRET,
        lock_ttl: float = 10.0,
        **options: Any,
    ) -> SharedSource:
        clients.append(Redis.from_url(server.url))
        cache = RedisTokenCache(clients[-1], lock_ttl=lock_ttl)
        return SharedSource(cache, inner, key=key, secret=secret, **options)

    yield make
    for client in clients:
        await client.aclose()


async def stored(probe: Redis) -> dict[bytes, tuple[Any, int]]:
    """Every key in Redis, with its value and its TTL in milliseconds."""
    return {
        key: (await probe.get(key), await probe.pttl(key))
        async for key in probe.scan_iter(count=1000)
    }


async def test_a_cold_fleet_fetches_once(process: Make, probe: Redis) -> None:
    dintero = FakeDintero()
    fleet = [process(dintero) for _ in range(8)]
    got = await asyncio.gather(*(source.fetch() for source in fleet for _ in range(4)))
    assert len(dintero.issued) == 1
    assert {issued.access_token for issued in got} == {dintero.issued[0]}
    assert sorted(issued.source for issued in got).count("dintero") == 1
    assert all(issued.stored == got[0].stored for issued in got)  # what a 401 would remove
    assert all(issued.lifetime == 3600 for issued in got)
    assert all(3600 - 180 - 1 < issued.expires_in <= 3600 for issued in got)
    assert list(await stored(probe)) == [REDIS_KEY.encode()]  # the lock is gone


async def test_a_stored_token_is_handed_out_with_the_time_it_has_left(process: Make) -> None:
    clock = Clock()
    dintero = FakeDintero()
    first = await process(dintero, clock=clock).fetch()
    clock.now += 1000
    later = await process(dintero, clock=clock).fetch()
    assert (later.source, later.access_token, later.lifetime) == (
        "shared",
        first.access_token,
        3600,
    )
    assert 2600 - 0.05 * 3600 <= later.expires_in <= 2600  # up to SPREAD early, at random
    assert len(dintero.issued) == 1


async def test_processes_are_told_to_refresh_at_different_moments(process: Make) -> None:
    dintero = FakeDintero()
    await process(dintero).fetch()
    told = [(await process(dintero).fetch()).expires_in for _ in range(20)]
    assert len(set(told)) == 20
    assert 3600 - 180 <= min(told) < max(told) <= 3600


async def test_a_token_due_for_refresh_is_fetched_again_once_for_the_fleet(
    process: Make,
) -> None:
    clock = Clock()
    dintero = FakeDintero()
    fleet = [process(dintero, clock=clock) for _ in range(6)]
    await fleet[0].fetch()
    assert refresh_point(3600) == 60 + 180  # REFRESH_MARGIN, and SPREAD of the lifetime
    clock.now += 3600 - 239  # past the fleet's refresh point: the first refresher fetches
    got = await asyncio.gather(*(source.fetch() for source in fleet))
    assert len(dintero.issued) == 2
    assert {issued.access_token for issued in got} == {dintero.issued[1]}
    clock.now += 3600 - 241  # the new one, just before its own refresh point: still served
    assert (await fleet[5].fetch()).access_token == dintero.issued[1]
    assert len(dintero.issued) == 2


async def test_a_short_lived_token_is_due_at_half_its_lifetime(process: Make) -> None:
    clock = Clock()
    dintero = FakeDintero(lifetime=100)
    await process(dintero, clock=clock).fetch()
    assert refresh_point(100) == 50 + 5
    clock.now += 44
    assert (await process(dintero, clock=clock).fetch()).source == "shared"
    clock.now += 2
    assert (await process(dintero, clock=clock).fetch()).source == "dintero"
    assert len(dintero.issued) == 2


async def test_a_401_removes_the_token_once_and_the_fleet_fetches_once(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero()
    fleet = [process(dintero) for _ in range(8)]
    held = await asyncio.gather(*(source.fetch() for source in fleet))

    async def on_401(source: SharedSource, token: Issued) -> Issued:
        await source.rejected(token)
        return await source.fetch()

    got = await asyncio.gather(*(on_401(s, t) for s, t in zip(fleet, held, strict=True)))
    assert len(dintero.issued) == 2
    assert {issued.access_token for issued in got} == {dintero.issued[1]}
    assert len(dintero.rejections) == 8  # the inner source hears of every rejection too
    assert list(await stored(probe)) == [REDIS_KEY.encode()]


async def test_a_late_401_never_removes_a_newer_token(process: Make, probe: Redis) -> None:
    dintero = FakeDintero()
    slow, fast = process(dintero), process(dintero)
    old = await slow.fetch()
    await fast.rejected(await fast.fetch())
    new = await fast.fetch()
    before = await probe.get(REDIS_KEY)
    await slow.rejected(old)  # the 401 of a request sent with the old token, arriving late
    assert await probe.get(REDIS_KEY) == before == str(new.stored).encode()
    assert (await slow.fetch()).access_token == new.access_token


async def test_another_token_in_the_store_is_tried_after_a_401_then_removed_too(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero()
    here, there = process(dintero), process(dintero)
    a = await here.fetch()
    await there.rejected(await there.fetch())
    b = await there.fetch()  # the store now holds B; this process still holds A
    await here.rejected(a)
    replay = await here.fetch()
    assert (replay.source, replay.access_token) == ("shared", b.access_token)
    await here.rejected(replay)  # B is rejected as well (revoked): removed the same way
    assert await probe.get(REDIS_KEY) is None
    fresh = await here.fetch()
    assert (fresh.source, fresh.access_token) == ("dintero", dintero.issued[2])


async def test_a_rejected_value_is_never_handed_out_again_even_if_it_stays(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero()
    source = process(dintero)
    token = await source.fetch()
    await source.rejected(token)
    await probe.set(REDIS_KEY, token.stored, ex=100)  # type: ignore[arg-type]
    again = await source.fetch()
    assert again.access_token != token.access_token
    assert len(dintero.issued) == 2


async def test_a_token_fetched_without_the_store_is_rejected_without_touching_it(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero()
    source = process(dintero)
    await source.fetch()
    before = await probe.get(REDIS_KEY)
    await source.rejected(Issued("eyJ.some-other-token", 3600, 3600.0))
    assert await probe.get(REDIS_KEY) == before
    assert len(dintero.rejections) == 1


async def test_nothing_stored_shows_a_token_or_a_secret_and_every_key_expires(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero(delay=0.3)
    exchange_key = ("exchange", "P00000001", "partner-client", "T00000002")
    token = process(dintero)
    exchange = process(dintero, key=exchange_key, secret="partner-secret-77aa", lock_ttl=2.0)
    await token.fetch()
    fetching = asyncio.create_task(exchange.fetch())
    await asyncio.sleep(0.1)  # its lock is held now
    during = await stored(probe)
    await fetching
    after = await stored(probe)
    assert len(during) == 2
    assert len(after) == 2
    assert any(key.endswith(b":lock") for key in during)
    clear = [SECRET, "partner-secret-77aa", *dintero.issued]
    for key, (value, ttl) in {**during, **after}.items():
        for secret in clear:
            for form in (secret.encode(), base64.b64encode(secret.encode())):
                assert form not in key
                assert form not in value
        limit = 2000 if key.endswith(b":lock") else 3600 * 1000
        assert 0 < ttl <= limit, key
    assert set(after) == {
        REDIS_KEY.encode(),
        b"dintero-aio:exchange:P00000001:partner-client:T00000002",
    }


async def test_the_key_quotes_its_parts_so_they_never_run_together() -> None:
    assert key_name(("token", "T1", "a:b", "c")) != key_name(("token", "T1", "a", "b:c"))
    assert key_name(("token", "T1", "{tag}", "x y")) == "token:T1:%7Btag%7D:x%20y"


@pytest.mark.parametrize(
    "garbage",
    [b"", b"garbage", b"\xff\xfe", b"1.", b"1.!!!", b"1." + base64.urlsafe_b64encode(b"x" * 40)],
)
async def test_garbage_is_a_miss_and_is_overwritten(
    process: Make, probe: Redis, garbage: bytes
) -> None:
    await probe.set(REDIS_KEY, garbage, ex=100)
    dintero = FakeDintero()
    got = await process(dintero).fetch()
    assert (got.source, len(dintero.issued)) == ("dintero", 1)
    assert (await process(dintero).fetch()).access_token == got.access_token


async def test_a_value_under_another_secret_is_a_miss_both_ways(process: Make) -> None:
    dintero = FakeDintero()
    old = await process(dintero, secret="the-secret-before-rotation").fetch()
    new = await process(dintero, secret=SECRET).fetch()
    assert (new.source, new.access_token) == ("dintero", dintero.issued[1])
    assert old.access_token != new.access_token
    assert (await process(dintero, secret=SECRET).fetch()).source == "shared"


async def test_a_value_copied_to_another_key_does_not_open(process: Make, probe: Redis) -> None:
    dintero = FakeDintero()
    await process(dintero).fetch()
    other = ("token", "T87654321", "sdk-client", AUDIENCE)
    copied = await probe.get(REDIS_KEY)
    assert copied is not None
    await probe.set("dintero-aio:" + key_name(other), copied, ex=100)
    got = await process(dintero, key=other).fetch()
    assert (got.source, len(dintero.issued)) == ("dintero", 2)


async def test_a_dead_owners_lock_delays_the_others_until_it_expires(
    process: Make, probe: Redis
) -> None:
    await probe.set(REDIS_KEY + ":lock", "owner-that-died", px=400)
    dintero = FakeDintero()
    fleet = [process(dintero) for _ in range(4)]
    started = time.monotonic()
    got = await asyncio.gather(*(source.fetch() for source in fleet))
    assert 0.35 < time.monotonic() - started < 2.0
    assert len(dintero.issued) == 1
    assert {issued.access_token for issued in got} == {dintero.issued[0]}


async def test_an_owner_slower_than_the_lock_ttl_keeps_its_lock_and_the_others_wait(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero(delay=1.0)  # Dintero slow: three lock lifetimes
    fleet = [process(dintero, lock_ttl=0.3) for _ in range(4)]
    got = await asyncio.gather(*(source.fetch() for source in fleet))
    assert len(dintero.issued) == 1
    assert {issued.access_token for issued in got} == set(dintero.issued)
    assert list(await stored(probe)) == [REDIS_KEY.encode()]  # and released at the end


async def test_a_failed_owner_releases_its_lock_and_a_waiter_fetches(
    process: Make, probe: Redis
) -> None:
    dintero = FakeDintero(failures=1, delay=0.05)
    first, second = process(dintero), process(dintero)
    results = await asyncio.gather(first.fetch(), second.fetch(), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], APIConnectionError)
    assert [r.access_token for r in results if isinstance(r, Issued)] == dintero.issued
    assert list(await stored(probe)) == [REDIS_KEY.encode()]  # the lock released


async def test_a_cancelled_owner_releases_its_lock(process: Make, probe: Redis) -> None:
    dintero = FakeDintero(delay=10)
    fetching = asyncio.create_task(process(dintero).fetch())
    await asyncio.sleep(0.05)
    assert await probe.exists(REDIS_KEY + ":lock") == 1
    fetching.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetching
    assert await stored(probe) == {}


async def test_a_cancelled_waiter_leaves_nothing_behind(process: Make, probe: Redis) -> None:
    dintero = FakeDintero(delay=0.3)
    owner = asyncio.create_task(process(dintero).fetch())
    await asyncio.sleep(0.05)
    waiter = asyncio.create_task(process(dintero).fetch())
    await asyncio.sleep(0.05)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert (await owner).source == "dintero"
    assert list(await stored(probe)) == [REDIS_KEY.encode()]


def test_a_source_shows_its_key_and_nothing_secret() -> None:
    source = SharedSource(RedisTokenCache(Redis()), FakeDintero(), key=KEY, secret=SECRET)
    assert repr(source) == f"<SharedSource {REDIS_KEY.removeprefix('dintero-aio:')}>"
