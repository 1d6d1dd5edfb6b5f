"""Many concurrent calls: in memory and over loopback.

In memory: SDK `clients.create` vs raw (b) (pre-parsed absolute URL, `.json()`) and raw (a)
(base_url + relative URL), as in overhead.py, at concurrency 1, 100 and 10,000, calls per second
per block, blocks interleaved A B C C B A; and, counted by callgrind, instructions per call of the
SDK and raw (b) at concurrency 1 and 10,000 (`--marks`, see `_marked`). The mock
transport yields to the event loop once per answer (`await asyncio.sleep(0)`), as real I/O does:
without that no call ever suspends and "10,000 concurrent" calls would run one after another.
Concurrency 1 is a plain loop; 100 is 100 workers sharing the block's calls; 10,000 is one task
per call, all started at once.

Over loopback: for each run a fresh emulator process (serve_emulator.py) holding 3 clients and a
fresh client process (`python bench/concurrency.py KIND CALLS CONCURRENCY`): 10,000
`clients.list()` with 100 workers, then the same 10,000 all at once (SDK: twice each, A B B A,
calls per second over both), for the SDK and for raw (b)
(token fetched first, `get` on a pre-parsed URL with a bearer header, `timeout=30.0` as the
SDK's default); then 10,000 SDK creates, 100 workers and all at once. Both clients have a pool
of at most 100 connections, warmed by 200 calls first; the SDK queues its requests in front of it
(first in, first out, at most 100 sent at once: src/dintero_aio/_queue.py), raw httpx leaves
them all to httpcore's pool. Every run is bounded in time (LIMITS): one that does not finish
stops there and is reported with how many calls had completed; a call that raised is counted by
exception type, never retried by the benchmark.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from common import CREATE_ARGS, PYTHON, Blocks, ServedEmulator, emulator_process, rounds
from instructions import mark
from overhead import make_side, mock_transport

from dintero_aio import Dintero

MEMORY_SIDES = ("sdk", "raw-abs", "raw-rel")
MARKED_SIDES = ("sdk", "raw-abs")  # callgrind: instructions per call at 1 and 10,000
MARKED = {1: 200, 10_000: 1_700}  # concurrency: N (see _marked)
LEVELS = (1, 100, 10_000)
# Seconds per loopback run: the SDK's runs get a minute each (at concurrency 100 its 10,000 calls
# take 25-30 s here); raw httpx all at once gets 20 s to keep `make bench` short: without a queue
# of its own it does not finish in minutes (it is shown for reference). The parent passes a run's
# limit to its child process in BENCH_LOOPBACK_LIMIT.
LIMITS = {"sdk-list": 60.0, "raw-list": 20.0, "sdk-create": 60.0}  # all at once
LIMIT_C100 = 60.0
LOOPBACK_LIMIT = float(os.environ.get("BENCH_LOOPBACK_LIMIT", "60"))


async def _drive(call: Callable[[], Awaitable[Any]], calls: int, concurrency: int) -> int:
    """`calls` calls at `concurrency`; how many returned."""
    done = 0
    if concurrency == 1:
        for _ in range(calls):
            await call()
            done += 1
        return done
    if concurrency >= calls:  # one task per call, all started at once
        results = await asyncio.gather(*(call() for _ in range(calls)))
        return len(results)

    async def worker(share: int) -> None:
        nonlocal done
        for _ in range(share):
            await call()
            done += 1

    shares = [calls // concurrency + (i < calls % concurrency) for i in range(concurrency)]
    await asyncio.gather(*(worker(share) for share in shares))
    return done


async def in_memory(blocks: int, calls_at: dict[int, int]) -> dict[int, dict[str, Blocks]]:
    """Calls per second per block, per concurrency level and side."""
    seen = {side: Counter[str]() for side in MEMORY_SIDES}
    made = {
        side: make_side(side, mock_transport(seen[side], suspend=True)) for side in MEMORY_SIDES
    }
    expected = dict.fromkeys(MEMORY_SIDES, 0)
    for side, (call, _) in made.items():
        expected[side] += await _drive(call, 200, 100)  # warm-up, token cached
    result: dict[int, dict[str, Blocks]] = {}
    for level in LEVELS:
        calls = calls_at[level]
        per_second: dict[str, list[float]] = {side: [] for side in MEMORY_SIDES}
        for side in rounds(MEMORY_SIDES, blocks):
            gc.collect()
            start = time.perf_counter()
            done = await _drive(made[side][0], calls, level)
            per_second[side].append(done / (time.perf_counter() - start))
            expected[side] += done
        result[level] = {s: Blocks(v, higher_is_better=True) for s, v in per_second.items()}
    for side in MEMORY_SIDES:
        await made[side][1].aclose()
        if seen[side]["create"] != expected[side]:
            raise RuntimeError(f"in-memory {side}: transport saw {dict(seen[side])}")
    return result


async def _bounded(call: Callable[[], Awaitable[bool]], calls: int, level: int) -> dict[str, Any]:
    """Runs in a child process (see _child): `calls` calls at `level` for at most LOOPBACK_LIMIT
    seconds. A watchdog thread ends the process at the limit, after printing how many calls had
    succeeded: the event loop itself may be too busy in httpcore's pool to notice a timeout, and
    cancelling thousands of queued requests can take minutes."""
    ok = 0
    failed: Counter[str] = Counter()
    start, cpu = time.perf_counter(), time.process_time()

    def result() -> dict[str, Any]:
        return {
            "calls": calls,
            "done": ok,
            "failed": dict(failed),
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu,
        }

    def stop() -> None:
        print(json.dumps(result()), flush=True)
        os._exit(0)

    watchdog = threading.Timer(LOOPBACK_LIMIT, stop)
    watchdog.daemon = True

    async def counted() -> None:
        nonlocal ok
        try:
            succeeded = await call()
        except Exception as exc:  # counted, not raised: one failure must not hide the others
            failed[type(exc).__name__] += 1
        else:
            ok += succeeded

    watchdog.start()
    await _drive(counted, calls, level)
    watchdog.cancel()
    return result()


async def _child(kind: str, calls: int, level: int) -> dict[str, Any]:
    """One loopback run (`kind`: sdk-list, raw-list, sdk-create) against the emulator whose
    base URL and credentials are in the environment (never on a command line)."""
    env = os.environ
    base_url, account = env["BENCH_BASE_URL"], env["BENCH_ACCOUNT_ID"]
    client_id, secret = env["BENCH_CLIENT_ID"], env["BENCH_CLIENT_SECRET"]
    dintero = Dintero(
        account_id=account, client_id=client_id, client_secret=secret, base_url=base_url
    )
    raw = httpx.AsyncClient(timeout=30.0)  # the SDK's default timeout, for every phase
    token = await raw.post(
        f"{base_url}/accounts/{account}/auth/token",
        auth=(client_id, secret),
        json={"grant_type": "client_credentials", "audience": f"{base_url}/accounts/{account}"},
    )
    token.raise_for_status()
    raw.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    url = httpx.URL(f"{base_url}/accounts/{account}/auth/clients")
    listed = len(await dintero.clients.list())

    async def sdk_list() -> bool:
        return len(await dintero.clients.list()) == listed

    async def raw_list() -> bool:
        response = await raw.get(url)
        return response.status_code == 200 and len(response.json()) == listed

    async def sdk_create() -> bool:
        return (await dintero.clients.create(**CREATE_ARGS)).name == CREATE_ARGS["name"]

    call = {"sdk-list": sdk_list, "raw-list": raw_list, "sdk-create": sdk_create}[kind]
    await _drive(call, 200 if kind != "sdk-create" else 100, 100)  # warm-up: connections open
    return await _bounded(call, calls, level)


@dataclass
class Run:
    """One bounded loopback run."""

    label: str
    calls: int
    done: int
    seconds: float
    cpu_seconds: float  # of the client process
    failed: dict[str, int]  # exception type: count

    @property
    def finished(self) -> bool:
        return self.done == self.calls

    @property
    def per_second(self) -> float:
        return self.done / self.seconds


#: (kind, concurrency or None for all at once). The SDK's runs go A B B A: a single run of each
#: swings by a third with other load on this shared machine (one run at once read 0.63 of the
#: run at 100, the next two 1.11); raw httpx all at once is a reference only.
RUNS = (
    ("sdk-list", 100),
    ("sdk-list", None),
    ("sdk-list", None),
    ("sdk-list", 100),
    ("raw-list", None),
    ("raw-list", 100),
    ("sdk-create", 100),
    ("sdk-create", None),
    ("sdk-create", None),
    ("sdk-create", 100),
)


def loopback(calls: int, scale: float = 1.0) -> dict[str, list[Run]]:
    """Each run in a fresh client process against a fresh emulator process (a run cut off at
    the limit leaves work queued in the server); killed if it overstays the limit by 30 s."""
    runs: dict[str, list[Run]] = {}
    for kind, level in RUNS:
        label = f"{kind} c{level or calls}"
        with emulator_process() as server:
            limit = (LIMITS[kind] if level is None else LIMIT_C100) * scale
            env = {
                **os.environ,
                "BENCH_LOOPBACK_LIMIT": str(limit),
                "BENCH_BASE_URL": server.base_url,
                "BENCH_ACCOUNT_ID": server.account_id,
                "BENCH_CLIENT_ID": server.client_id,
                "BENCH_CLIENT_SECRET": server.client_secret,
            }
            setup = httpx.Client()  # 3 clients in the emulator, so that a list has 3 items
            try:
                for i in range(3):
                    _create_with(setup, server, f"pos-{i}")
            finally:
                setup.close()
            try:
                proc = subprocess.run(  # noqa: S603 - our interpreter, fixed arguments
                    [PYTHON, __file__, kind, str(calls), str(level or calls)],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=limit + 30,
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"loopback {label}: status {proc.returncode}")
                done = json.loads(proc.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                done = {"calls": calls, "done": 0, "seconds": limit + 30, "cpu_seconds": 0}
                done["failed"] = {}
        run = Run(label, **done)
        runs.setdefault(label, []).append(run)
        print(
            f"      {label}: {run.done:,}/{calls:,} in {run.seconds:.1f} s "
            f"({run.per_second:,.0f}/s, client CPU {run.cpu_seconds:.1f} s)"
            + (f", failed: {run.failed}" if run.failed else ""),
            flush=True,
        )
    return runs


def _create_with(http: httpx.Client, server: ServedEmulator, name: str) -> None:
    """A client in the emulator, made with the emulator's own credentials over plain httpx."""
    base = f"{server.base_url}/accounts/{server.account_id}"
    token = http.post(
        f"{base}/auth/token",
        auth=(server.client_id, server.client_secret),
        json={"grant_type": "client_credentials", "audience": base},
    ).json()["access_token"]
    http.post(
        f"{base}/auth/clients", json={"name": name}, headers={"Authorization": f"Bearer {token}"}
    ).raise_for_status()


async def _marked(side: str, level: int, n: int) -> dict[str, int]:
    """Warm-up, mark, N calls, mark, 6N calls, mark (instructions.py), at concurrency `level`
    (each batch all at once if it is smaller): at 10,000 with N = 1,700 the first batch has
    1,700 calls under way and the second 10,000, so (I3 - I2) / 5N is what a call costs with
    thousands under way, the garbage collector's visits to them included."""
    seen = Counter[str]()
    call, closer = make_side(side, mock_transport(seen, suspend=True))
    await _drive(call, 200, 100)
    gc.collect()
    for batch in (n, 6 * n):
        mark()
        await _drive(call, batch, min(level, batch))
    mark()
    await closer.aclose()
    return {"responses": seen["create"]}


def marked_expected(n: int) -> int:
    return 200 + 7 * n


if __name__ == "__main__":
    if sys.argv[1] == "--marks":
        marked = asyncio.run(_marked(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
        print(json.dumps(marked), flush=True)
        sys.exit(0)
    result = asyncio.run(_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print(json.dumps(result), flush=True)
    os._exit(0)  # no cleanup: see _bounded
