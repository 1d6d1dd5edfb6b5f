"""`Dintero(token_cache=RedisTokenCache(...))` in one process against the in-process emulator
and a real redis-server: instances share tokens and exchange tokens, the 401 rule across the
store, what ends up in Redis, and whose Redis client is closed."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis

from dintero_aio import Dintero, InvalidInputError
from dintero_aio._redis_cache import RedisTokenCache
from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

from .redis_server import RedisServer, running_redis

MERCHANTS = ["T00000002", "T00000003", "T00000004"]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
async def redis(server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(server.url)
    yield client
    await client.aclose()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(account_id="P00000001", merchants=MERCHANTS)


Make = Callable[..., Dintero]


class Recording(httpx.AsyncBaseTransport):
    """The emulator's transport, noting every access token it hands out."""

    def __init__(self, emulator: Emulator, tokens: list[str]) -> None:
        self.inner = emulator.transport()
        self.tokens = tokens

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith(("/auth/token", "/auth/exchange_token")):
            body = await response.aread()
            if response.status_code == 200:
                self.tokens.append(json.loads(body)["access_token"])
        return response


@pytest.fixture
def issued() -> list[str]:
    return []


@pytest.fixture
async def make(emulator: Emulator, redis: Redis, issued: list[str]) -> AsyncIterator[Make]:
    """Instances on the emulator with a `RedisTokenCache` each (as separate processes would)."""
    made: list[Dintero] = []

    def instance(client: Redis = redis, timeout: float = 1.0) -> Dintero:
        made.append(
            Dintero(
                account_id=emulator.account_id,
                client_id=emulator.client_id,
                client_secret=emulator.client_secret,
                base_url=IN_PROCESS_BASE_URL,
                transport=Recording(emulator, issued),
                token_cache=RedisTokenCache(client, timeout=timeout),
            )
        )
        return made[-1]

    yield instance
    for dintero in made:
        await dintero.aclose()


async def everything(dintero: Dintero) -> list[object]:
    calls = [dintero.clients.list(), *(dintero.for_account(m).clients.list() for m in MERCHANTS)]
    return await asyncio.gather(*calls)


async def test_instances_share_one_token_and_one_exchange_per_merchant(
    make: Make, emulator: Emulator
) -> None:
    fleet = [make() for _ in range(4)]
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    assert (emulator.received("token"), emulator.received("exchange")) == (1, 3)
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    assert (emulator.received("token"), emulator.received("exchange")) == (1, 3)

    emulator.expire_tokens()
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    assert (emulator.processed("token"), emulator.processed("exchange")) == (2, 6)


async def test_what_redis_holds_is_neither_a_token_nor_a_secret_and_it_expires(
    make: Make, emulator: Emulator, redis: Redis, issued: list[str]
) -> None:
    await everything(make())
    assert len(issued) == 4
    keys = [key async for key in redis.scan_iter()]
    # The names docs/fleet.md gives: the account's token and one exchange token per merchant.
    names = sorted(key.decode() for key in keys)
    client = quote(emulator.client_id, safe="")
    audience = f"http%3A//127.0.0.1/v1/accounts/{emulator.account_id}"  # ":" never raw
    assert names == [
        *(f"dintero-aio:exchange:{emulator.account_id}:{client}:{m}" for m in MERCHANTS),
        f"dintero-aio:token:{emulator.account_id}:{client}:{audience}",
    ]
    for key in keys:
        value = await redis.get(key)
        assert value is not None
        assert 0 < await redis.pttl(key) <= 14400 * 1000
        for clear in (*issued, emulator.client_secret):
            for form in (clear.encode(), base64.b64encode(clear.encode())):
                assert form not in key
                assert form not in value


async def test_closing_dintero_leaves_the_users_redis_client_open(make: Make, redis: Redis) -> None:
    dintero = make()
    await dintero.clients.list()
    await dintero.aclose()
    assert await redis.ping() is True


async def test_a_401_on_a_token_from_redis_is_replayed_with_a_fresh_one(
    make: Make, emulator: Emulator, server: RedisServer
) -> None:
    """The issue's rule: A holds T1 (fetched alone while Redis was down), Redis holds T2
    (fetched by B after Redis came back). Both are revoked: A's call meets a 401 with T1, is
    replayed with T2 from Redis, meets another 401, and is replayed with T3 from Dintero."""
    own = Redis.from_url(server.url)
    try:
        server.pause()
        a = make(own, timeout=0.2)
        await a.clients.list()  # T1, after one timeout: fetched by A for itself
        server.resume()
        b = make()
        await b.clients.list()  # T2, stored
        assert emulator.received("token") == 2
        await asyncio.sleep(1.05)  # A's pause after the failure: it uses Redis again
        emulator.expire_tokens()
        before = emulator.received("list")
        assert await a.clients.list() == []
        assert emulator.received("list") - before == 3  # T1, T2 (both refused), then T3
        assert emulator.received("token") == 3
        assert await b.clients.list() == []  # B's T2 was refused: B now reads T3 from Redis
        assert emulator.received("token") == 3
    finally:
        await own.aclose()


# --- Dintero.from_env with DINTERO_REDIS_URL ------------------------------------------------------


def _environment(monkeypatch: pytest.MonkeyPatch, emulator: Emulator, redis_url: str) -> None:
    for variable, value in (
        ("DINTERO_ACCOUNT_ID", emulator.account_id),
        ("DINTERO_CLIENT_ID", emulator.client_id),
        ("DINTERO_CLIENT_SECRET", emulator.client_secret),
        ("DINTERO_BASE_URL", IN_PROCESS_BASE_URL),
        ("DINTERO_REDIS_URL", redis_url),
    ):
        monkeypatch.setenv(variable, value)


async def _connections(redis: Redis, expected: int) -> int:
    """Clients connected to the server once it has seen closed ones go (it notices late)."""
    for _ in range(100):
        count = len(await redis.client_list())
        if count == expected:
            break
        await asyncio.sleep(0.02)
    return count


async def test_from_env_shares_tokens_through_dintero_redis_url_and_closes_its_client(
    monkeypatch: pytest.MonkeyPatch,
    emulator: Emulator,
    server: RedisServer,
    redis: Redis,
    issued: list[str],
) -> None:
    _environment(monkeypatch, emulator, server.url)
    fleet = [Dintero.from_env(transport=Recording(emulator, issued)) for _ in range(2)]
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    assert (emulator.received("token"), emulator.received("exchange")) == (1, 3)
    assert len(await redis.client_list()) >= 3  # this test's own, and each instance's
    for dintero in fleet:
        await dintero.aclose()
    assert await _connections(redis, 1) == 1  # each instance closed the client it made


async def test_a_token_cache_given_wins_over_dintero_redis_url(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, redis: Redis, issued: list[str]
) -> None:
    _environment(monkeypatch, emulator, "not a Redis URL at all")
    fleet = [
        Dintero.from_env(transport=Recording(emulator, issued), token_cache=RedisTokenCache(redis))
        for _ in range(2)
    ]
    await asyncio.gather(*(everything(dintero) for dintero in fleet))
    assert (emulator.received("token"), emulator.received("exchange")) == (1, 3)
    for dintero in fleet:
        await dintero.aclose()
    assert await redis.ping() is True  # the user's client is the user's to close


def test_an_unusable_dintero_redis_url_is_named_never_quoted(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator
) -> None:
    _environment(monkeypatch, emulator, "http://user:pw-in-the-url@cache.internal:6379/0")
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env()
    assert str(info.value) == (
        "the environment variable DINTERO_REDIS_URL is not usable: it is not a Redis URL"
    )
    assert info.value.__cause__ is None
    assert "pw-in-the-url" not in str(info.value.__context__)


def test_dintero_redis_url_without_the_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, emulator: Emulator, server: RedisServer
) -> None:
    _environment(monkeypatch, emulator, server.url)
    for name in list(sys.modules):
        if name == "redis" or name.startswith("redis."):
            monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env()
    assert str(info.value).startswith("the environment variable DINTERO_REDIS_URL is not usable: ")
    assert "pip install 'dintero-aio[redis]'" in str(info.value)


@pytest.mark.parametrize("fault", ["garbage", "another secret", "full", "read-only"])
async def test_whatever_redis_holds_or_refuses_a_call_returns_its_model(
    fault: str,
    make: Make,
    emulator: Emulator,
    redis: Redis,
    server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 16's faults, seen through `Dintero` calls (tests/test_redis_faults.py has them at
    the token source): every key overwritten with garbage, or with a value sealed under another
    client secret; a server out of memory; a read-only replica. Each call of a new process still
    returns its model, and the fallback costs one fetch per account at most."""
    assert await everything(make()) == [[]] * 4
    keys = [key async for key in redis.scan_iter()]
    assert len(keys) == 4  # the account's token and three exchange tokens
    with contextlib.ExitStack() as stack:
        if fault == "garbage":
            for key in keys:
                await redis.set(key, b"\x00not a sealed token\xff", keepttl=True)
        elif fault == "another secret":
            other = Emulator(
                account_id=emulator.account_id,
                client_id=emulator.client_id,
                client_secret="another-secret",
                merchants=MERCHANTS,
            )
            await redis.flushall()
            sealed_elsewhere = Dintero(
                account_id=other.account_id,
                client_id=other.client_id,
                client_secret="another-secret",
                base_url=IN_PROCESS_BASE_URL,
                transport=other.transport(),
                token_cache=RedisTokenCache(redis),
            )
            async with sealed_elsewhere:
                await everything(sealed_elsewhere)
            assert sorted([key async for key in redis.scan_iter()]) == sorted(keys)
        elif fault == "full":
            await redis.flushall()
            server.command("CONFIG", "SET", "maxmemory", "1")
        else:
            await redis.flushall()
            primary = stack.enter_context(running_redis())
            assert server.command("REPLICAOF", "127.0.0.1", str(primary.port)).startswith(b"+OK")
        before = (emulator.processed("token"), emulator.processed("exchange"))
        assert await everything(make()) == [[]] * 4
        after = (emulator.processed("token"), emulator.processed("exchange"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 3)
    refused = {"full": "(OutOfMemoryError)", "read-only": "(ReadOnlyError)"}.get(fault)
    assert refused is None or f"token cache unavailable {refused}" in caplog.text
