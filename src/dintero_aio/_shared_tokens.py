"""`SharedSource`: one token fetch per account and expiry across a whole fleet of processes.

Each process keeps its token in memory (`_auth.Tokens`) and asks its `SharedSource` only on a
miss, a refresh or a 401. The source looks in the fleet's store (any `TokenCache`: Redis) first;
on a miss one process fetches from Dintero and stores the token, and the others wait for it:

- **Lock**: `add(lock, owner, lock_ttl)` (Redis `SET NX PX`) with a random owner token. The
  owner reads the key once more (another process may have stored a token between its miss and
  its lock), fetches through `inner`, stores, and releases the lock with a compare-and-delete, so
  a lock that expired and was taken by another process is never released by the first. A dead
  owner's lock expires after `lock_ttl` (10 s by default with Redis); a live owner renews it
  while its fetch runs (Dintero slow, or answering 429 with a long Retry-After).
- **Waiting**: the others poll the key at growing intervals (10 ms, doubling to 200 ms, with
  jitter: one GET each) until a token appears; from 200 ms on they also check the lock, and if
  it is gone without a token (the owner failed, or died and its lock expired) they try to take
  it themselves. Polling is bounded by the lock's expiry; `Tokens` runs the fetch as a task that
  its callers await through their own deadlines. A process keeps at most `IN_FLIGHT` (4) store
  operations under way at once: hundreds of fetches starting together make a short queue, not
  hundreds of Redis connections.
- **Refreshes spread out, the first one fetches**: a token read from the store is handed out
  with its time left shortened by a random part of `SPREAD` of its lifetime, so each process's
  `Tokens` refreshes it at its own moment within that window before the usual point (otherwise
  every process of the fleet would read the store in the same instant). A stored token within
  `min(REFRESH_MARGIN, lifetime / 2) + SPREAD * lifetime` of its expiry counts as a miss: the
  first process to refresh fetches the next token for the fleet (as on a cold start, the
  others that come meanwhile wait for it), and the later ones read it. One fetch per expiry,
  a twentieth of a lifetime early (12 minutes of Dintero's 4 hours).
- **401**: `rejected(token)` deletes the key only if it still holds the very value that was
  rejected (compare-and-delete), so a fleet that sees its token rejected at once removes it
  once, and a token another process has already replaced stays. The value rejected here is
  also never handed out again by this source, whatever the store says. If the store holds
  another token, the next `fetch` returns it (source "shared"); if that one is rejected too, the
  same happens to it and the fetch after that asks Dintero.

**Encrypted at rest**: a stored value is `1.` and the base64url of a 96-bit random nonce and the
AES-GCM encryption of `[access_token, lifetime, expires_at]`, under a 256-bit key that HKDF-SHA256
derives from the client secret, with the key's name in HKDF's info and as the associated data.
Whoever reads the store without the secret learns nothing; a value moved to another key, written
under another secret (the fleet after a rotation), or not ours at all fails to open and counts as
a miss, so the owner overwrites it. Key names say what they hold (kind, account, client id,
audience or merchant) and never contain a secret. Every key expires: a token's when the token
does (its TTL is the time it has left), a lock's after `lock_ttl`.

**Never a point of failure**: every store operation is bounded by the store's `timeout` (1 s for
Redis), counted in this process's attention: a deadline that passes while the event loop is held
up elsewhere (its timer fires late) moves on (`_within`). Any exception, or a timeout while the
store answered nothing else, marks the store unavailable for this process for a pause (1 s,
doubling to 30 s, shared by every source on that store), during which tokens are fetched
in-process exactly as without a store; what was under way goes on the same way (a token just
fetched is still used if storing it fails). A timeout while the store did answer other
operations of this process means the process is busy, not the store down: the fetch goes round
again, for up to `lock_ttl`, then fetches in-process without pausing the store. (Without these
two rules, processes starting hundreds of calls at once on a loaded machine gave up on a healthy
Redis in bench/fleet.py and fetched their own tokens.) Store failures are logged at INFO with
the exception's type only (a message may name a host or worse); nothing from the store ever
reaches the caller. A fetch from Dintero that fails raises its own `DinteroError`, as without a
store.

Expiry times in the store are wall-clock (`time.time()`) so that hosts can share them; hosts'
clocks must agree within seconds (NTP). A host whose clock runs behind keeps a token a little
too long and meets a 401, which refreshes it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import os
import random
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import attrs

from ._auth import MAX_LIFETIME, REFRESH_MARGIN, Issued, TokenSource
from ._errors import InvalidInputError
from ._timeouts import seconds
from ._token_cache import TokenCache

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger("dintero_aio")

#: Polling for another process's token: the first interval and the longest (seconds).
FIRST_POLL, MAX_POLL = 0.01, 0.2
#: The share of a token's lifetime over which the fleet's refreshes are spread.
SPREAD = 0.05
#: How often a store operation's deadline may move on because the event loop was held up.
_EXTENSIONS = 8
#: Store operations under way at once per process (per store): Redis connections, mostly.
IN_FLIGHT = 4
#: How long the store goes unused after a failure: the first pause and the longest (seconds).
FIRST_PAUSE, MAX_PAUSE = 1.0, 30.0
#: Characters of a key part kept as they are; the rest (':' above all) is percent-encoded, so
#: parts never run into each other and no '{' makes a Redis Cluster hash tag.
_KEY_SAFE = "/.-_~@"
_FORMAT = "1"  # the first part of every stored value: the layout of what follows
_NONCE_BYTES = 12
_HKDF_INFO = b"dintero-aio token cache v1\x00"

_T = TypeVar("_T")
#: What `_quietly` returns for an operation that failed, or timed out in a busy process.
_FAILED, _BUSY = object(), object()


class _StoreFailed(Exception):
    """A store operation raised, or timed out while the store answered nothing else: the store
    is down, or unusable (never leaves this module)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _StoreBusy(Exception):
    """A store operation timed out while other operations of this process got their answers:
    the store is up, and this process was too busy (its event loop running late, as when
    hundreds of calls start at once) to read the answer in time (never leaves this module)."""


class _Health:
    """Whether a store may be used now, and the slots for operations on it; shared by every
    source on the same store in a process, so that a dead store costs one timeout, not one per
    account, and a process starting hundreds of fetches at once keeps `IN_FLIGHT` operations
    (connections, with Redis) under way, not hundreds."""

    __slots__ = ("_slots", "answered", "down_until", "pause")

    def __init__(self) -> None:
        self.pause = 0.0
        self.down_until = 0.0
        self.answered = 0.0  # monotonic time of the last answer from the store
        self._slots: tuple[weakref.ref[asyncio.AbstractEventLoop], asyncio.Semaphore] | None = None

    def usable(self) -> bool:
        return time.monotonic() >= self.down_until

    def slot(self) -> asyncio.Semaphore:
        """The running loop's semaphore (a store used from another loop gets its own)."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0]() is not loop:
            self._slots = (weakref.ref(loop), asyncio.Semaphore(IN_FLIGHT))
        return self._slots[1]

    def failed(self, kind: str, pause: tuple[float, float]) -> None:
        now = time.monotonic()
        if now < self.down_until:  # known already: concurrent failures make one pause, not more
            return
        first, longest = pause
        self.pause = min(longest, max(first, self.pause * 2))
        self.down_until = now + self.pause
        log.info(
            "token cache unavailable (%s): fetching tokens in this process, next try in %.3gs",
            kind,
            self.pause,
        )

    def worked(self) -> None:
        self.answered = time.monotonic()
        if self.pause:
            self.pause = 0.0
            log.info("token cache available again")


_healths: weakref.WeakKeyDictionary[object, _Health] = weakref.WeakKeyDictionary()


def _health_of(cache: TokenCache) -> _Health:
    try:
        return _healths.setdefault(cache, _Health())
    except TypeError:  # a store that cannot be weakly referenced: its sources each keep one
        return _Health()


def _cipher(secret: str, key: str) -> AESGCM:
    try:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    except ImportError:
        raise InvalidInputError(
            "token_cache needs the 'redis' extra (cryptography is not installed): "
            "pip install 'dintero-aio[redis]'"
        ) from None
    derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO + key.encode())
    return AESGCM(derive.derive(secret.encode()))


async def _within(operation: Awaitable[_T], seconds: float) -> _T:
    """`operation` within `seconds` of this process's attention: a deadline that passes while
    the event loop is held up elsewhere (its timer then fires late, by a quarter of `seconds` or
    more, and an answer that arrived meanwhile is not read yet) moves on by `seconds`, up to
    `_EXTENSIONS` times. Then TimeoutError, and `operation` is cancelled."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(operation)
    deadline = loop.time() + seconds
    try:
        for _ in range(1 + _EXTENSIONS):
            await asyncio.wait([task], timeout=max(0.0, deadline - loop.time()))
            if task.done():
                return task.result()
            now = loop.time()
            if now - deadline < seconds / 4:
                break  # on time: the store did not answer
            deadline = now + seconds
        raise TimeoutError
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_consume)


def _consume(task: asyncio.Future[Any]) -> None:
    """Reads the outcome of an operation given up on, so asyncio never logs it as unread."""
    if not task.cancelled():
        task.exception()


def refresh_point(lifetime: int) -> float:
    """Seconds before its expiry from which a stored token counts as a miss: the latest point
    at which a `Tokens` refreshes it (see the module docstring)."""
    return min(REFRESH_MARGIN, lifetime / 2) + SPREAD * lifetime


def key_name(parts: tuple[str, ...]) -> str:
    """The store key for `parts` (kind, account, client id, audience or merchant)."""
    return ":".join(quote(part, safe=_KEY_SAFE) for part in parts)


class SharedSource:
    """A `TokenSource` that shares the tokens of `inner` (the source that asks Dintero) with
    every process using the same `cache` (see the module docstring).

    `key` names the token (`("token", account_id, client_id, audience)` or `("exchange",
    partner_id, partner_client_id, merchant_id)`); `secret` is the client secret the stored
    value is encrypted with (only a key derived from it is kept). The cache's `timeout` and
    `lock_ttl` are read here (InvalidInputError unless they are positive seconds). `clock`
    (wall-clock seconds) and `pause` (the first and the longest pause after a store failure)
    are for tests.
    """

    __slots__ = (
        "_aad",
        "_cache",
        "_cipher",
        "_clock",
        "_health",
        "_inner",
        "_key",
        "_lock",
        "_lock_ttl",
        "_pause",
        "_rejected",
        "_timeout",
    )

    def __init__(
        self,
        cache: TokenCache,
        inner: TokenSource,
        *,
        key: tuple[str, ...],
        secret: str,
        clock: Callable[[], float] = time.time,
        pause: tuple[float, float] = (FIRST_PAUSE, MAX_PAUSE),
    ) -> None:
        self._cache = cache
        self._timeout = seconds("token_cache.timeout", getattr(cache, "timeout", None))
        self._lock_ttl = seconds("token_cache.lock_ttl", getattr(cache, "lock_ttl", None))
        self._inner = inner
        self._key = key_name(key)
        self._lock = f"{self._key}:lock"
        self._aad = self._key.encode()
        self._cipher = _cipher(secret, self._key)
        self._clock = clock
        self._pause = pause
        self._health = _health_of(cache)
        self._rejected: str | None = None  # the last value rejected here: never handed out again

    def __repr__(self) -> str:
        return f"<SharedSource {self._key}>"

    async def fetch(self) -> Issued:
        """A token from the store, or fetched by this process for the fleet, or (the store
        being unavailable) fetched by this process for itself."""
        if self._health.usable():
            # One owner token for the whole fetch: a lock that an `add` took before timing out
            # is still recognised as ours when the fetch goes round again.
            owner = secrets.token_urlsafe(16)
            give_up = time.monotonic() + self._lock_ttl
            while True:
                try:
                    return await self._fetch_shared(owner)
                except _StoreBusy:
                    if time.monotonic() >= give_up:
                        log.info("token cache too slow for this busy process; fetching alone")
                        break
                except _StoreFailed as failure:
                    self._health.failed(failure.kind, self._pause)
                    break
        return await self._inner.fetch()

    async def rejected(self, token: Issued) -> None:
        """Dintero answered 401 to `token`: remove it from the store if the store still holds
        it (and never hand it out again)."""
        await self._inner.rejected(token)
        stored = token.stored
        if not isinstance(stored, str):
            return  # fetched while the store was unavailable: only this process had it
        self._rejected = stored
        if self._health.usable():
            await self._quietly(self._cache.delete_if, self._key, stored)

    async def _fetch_shared(self, owner: str) -> Issued:
        poll = FIRST_POLL
        while True:
            found = await self._read()
            if found is not None:
                return found
            if await self._op(self._cache.add, self._lock, owner, self._lock_ttl):
                return await self._fetch_as_owner(owner)
            while True:  # another process is fetching it: wait for its token or its end
                await asyncio.sleep(poll * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                found = await self._read()
                if found is not None:
                    return found
                if poll == MAX_POLL:
                    holder = await self._op(self._cache.get, self._lock)
                    if holder == owner:  # taken by an earlier `add` of ours that timed out
                        return await self._fetch_as_owner(owner)
                    if holder is None:
                        break  # gone without a token (it failed, or died and its lock expired)
                poll = min(MAX_POLL, poll * 2)

    async def _fetch_as_owner(self, owner: str) -> Issued:
        try:
            found = await self._read()  # stored by another owner between our miss and our lock
            if found is not None:
                return found
            started = self._clock()
            keeper = asyncio.create_task(self._keep(owner), name="dintero-token-lock")
            try:
                issued = await self._inner.fetch()
            finally:
                keeper.cancel()
                await asyncio.wait([keeper])  # ended before the lock is released
            return await self._store(issued, started + issued.expires_in)
        finally:
            # Even after a failure to store (a full Redis still deletes), so that the others
            # stop waiting; or it expires.
            await self._quietly(self._cache.delete_if, self._lock, owner, always=True)

    async def _keep(self, owner: str) -> None:
        """Keep the lock while the fetch runs (Dintero slow, or answering 429 with a long
        Retry-After), so that the others go on waiting instead of fetching too: every third of
        `lock_ttl`, while the lock is still ours, set it again for `lock_ttl`. (Two thirds of its
        time are left when it is read, so it cannot expire and be taken between the read and
        the write.) If this process dies, the lock expires `lock_ttl` after the last renewal."""
        while True:
            await asyncio.sleep(self._lock_ttl / 3)
            if await self._quietly(self._cache.get, self._lock) != owner:
                return
            await self._quietly(self._cache.set, self._lock, owner, self._lock_ttl)

    async def _store(self, issued: Issued, expires_at: float) -> Issued:
        """`issued`, stored for the fleet if it lives long enough; a failure to store changes
        nothing for this caller (the lock's release then lets another process fetch)."""
        left = expires_at - self._clock()
        if left <= 0:
            return issued
        value = self._seal(issued.access_token, issued.lifetime, expires_at)
        for _ in range(2):  # once more if this process was too busy to see the answer
            stored = await self._quietly(self._cache.set, self._key, value, left)
            if stored is not _BUSY:
                return issued if stored is _FAILED else attrs.evolve(issued, stored=value)
        return issued

    async def _quietly(
        self, operation: Callable[..., Awaitable[object]], *args: object, always: bool = False
    ) -> object:
        """`_op` for an operation whose failure changes nothing for the caller: `_FAILED` (the
        store is down, and so marked) or `_BUSY` instead of raising."""
        try:
            return await self._op(operation, *args, always=always)
        except _StoreBusy:
            return _BUSY
        except _StoreFailed as failure:
            self._health.failed(failure.kind, self._pause)
            return _FAILED

    async def _read(self) -> Issued | None:
        """The stored token if there is one this process may use and need not refresh."""
        stored = await self._op(self._cache.get, self._key)
        if stored is None or stored == self._rejected:
            return None
        opened = self._open(stored)
        if opened is None:
            return None
        access_token, lifetime, expires_at = opened
        left = expires_at - self._clock()
        if left <= refresh_point(lifetime):
            return None  # due for refresh: whoever sees it first fetches the next one
        early = random.uniform(0, SPREAD * lifetime)  # noqa: S311 - spreads refreshes, no secret
        return Issued(access_token, lifetime, left - early, source="shared", stored=stored)

    async def _op(
        self, operation: Callable[..., Awaitable[_T]], *args: object, always: bool = False
    ) -> _T:
        """One store operation, once one of the process's `IN_FLIGHT` slots for the store is
        free, within the store's timeout; `always`: even if the store was found unavailable
        meanwhile (a lock's release). A timeout is `_StoreBusy` if the store answered another
        operation of this process meanwhile, else (like any exception) `_StoreFailed`."""
        health = self._health
        async with health.slot():
            if not (always or health.usable()):  # found down while this one waited its turn
                raise _StoreFailed("unavailable")
            started = time.monotonic()
            try:
                result = await _within(operation(*args), self._timeout)
            except TimeoutError:
                if health.answered > started:
                    raise _StoreBusy from None
                raise _StoreFailed("TimeoutError") from None
            except Exception as error:  # whatever the store raises
                raise _StoreFailed(type(error).__name__) from None
        health.worked()
        return result

    def _seal(self, access_token: str, lifetime: int, expires_at: float) -> str:
        plain = json.dumps([access_token, lifetime, float(expires_at)], separators=(",", ":"))
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._cipher.encrypt(nonce, plain.encode(), self._aad)
        return f"{_FORMAT}.{base64.urlsafe_b64encode(sealed).decode()}"

    def _open(self, stored: str) -> tuple[str, int, float] | None:
        """(access token, lifetime, expiry) from a stored value; None for anything this
        process did not seal under this key with this secret, or that makes no sense."""
        from cryptography.exceptions import InvalidTag

        form, _, body = stored.partition(".")
        if form != _FORMAT:
            return None
        try:
            sealed = base64.urlsafe_b64decode(body)
            nonce, encrypted = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
            opened = json.loads(self._cipher.decrypt(nonce, encrypted, self._aad))
        except (ValueError, InvalidTag):  # not base64, too short, tampered, another secret
            return None
        match opened:
            case [str(access_token), int(lifetime), float(expires_at)] if (
                access_token and 0 <= lifetime <= MAX_LIFETIME and math.isfinite(expires_at)
            ):
                return access_token, lifetime, expires_at
        return None
