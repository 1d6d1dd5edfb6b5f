"""`TokenCache`: what a store must do to share tokens across a fleet of processes.

The SDK keeps every token in memory in front of the store (the hot path never touches it), and
does the rest itself: keys, AES-GCM encryption of every value, the fleet-wide lock protocol,
timeouts and falling back to fetching in-process when the store fails
(`dintero_aio._shared_tokens`). A store only needs four atomic single-key operations, so any
key-value store with expiry and a compare-and-delete can serve: `RedisTokenCache` is the one
that comes with the SDK.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class TokenCache(Protocol):
    """A key-value store with expiry, shared by every process of a fleet.

    Keys are short printable ASCII strings that name what they hold (for example
    `token:T12345678:my-client:https%3A//api.dintero.com/v1/accounts/T12345678`, with its lock
    under the same name plus `:lock`); a store may put a prefix of its own in front. Values are
    printable ASCII strings of at most a few kilobytes (a token is stored encrypted and
    base64-encoded). Every operation is on one key and must be atomic. `ttl` is in seconds,
    greater than zero; a store may round it up to its own resolution (milliseconds for Redis),
    and must expire the key after it.

    The SDK bounds every operation by `timeout` seconds and treats any exception (or a timeout)
    as "the store is unavailable": it then fetches tokens in-process, as without a store, and
    tries the store again after a pause. So a store need not catch anything itself, and nothing
    it raises ever reaches the SDK's caller.

    `lock_ttl` is how long a process may hold the lock on fetching a token: long enough for one
    token request to Dintero, short because, if the holder dies, the others wait that long
    before one of them takes over.
    """

    @property
    def timeout(self) -> float:
        """Seconds one operation may take before the SDK gives up on it."""
        ...

    @property
    def lock_ttl(self) -> float:
        """Seconds a fetch lock lives unless its owner releases it first."""
        ...

    async def get(self, key: str) -> str | None:
        """The value under `key`, or None if there is none (or it has expired)."""
        ...

    async def set(self, key: str, value: str, ttl: float) -> None:
        """Store `value` under `key` (replacing what is there), expiring after `ttl` seconds."""
        ...

    async def add(self, key: str, value: str, ttl: float) -> bool:
        """Store `value` under `key` only if the key holds nothing; whether it was stored.
        (Redis: `SET key value NX PX ttl`.) This is the fleet's lock."""
        ...

    async def delete_if(self, key: str, value: str) -> bool:
        """Delete `key` only if it still holds exactly `value`; whether it was deleted. (Redis: a
        compare-and-delete script.) Releases a lock only by its owner, and removes a rejected
        token only if no other process has replaced it meanwhile."""
        ...
