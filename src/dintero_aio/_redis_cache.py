"""`RedisTokenCache`: the `TokenCache` of a fleet that shares a Redis (or Redis Cluster)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Self, TypeVar

from . import _inputs
from ._errors import InvalidInputError
from ._timeouts import seconds

if TYPE_CHECKING:
    from redis.asyncio import Redis, RedisCluster

#: Seconds each Redis operation may take before the SDK goes on without Redis. Not less: a
#: process that starts hundreds of calls at once on a loaded machine reads an answer hundreds
#: of milliseconds late (0.25 s made processes of bench/fleet.py give up on a healthy Redis).
DEFAULT_TIMEOUT = 1.0
#: Seconds a fetch lock lives if its owner dies: one token request takes well under a second.
DEFAULT_LOCK_TTL = 10.0
#: Deletes KEYS[1] only if it holds ARGV[1]: a lock released by its owner only, a rejected token
#: removed only if no other process has replaced it. One key, so Redis Cluster runs it too.
_DELETE_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
_T = TypeVar("_T")

#: redis-py's option for reading a reply as bytes even on a `decode_responses=True` client, so a
#: value that is not UTF-8 (garbage written by someone else) reads as garbage, not as an error.
_RAW = {"NEVER_DECODE": True}


def _redis() -> tuple[type[Redis], type[RedisCluster], type[Exception]]:
    """The client classes and redis-py's ConnectionError, or InvalidInputError naming the extra
    that brings them."""
    try:
        import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401 - needed for the values
        from redis.asyncio import Redis, RedisCluster
        from redis.exceptions import ConnectionError
    except ImportError as missing:
        raise InvalidInputError(
            f"RedisTokenCache needs the 'redis' extra ({missing.name} is not installed): "
            "pip install 'dintero-aio[redis]'"
        ) from None
    return Redis, RedisCluster, ConnectionError


def _ms(ttl: float) -> int:
    return max(1, math.ceil(ttl * 1000))


class RedisTokenCache:
    """Tokens shared through Redis by every process that uses the same Redis and prefix:
    `Dintero(..., token_cache=RedisTokenCache(redis))`.

    Each process still keeps its tokens in memory and calls Redis only on a miss or a refresh
    (never on the hot path); one process of the fleet fetches each token and the others read
    it. What is stored is encrypted and authenticated with a key derived from the client secret,
    expires with the token, and is never needed: if Redis is down, slow, read-only, full or holds
    garbage, every process fetches its own tokens as without a cache, and tries Redis again after
    a pause; no Redis error ever reaches a caller. See `TokenCache` and docs/fleet.md.

    Args:
        redis: Your `redis.asyncio.Redis` or `redis.asyncio.RedisCluster` (`decode_responses`
            either way). It is never closed here: close it yourself after the `Dintero`
            instances that use it. Each key is used alone (GET, SET NX PX, a one-key
            compare-and-delete script), so a cluster needs no hash tags.
        prefix: Put before every key (`{prefix}:token:...`), to share one Redis with other
            applications, or to keep apart fleets that must not share tokens.
        timeout: Seconds each Redis operation may take (1 by default) before it counts as a
            failure and the token is fetched in-process (unless Redis answered the process's
            other operations meanwhile: then the process, not Redis, was slow).
        lock_ttl: Seconds a process may hold the lock on fetching a token (10 by default); if
            it dies holding it, the others fetch after that long.
    """

    __slots__ = (
        "__weakref__",
        "_broken",
        "_delete_if",
        "_owned",
        "_prefix",
        "_redis",
        "lock_ttl",
        "timeout",
    )

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        prefix: str = "dintero-aio",
        timeout: float = DEFAULT_TIMEOUT,
        lock_ttl: float = DEFAULT_LOCK_TTL,
    ) -> None:
        *clients, self._broken = _redis()
        if not isinstance(redis, tuple(clients)):
            raise InvalidInputError(
                "redis must be a redis.asyncio.Redis or redis.asyncio.RedisCluster, "
                f"got {type(redis).__name__}"
            )
        prefix = _inputs.text("prefix", prefix)
        if not (prefix.isascii() and prefix.isprintable()):
            raise InvalidInputError("prefix must be printable ASCII")
        self.timeout = seconds("timeout", timeout)
        self.lock_ttl = seconds("lock_ttl", lock_ttl)
        self._redis = redis
        self._prefix = f"{prefix}:"
        self._owned = False
        self._delete_if = redis.register_script(_DELETE_IF)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "dintero-aio",
        timeout: float = DEFAULT_TIMEOUT,
        lock_ttl: float = DEFAULT_LOCK_TTL,
    ) -> Self:
        """A cache with its own client for `url` (`redis://`, `rediss://` or `unix://`, as
        `redis.asyncio.from_url` takes it; `DINTERO_REDIS_URL` for `Dintero.from_env()` and
        the CLI). Nothing connects until first use; `aclose()` closes the client."""
        redis_class, _, _ = _redis()
        url = _inputs.text("url", url)
        try:
            client = redis_class.from_url(url)
        except ValueError:  # the message would quote the URL, which may hold a password
            raise InvalidInputError(
                "the Redis URL is not valid: redis://[[user]:password@]host[:port][/db], "
                "rediss://... or unix://path"
            ) from None
        cache = cls(client, prefix=prefix, timeout=timeout, lock_ttl=lock_ttl)
        cache._owned = True
        return cache

    async def aclose(self) -> None:
        """Close the client if `from_url` made it; a client you passed in is left open."""
        if self._owned:
            await self._redis.aclose()

    def __repr__(self) -> str:
        return f"RedisTokenCache({type(self._redis).__name__}, prefix={self._prefix[:-1]!r})"

    async def get(self, key: str) -> str | None:
        key = self._prefix + key
        value = await self._again(lambda: self._redis.execute_command("GET", key, **_RAW))
        if value is None:
            return None
        return bytes(value).decode("ascii", "replace")

    async def set(self, key: str, value: str, ttl: float) -> None:
        key = self._prefix + key
        await self._again(lambda: self._redis.set(key, value, px=_ms(ttl)))

    async def add(self, key: str, value: str, ttl: float) -> bool:
        key = self._prefix + key
        try:
            return bool(await self._redis.set(key, value, px=_ms(ttl), nx=True))
        except self._broken:
            pass
        # The first try may have set it before its connection broke: then it is ours.
        if await self._redis.set(key, value, px=_ms(ttl), nx=True):
            return True
        return bytes(await self._redis.execute_command("GET", key, **_RAW) or b"") == value.encode()

    async def delete_if(self, key: str, value: str) -> bool:
        keys = [self._prefix + key]
        return bool(await self._again(lambda: self._delete_if(keys=keys, args=[value])))

    async def _again(self, command: Callable[[], Awaitable[_T]]) -> _T:
        """`command`, and once more if its connection turns out broken: redis-py raises at once
        (without retrying) when a pooled connection was closed by the server, as after a Redis
        restart, and a second try gets a new connection. Every command here may run twice."""
        try:
            return await command()
        except self._broken:
            return await command()
