"""A fleet of real worker processes, each with its own event loop and `Dintero.from_env()` (so
`DINTERO_REDIS_URL` gives it a `RedisTokenCache`), against the emulator served on loopback by
this test process and a real redis-server. The emulator counts what it issued: one token and
one exchange per merchant account per expiry for the whole fleet; Redis killed and restarted
mid-run costs fetches in-process, never a call; a lock owner killed while fetching delays the
others by the lock's TTL, never fails them.

Each worker (this module run as a script) reads commands on stdin: `go` runs one round (its own
`clients.list()` and one per merchant account, all at once) and prints one JSON line; `quit`
closes the client and exits. Its `dintero_aio` log goes to stderr, which the tests read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dintero_aio.testing import Emulator, RunningEmulator, serve

from .redis_server import RedisServer, running_redis

MERCHANTS = [f"T0000001{n}" for n in range(6)]
ROOT = Path(__file__).resolve().parent.parent


class Worker:
    """One worker process; `send("go")` starts a round, `result()` waits for its line."""

    def __init__(self, running: RunningEmulator, redis_url: str, *, lock_ttl: float = 0) -> None:
        emulator = running.emulator
        env = {
            **os.environ,
            "DINTERO_ACCOUNT_ID": emulator.account_id,
            "DINTERO_CLIENT_ID": emulator.client_id,
            "DINTERO_CLIENT_SECRET": emulator.client_secret,
            "DINTERO_BASE_URL": running.base_url,
            "DINTERO_REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
        }
        # Its log goes to a file: a pipe read only at the end could fill up and block it.
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed by finish()
        self.proc = subprocess.Popen(  # noqa: S603 - our interpreter, this module
            [sys.executable, "-m", "tests.test_redis_fleet", str(lock_ttl), *MERCHANTS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=ROOT,
            env=env,
        )

    def ready(self) -> None:
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def result(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"worker exited: {self.proc.wait()}"
        result: dict[str, Any] = json.loads(line)
        return result

    def finish(self) -> str:
        """Quit and return what it logged."""
        if self.proc.poll() is None:
            self.send("quit")
        self.proc.communicate(timeout=30)
        self.log.seek(0)
        try:
            return self.log.read()
        finally:
            self.log.close()


def round_of(workers: list[Worker]) -> list[dict[str, Any]]:
    for worker in workers:
        worker.send("go")
    return [worker.result() for worker in workers]


def all_ok(results: list[dict[str, Any]]) -> bool:
    return all(r == {"ok": 1 + len(MERCHANTS), "errors": []} for r in results)


def fetched(emulator: Emulator) -> tuple[int, int]:
    """(tokens, exchanges) the emulator issued. It also counts, as received, exchanges that it
    refused with a 401 because they were sent with a revoked partner token (each then replayed
    with the new one, so never more than those issued)."""
    issued = (emulator.processed("token"), emulator.processed("exchange"))
    assert emulator.received("token") == issued[0]
    assert issued[1] <= emulator.received("exchange") <= 2 * issued[1]
    return issued


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve(Emulator(account_id="P00000001", merchants=MERCHANTS)) as running:
        yield running


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def finish_all(workers: list[Worker], secret: str) -> None:
    """End every worker; none logged above INFO, nor a secret, nor anything but its log."""
    for worker in workers:
        log = worker.finish()
        assert worker.proc.returncode == 0, log
        for line in log.splitlines():
            assert line.startswith(("INFO dintero_aio ", "DEBUG dintero_aio ")), log
        assert secret not in log
        assert "Bearer" not in log


def test_the_fleet_fetches_one_token_and_one_exchange_per_account_per_expiry(
    running: RunningEmulator, redis_server: RedisServer
) -> None:
    emulator = running.emulator
    workers = [Worker(running, redis_server.url) for _ in range(4)]
    try:
        for worker in workers:
            worker.ready()

        assert all_ok(round_of(workers))
        assert fetched(emulator) == (1, 6)
        assert all_ok(round_of(workers))  # warm: every token in memory, nothing fetched
        assert fetched(emulator) == (1, 6)

        emulator.expire_tokens()  # every call now meets a 401 first
        assert all_ok(round_of(workers))
        assert fetched(emulator) == (2, 12)

        redis_server.kill()
        emulator.expire_tokens()
        assert all_ok(round_of(workers))  # each process fetches for itself: 4 + 4 x 6
        assert fetched(emulator) == (6, 36)

        redis_server.start()  # empty
        time.sleep(1.1)  # the pause after the failure (1 s), then Redis is tried again
        emulator.expire_tokens()
        assert all_ok(round_of(workers))
        assert fetched(emulator) == (7, 42)
    finally:
        finish_all(workers, emulator.client_secret)


def test_a_lock_owner_killed_while_fetching_delays_the_others_by_the_lock_ttl(
    running: RunningEmulator, redis_server: RedisServer
) -> None:
    emulator = running.emulator
    emulator.delay_next("token", 2.0)  # the owner's Get Token hangs until it is killed
    owner, *others = [Worker(running, redis_server.url, lock_ttl=0.6) for _ in range(3)]
    try:
        for worker in (owner, *others):
            worker.ready()
        owner.send("go")
        deadline = time.monotonic() + 10
        while emulator.received("token") == 0:  # it holds the lock and is fetching
            assert time.monotonic() < deadline
            time.sleep(0.01)
        owner.proc.kill()
        owner.proc.wait()
        started = time.monotonic()
        assert all_ok(round_of(others))
        assert 0.3 < time.monotonic() - started < 3.0  # waited for the lock to expire
        assert (emulator.received("token"), emulator.received("exchange")) == (2, 6)
    finally:
        finish_all(others, emulator.client_secret)
        owner.finish()


async def _worker(lock_ttl: float, merchants: list[str]) -> None:
    from dintero_aio import Dintero
    from dintero_aio._redis_cache import RedisTokenCache

    settings: dict[str, Any] = {}
    if lock_ttl:
        settings["token_cache"] = RedisTokenCache.from_url(
            os.environ["DINTERO_REDIS_URL"], lock_ttl=lock_ttl
        )
    dintero = Dintero.from_env(**settings)
    print("ready", flush=True)
    while (await asyncio.to_thread(sys.stdin.readline)).strip() == "go":
        calls = [dintero.clients.list()]
        calls += [dintero.for_account(m).clients.list() for m in merchants]
        results = await asyncio.gather(*calls, return_exceptions=True)
        errors = [type(r).__name__ for r in results if isinstance(r, BaseException)]
        print(json.dumps({"ok": len(results) - len(errors), "errors": errors}), flush=True)
    await dintero.aclose()
    if lock_ttl:
        await settings["token_cache"].aclose()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("dintero_aio").setLevel(logging.DEBUG)
    asyncio.run(_worker(float(sys.argv[1]), sys.argv[2:]))
