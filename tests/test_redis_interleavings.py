"""Hypothesis drives "processes" (each a `SharedSource` on its own Redis connection pool, with
an in-memory token in front as `Tokens` keeps it) through random interleavings of concurrent
calls, clock jumps, server-side revocations (every call then meets a 401) and process restarts,
against a real redis-server. While Redis is healthy, the fake Dintero must never see a second
fetch for the same expiry: a fetch starts only when no other is under way and the newest token
is revoked or due for refresh. And every call ends up with a valid token."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from dintero_aio._auth import REFRESH_MARGIN, Issued
from dintero_aio._redis_cache import RedisTokenCache
from dintero_aio._shared_tokens import SharedSource, refresh_point

from .redis_server import RedisServer, running_redis
from .test_redis_shared import KEY, SECRET, Clock

LIFETIME = 3600
EXAMPLES = int(os.environ.get("DINTERO_FUZZ_EXAMPLES", "25"))


def due(left: float) -> bool:
    """What `Tokens` does: refresh once less than the margin is left."""
    return left <= min(REFRESH_MARGIN, LIFETIME / 2)


@dataclass
class Dintero:
    """Issues tokens and checks, at the start of every fetch, that the fleet needed one."""

    clock: Clock
    issued: list[tuple[str, float]] = field(default_factory=list)  # (token, expires_at)
    revoked: set[str] = field(default_factory=set)
    fetching: int = 0

    def valid(self, token: Issued) -> bool:
        expires = dict(self.issued)[token.access_token]
        return token.access_token not in self.revoked and expires > self.clock()

    async def fetch(self) -> Issued:
        assert self.fetching == 0, "two fetches at once"
        if self.issued:
            newest, expires_at = self.issued[-1]
            left = expires_at - self.clock()
            assert newest in self.revoked or left <= refresh_point(LIFETIME), "a second fetch"
        self.fetching += 1
        try:
            await asyncio.sleep(0.002)
            token = f"eyJ.interleaved-token-{len(self.issued)}"
            self.issued.append((token, self.clock() + LIFETIME))
            return Issued(token, LIFETIME, float(LIFETIME))
        finally:
            self.fetching -= 1

    async def rejected(self, token: Issued) -> None:
        """Nothing to forget here."""


class Process:
    """One worker: its shared source, and the token it holds in memory."""

    def __init__(self, url: str, dintero: Dintero, clock: Clock) -> None:
        self.redis = Redis.from_url(url)
        self.source = SharedSource(RedisTokenCache(self.redis), dintero, key=KEY, secret=SECRET)
        self.clock = clock
        self.dintero = dintero
        self.held: tuple[Issued, float] | None = None  # (token, when it was received)

    async def _fetch(self) -> Issued:
        token = await self.source.fetch()
        self.held = (token, self.clock())
        return token

    async def call(self) -> None:
        """What `Tokens` and `TokenAuth` do for one API call: refresh if due; on a 401, tell
        the source and fetch again, once more if the replayed token came from the store."""
        if self.held is None or due(self.held[0].expires_in - (self.clock() - self.held[1])):
            token = await self._fetch()
        else:
            token = self.held[0]
        for _ in range(2):
            if self.dintero.valid(token):
                return
            await self.source.rejected(token)
            replayed_shared = token.source == "shared"
            token = await self._fetch()
            if not replayed_shared:
                break
        assert self.dintero.valid(token), "a call failed with a 401"


Step = tuple[str, int | list[int]]
steps = st.lists(
    st.one_of(
        st.tuples(st.just("calls"), st.lists(st.integers(0, 3), min_size=1, max_size=6)),
        st.tuples(
            st.just("advance"), st.sampled_from([1, 600, 3300, 3400, 3500, 3545, 3600, 5000])
        ),
        st.tuples(st.just("revoke"), st.just(0)),
        st.tuples(st.just("restart"), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=8,
)


async def run(url: str, plan: list[Step]) -> None:
    clock = Clock()
    dintero = Dintero(clock)
    fleet = [Process(url, dintero, clock) for _ in range(4)]
    try:
        for action, arg in plan:
            if action == "calls":
                assert isinstance(arg, list)
                await asyncio.gather(*(fleet[p].call() for p in arg))
            elif action == "advance":
                assert isinstance(arg, int)
                clock.now += arg
            elif action == "revoke":
                dintero.revoked.update(token for token, _ in dintero.issued)
            else:
                assert isinstance(arg, int)
                await fleet[arg].redis.aclose()
                fleet[arg] = Process(url, dintero, clock)
    finally:
        for process in fleet:
            await process.redis.aclose()


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def test_at_most_one_fetch_per_expiry_whatever_the_interleaving(server: RedisServer) -> None:
    with asyncio.Runner() as runner:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(plan=steps)
        def check(plan: list[Step]) -> None:
            server.command("FLUSHALL")
            runner.run(run(server.url, plan))

        check()
