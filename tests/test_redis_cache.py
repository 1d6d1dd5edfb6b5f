"""`RedisTokenCache` against a real redis-server: the four operations, TTLs, both decode modes,
a one-node Redis Cluster, who closes the client, and the checks on what it is given."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from redis.asyncio import Redis, RedisCluster

from dintero_aio import InvalidInputError
from dintero_aio._redis_cache import DEFAULT_LOCK_TTL, DEFAULT_TIMEOUT, RedisTokenCache
from dintero_aio._shared_tokens import SharedSource
from dintero_aio._token_cache import TokenCache

from .redis_server import RedisServer, running_redis


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


@pytest.fixture
async def client(server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(server.url)
    yield client
    await client.aclose()


async def test_operations_are_atomic_single_key_commands_under_the_prefix(client: Redis) -> None:
    cache = RedisTokenCache(client, prefix="fleet-a")
    assert await cache.get("k") is None
    await cache.set("k", "v1", 30.0)
    assert await cache.get("k") == "v1"
    assert await client.get("fleet-a:k") == b"v1"  # the prefix, and nothing else, in front
    assert 29_000 < await client.pttl("fleet-a:k") <= 30_000

    assert await cache.add("lock", "owner-1", 5.0) is True
    assert await cache.add("lock", "owner-2", 5.0) is False  # NX: the first owner keeps it
    assert await cache.get("lock") == "owner-1"
    assert 4_000 < await client.pttl("fleet-a:lock") <= 5_000

    assert await cache.delete_if("lock", "owner-2") is False  # not the owner: nothing deleted
    assert await cache.get("lock") == "owner-1"
    assert await cache.delete_if("lock", "owner-1") is True
    assert await cache.get("lock") is None
    assert await cache.delete_if("lock", "owner-1") is False  # already gone


async def test_ttls_are_whole_milliseconds_and_never_zero(client: Redis) -> None:
    cache = RedisTokenCache(client)
    await cache.set("short", "v", 0.0001)  # rounded up to 1 ms, not to "no expiry" or an error
    assert await client.pttl("dintero-aio:short") in (-2, 0, 1)  # expired already, or about to
    await cache.set("long", "v", 14400.0004)
    assert 14_399_000 < await client.pttl("dintero-aio:long") <= 14_400_001


async def test_a_decode_responses_client_works_and_reads_non_utf8_as_text(
    server: RedisServer, client: Redis
) -> None:
    decoding = Redis.from_url(server.url, decode_responses=True)
    try:
        cache = RedisTokenCache(decoding)
        await cache.set("k", "v", 10)
        assert await cache.get("k") == "v"
        assert await cache.add("lock", "o", 10) is True
        assert await cache.delete_if("lock", "o") is True
        await client.set("dintero-aio:garbage", b"\xff\xfe\x00not text")
        assert await cache.get("garbage") == "\ufffd\ufffd\x00not text"  # garbage, not an error
    finally:
        await decoding.aclose()


async def test_a_one_node_redis_cluster_runs_every_operation() -> None:
    with running_redis(cluster=True) as server:
        cluster = RedisCluster.from_url(server.url)
        try:
            cache = RedisTokenCache(cluster)
            await cache.set("token:T1:c:a", "v", 10)
            assert await cache.get("token:T1:c:a") == "v"
            assert await cache.add("token:T1:c:a:lock", "o", 10) is True
            assert await cache.add("token:T1:c:a:lock", "p", 10) is False
            assert await cache.delete_if("token:T1:c:a:lock", "p") is False
            assert await cache.delete_if("token:T1:c:a:lock", "o") is True
            assert await cluster.exists("dintero-aio:token:T1:c:a:lock") == 0
        finally:
            await cluster.aclose()


async def test_the_users_client_is_never_closed(client: Redis) -> None:
    cache = RedisTokenCache(client)
    await cache.set("k", "v", 10)
    await cache.aclose()
    assert await client.ping() is True
    assert await cache.get("k") == "v"


async def test_from_url_owns_its_client_and_aclose_closes_it(server: RedisServer) -> None:
    cache = RedisTokenCache.from_url(server.url, prefix="p", timeout=0.5, lock_ttl=3)
    assert (cache.timeout, cache.lock_ttl) == (0.5, 3.0)
    await cache.set("k", "v", 10)
    assert await cache.get("k") == "v"
    clients = await cache._redis.client_list()
    assert len(clients) == 1
    await cache.aclose()
    probe = Redis.from_url(server.url)
    try:
        assert len(await probe.client_list()) == 1  # only the probe: the cache's connection closed
    finally:
        await probe.aclose()


def test_defaults_are_documented_values() -> None:
    cache = RedisTokenCache(Redis())  # nothing connects until first use
    assert (cache.timeout, cache.lock_ttl) == (DEFAULT_TIMEOUT, DEFAULT_LOCK_TTL) == (1.0, 10.0)
    assert isinstance(cache, TokenCache)


def test_repr_names_the_client_kind_and_prefix_never_the_url() -> None:
    cache = RedisTokenCache.from_url("redis://:hunter2-password@127.0.0.1:1/0", prefix="fleet")
    assert repr(cache) == "RedisTokenCache(Redis, prefix='fleet')"


@pytest.mark.parametrize(
    "url", ["http://:hunter2-password@127.0.0.1:1", "redis://:hunter2-password@127.0.0.1:x/0"]
)
def test_a_bad_url_is_invalid_input_without_the_url(url: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        RedisTokenCache.from_url(url)
    assert "hunter2" not in str(raised.value)
    assert raised.value.__suppress_context__  # no traceback shows redis-py's own message


@pytest.mark.parametrize(
    "wrong",
    [redis.Redis(), "redis://127.0.0.1", None, object()],
    ids=["sync-client", "url", "none", "object"],
)
def test_anything_but_an_async_client_is_invalid_input(wrong: object) -> None:
    with pytest.raises(InvalidInputError, match=r"redis\.asyncio\.Redis or .*RedisCluster, got"):
        RedisTokenCache(wrong)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("prefix", ""),
        ("prefix", "  "),
        ("prefix", "flåte"),
        ("prefix", "a\nb"),
        ("prefix", 7),
        ("timeout", 0),
        ("timeout", -1),
        ("timeout", float("nan")),
        ("timeout", True),
        ("lock_ttl", 0),
        ("lock_ttl", float("inf")),
        ("lock_ttl", "10"),
    ],
)
def test_bad_settings_are_invalid_input(setting: str, value: object) -> None:
    with pytest.raises(InvalidInputError, match=setting):
        RedisTokenCache(Redis(), **{setting: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("module", ["redis", "redis.asyncio", "cryptography"])
def test_without_the_extra_the_error_names_it(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    client = Redis()
    for name in list(sys.modules):
        if name == module or name.startswith(f"{module}."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(InvalidInputError, match=r"pip install 'dintero-aio\[redis\]'"):
        RedisTokenCache(client)
    with pytest.raises(InvalidInputError, match=r"pip install 'dintero-aio\[redis\]'"):
        RedisTokenCache.from_url("redis://127.0.0.1")


def test_a_shared_source_without_cryptography_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = RedisTokenCache(Redis())
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(InvalidInputError, match=r"pip install 'dintero-aio\[redis\]'"):
        SharedSource(
            cache,
            None,  # type: ignore[arg-type]
            key=("token", "T12345678", "c", "a"),
            secret="s",
        )
