"""Per-call overhead on an in-memory transport: `dintero.clients.create` vs raw httpx.

Both sides talk to the same kind of `httpx.MockTransport`, which answers the token endpoint with
a token and the create endpoint with a realistic ClientWithSecret body, so what is measured is
the client-side work of one call. Sides:

- sdk:     `await dintero.clients.create(...)`, token cached after the warm-up;
- raw-rel: `httpx.AsyncClient(base_url=..., headers={Authorization: Bearer ...})`,
           `await raw.post("/accounts/.../auth/clients", json=...)` then `.json()` (the idiomatic
           equivalent of the SDK's configuration; the goal is judged on this one);
- raw-abs: the same with no base_url and an absolute URL string.

`python bench/overhead.py SIDE N` runs a 50-call warm-up, then N calls, and prints one JSON line
(responses seen by the transport, peak RSS): the subprocess used under callgrind and for memory.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from common import (
    ACCESS_TOKEN,
    ACCOUNT_ID,
    BASE_URL,
    BENCH_DIR,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_PATH,
    CLIENTS_URL,
    CREATE_ARGS,
    CREATED_BODY,
    PYTHON,
    TOKEN_BODY,
    Blocks,
    rounds,
)

SIDES = ("sdk", "raw-rel", "raw-abs")
WARMUP = 50
_JSON = {"Content-Type": "application/json"}


def mock_transport(seen: Counter[str]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            seen["token"] += 1
            return httpx.Response(200, content=TOKEN_BODY, headers=_JSON)
        seen["create"] += 1
        return httpx.Response(200, content=CREATED_BODY, headers=_JSON)

    return httpx.MockTransport(handler)


def make_side(side: str, seen: Counter[str]) -> tuple[Callable[[], Awaitable[Any]], Any]:
    """(one call, the object to close) for `side`."""
    transport = mock_transport(seen)
    if side == "sdk":
        from dintero_aio import Dintero  # not imported by the raw sides' processes

        dintero = Dintero(
            account_id=ACCOUNT_ID,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            base_url=BASE_URL,
            transport=transport,
        )

        async def sdk() -> Any:
            return await dintero.clients.create(**CREATE_ARGS)

        return sdk, dintero
    bearer = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    if side == "raw-rel":
        raw = httpx.AsyncClient(base_url=BASE_URL, headers=bearer, transport=transport)

        async def raw_rel() -> Any:
            return (await raw.post(CLIENTS_PATH, json=CREATE_ARGS)).json()

        return raw_rel, raw
    raw = httpx.AsyncClient(headers=bearer, transport=transport)

    async def raw_abs() -> Any:
        return (await raw.post(CLIENTS_URL, json=CREATE_ARGS)).json()

    return raw_abs, raw


def check(side: str, result: Any) -> None:
    """A side that silently failed must not look fast."""
    name = result.name if side == "sdk" else result["name"]
    if name != CREATE_ARGS["name"]:
        raise RuntimeError(f"{side}: unexpected create result")


async def measure(blocks: int, calls: int) -> dict[str, Blocks]:
    """`blocks` timed blocks of `calls` calls per side, interleaved A B C C B A ...; µs/call."""
    seen = {side: Counter[str]() for side in SIDES}
    made = {side: make_side(side, seen[side]) for side in SIDES}
    for side, (call, _) in made.items():
        for _ in range(WARMUP):
            check(side, await call())
    results: dict[str, list[float]] = {side: [] for side in SIDES}
    for side in rounds(SIDES, blocks):
        call = made[side][0]
        await asyncio.sleep(0)  # see _worker
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        results[side].append((time.perf_counter() - start) / calls * 1e6)
    for side in SIDES:
        await made[side][1].aclose()
        expected = WARMUP + blocks * calls
        if seen[side]["create"] != expected or seen[side]["token"] != (side == "sdk"):
            raise RuntimeError(f"{side}: transport saw {dict(seen[side])}, expected {expected}")
    return {side: Blocks(values) for side, values in results.items()}


# Callgrind: instructions per call from the difference of an N-call and a 6N-call run.

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _callgrind_run(valgrind: str, side: str, calls: int) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - valgrind, our interpreter, fixed arguments
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            PYTHON,
            str(BENCH_DIR / "overhead.py"),
            side,
            str(calls),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


class Callgrind:
    """Instructions per call for each side, from callgrind runs of N and 6N calls after the same
    warm-up: (I(6N) - I(N)) / 5N is free of start-up and imports. Instruction counts do not
    depend on other load, so all runs go at once, in the background, while `run.py` does other
    load-insensitive work; `results()` waits for them."""

    def __init__(self, valgrind: str, sides: tuple[str, ...], n: int) -> None:
        self.n = n
        self.procs = {
            (side, k): _callgrind_run(valgrind, side, k) for side in sides for k in (n, 6 * n)
        }

    def results(self) -> dict[str, float]:
        counts: dict[tuple[str, int], int] = {}
        for (side, k), proc in self.procs.items():
            out, err = proc.communicate()
            found = _COLLECTED.search(err)
            done = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
            if proc.returncode != 0 or not found or done.get("responses") != WARMUP + k:
                raise RuntimeError(f"callgrind run {side} x{k} failed (status {proc.returncode})")
            counts[side, k] = int(found.group(1))
        sides = {side for side, _ in counts}
        return {s: (counts[s, 6 * self.n] - counts[s, self.n]) / (5 * self.n) for s in sides}

    def kill(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def worker_rss(side: str, calls: int) -> dict[str, int]:
    """Run `calls` calls of `side` in a fresh process: responses seen and peak RSS (KiB)."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [PYTHON, str(BENCH_DIR / "overhead.py"), side, str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    done: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    if done["responses"] != WARMUP + calls:
        raise RuntimeError(f"{side}: {done['responses']} responses, expected {WARMUP + calls}")
    return done


def _maxrss_kb() -> int:
    """Peak RSS of this process image in KiB: VmHWM. Not `ru_maxrss`: on Linux a process started
    by a larger one inherits that one's RSS in `ru_maxrss` (both sides read 64 MiB when started
    by run.py), while VmHWM starts afresh at exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: KiB on Linux


async def _worker(side: str, calls: int) -> dict[str, int]:
    seen = Counter[str]()
    call, closer = make_side(side, seen)
    for _ in range(WARMUP):
        check(side, await call())
    warm = _maxrss_kb()
    for i in range(calls):
        await call()
        if i % 100 == 99:
            # MockTransport never suspends, so without this the loop never runs and keeps every
            # call's cancelled `asyncio.timeout_at` timer (retry.run): +8.6 MiB per 40,000 SDK
            # calls. Real I/O lets the loop run, and it drops cancelled timers.
            await asyncio.sleep(0)
    await closer.aclose()
    return {"responses": seen["create"], "warm_maxrss_kb": warm, "maxrss_kb": _maxrss_kb()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_worker(sys.argv[1], int(sys.argv[2])))))
