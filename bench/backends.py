"""The two backends over loopback: `backend="httpcore"` (httpx's own transport) against
`backend="aiohttp"`, with raw httpx on each transport as the baselines.

The emulator runs in its own process (serve_emulator.py); this process is the client, so its CPU
time is the client's. Sides, doing the same work:

- sdk-httpcore, sdk-aiohttp: `dintero.clients.create(...)` / `dintero.clients.list()`;
- raw-httpcore: `httpx.AsyncClient` with its own transport, one token fetched first with
  Dintero's token request, then `post(URL, json=...)` / `get(URL)` with a fixed bearer header on a
  pre-parsed URL, the body parsed with `.json()`;
- raw-aiohttp: the same client on httpx-aiohttp's `AiohttpTransport` (an adapter by an httpx
  maintainer that sends httpx requests with aiohttp).

Every client has a pool of at most 100 connections. Per workload (creates, then lists of 3
clients) and concurrency (1, 50, 1,000: `calls` calls shared by that many workers), blocks of
each side run A B C D D C B A; before each block a few untimed calls open the connections an idle
pool dropped meanwhile (the SDK drops idle ones after 4 s, raw httpx after 5 s). A block's
figures: calls per second, and client CPU µs per call (this process's CPU time over the block,
divided by its calls). Ratios are medians of the ratios of the blocks of one round (adjacent in
time, so under the same load).

Scale: the SDK on each backend, `scale` lists all at once and the same `scale` lists by 100
workers, A B B A; calls per second over both runs of each.

`python bench/backends.py [--quick]` prints the table alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    CREATE_ARGS,
    PYTHON,
    Blocks,
    Row,
    ServedEmulator,
    drive,
    emulator_process,
    markdown_table,
    paired_ratio,
    rounds,
    verdict,
)
from httpx_aiohttp import AiohttpTransport

from dintero_aio import Dintero

SIDES = ("sdk-aiohttp", "sdk-httpcore", "raw-httpcore", "raw-aiohttp")
WORKLOADS = ("creates", "lists")  # in the table; measured lists first (creates lengthen them)
LEVELS = (1, 50, 1000)
LIMITS = httpx.Limits(max_connections=100)  # the SDK's pool size, for the raw sides
LISTED = 3  # clients in the emulator while lists are measured


@dataclass(frozen=True)
class Sizes:
    blocks: int  # per side, workload and level
    calls: dict[int, int]  # per block, by concurrency
    scale: int  # calls per scale run


FULL = Sizes(4, {1: 300, 50: 1500, 1000: 2000}, 10_000)
QUICK = Sizes(2, {1: 60, 50: 400, 1000: 1000}, 2_000)


@dataclass
class Result:
    per_second: dict[tuple[str, int, str], Blocks]  # (workload, level, side)
    cpu_us: dict[tuple[str, int, str], Blocks]
    scale: dict[tuple[str, str], float]  # (backend, "once" | "c100"): calls per second
    sizes: Sizes


Call = Callable[[], Awaitable[bool]]


async def _sides(server: ServedEmulator) -> tuple[dict[str, dict[str, Call]], list[Any]]:
    """Each side's create and list call, and what to close afterwards."""
    base, account = server.base_url, server.account_id
    url = httpx.URL(f"{base}/accounts/{account}/auth/clients")
    calls: dict[str, dict[str, Call]] = {}
    closers: list[Any] = []
    for backend in ("httpcore", "aiohttp"):
        dintero = Dintero(
            account_id=account,
            client_id=server.client_id,
            client_secret=server.client_secret,
            base_url=base,
            backend=backend,
        )
        closers.append(dintero)
        calls[f"sdk-{backend}"] = _sdk_calls(dintero)
        transport = AiohttpTransport(limits=LIMITS) if backend == "aiohttp" else None
        # No limit on waiting for a pooled connection: 1,000 at once on 100 connections wait
        # their turn (the SDK queues them itself), and a slow turn must not end the benchmark.
        raw = httpx.AsyncClient(
            limits=LIMITS, timeout=httpx.Timeout(30.0, pool=None), transport=transport
        )
        closers.append(raw)
        token = await raw.post(
            f"{base}/accounts/{account}/auth/token",
            auth=(server.client_id, server.client_secret),
            json={"grant_type": "client_credentials", "audience": f"{base}/accounts/{account}"},
        )
        token.raise_for_status()
        raw.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        calls[f"raw-{backend}"] = _raw_calls(raw, url)
    return calls, closers


def _sdk_calls(dintero: Dintero) -> dict[str, Call]:
    async def create() -> bool:
        return (await dintero.clients.create(**CREATE_ARGS)).name == CREATE_ARGS["name"]

    async def list_() -> bool:
        return len(await dintero.clients.list()) == LISTED

    return {"creates": create, "lists": list_}


def _raw_calls(raw: httpx.AsyncClient, url: httpx.URL) -> dict[str, Call]:
    async def create() -> bool:
        response = await raw.post(url, json=CREATE_ARGS)
        return response.status_code == 200 and response.json()["name"] == CREATE_ARGS["name"]

    async def list_() -> bool:
        response = await raw.get(url)
        return response.status_code == 200 and len(response.json()) == LISTED

    return {"creates": create, "lists": list_}


async def _block(call: Call, calls: int, level: int) -> tuple[float, float]:
    """Calls per second and client CPU µs per call of one block, after a short warm-up."""
    warm = min(level, 100)
    await drive(call, 2 * warm, warm)
    start, start_cpu = time.perf_counter(), time.process_time()
    ok = await drive(call, calls, level)
    elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
    if ok != calls:
        raise RuntimeError(f"backends: only {ok} of {calls} calls succeeded")
    return calls / elapsed, used / calls * 1e6


async def _scale(call: Call, calls: int, once: bool) -> float:
    start = time.perf_counter()
    if once:
        results = await asyncio.gather(*(call() for _ in range(calls)))
        ok = sum(results)
    else:
        ok = await drive(call, calls, 100)
    if ok != calls:
        raise RuntimeError(f"backends scale: only {ok} of {calls} calls succeeded")
    return time.perf_counter() - start


async def _run(server: ServedEmulator, sizes: Sizes) -> Result:
    calls, closers = await _sides(server)
    per_second: dict[tuple[str, int, str], list[float]] = {}
    cpu: dict[tuple[str, int, str], list[float]] = {}
    scale: dict[tuple[str, str], float] = {}
    try:
        for _ in range(LISTED):  # the 3 clients the lists return
            await calls["raw-httpcore"]["creates"]()
        for workload in reversed(WORKLOADS):  # lists first: creates add to the lists
            for level in LEVELS:
                for side in rounds(SIDES, sizes.blocks):
                    rate, us = await _block(calls[side][workload], sizes.calls[level], level)
                    per_second.setdefault((workload, level, side), []).append(rate)
                    cpu.setdefault((workload, level, side), []).append(us)
                print(f"      {workload} at concurrency {level:,}: done", flush=True)
            if workload == "lists":
                for backend in ("httpcore", "aiohttp"):
                    runs = await _scale_runs(calls[f"sdk-{backend}"]["lists"], sizes.scale)
                    scale.update({(backend, mode): rate for mode, rate in runs.items()})
                print(
                    f"      {sizes.scale:,} lists at once and at concurrency 100: done", flush=True
                )
    finally:
        for closer in closers:
            await closer.aclose()
    return Result(
        {k: Blocks(v, higher_is_better=True) for k, v in per_second.items()},
        {k: Blocks(v) for k, v in cpu.items()},
        scale,
        sizes,
    )


async def _scale_runs(call: Call, calls: int) -> dict[str, float]:
    """Calls per second all at once ("once") and at concurrency 100 ("c100"), runs A B B A."""
    seconds = {"once": 0.0, "c100": 0.0}
    await drive(call, 200, 100)  # warm-up: connections open
    for mode in ("c100", "once", "once", "c100"):
        seconds[mode] += await _scale(call, calls, once=mode == "once")
    return {mode: 2 * calls / spent for mode, spent in seconds.items()}


def measure(quick: bool) -> Result:
    """Both workloads at every level on every side, and the scale runs, in one fresh client
    process against one emulator process.

    Fresh: run inside `make bench`'s own process, after the earlier stages had filled its heap,
    every garbage collection cost more, and more so for the side that allocates most (raw httpx
    on httpcore: 4,172 µs per list at concurrency 50 there, 1,915 µs in a process of its own),
    which flattered the ratios against it."""
    print("[B] the two backends over loopback, emulator in its own process ...", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        figures = Path(folder) / "backends.json"
        subprocess.run(  # noqa: S603 - our interpreter, this script
            [PYTHON, __file__, "--json", str(figures), *(["--quick"] if quick else [])],
            check=True,
        )
        return _loads(figures.read_text(encoding="utf-8"))


def _measured(quick: bool) -> Result:
    with emulator_process() as server:
        return asyncio.run(_run(server, QUICK if quick else FULL))


def _dumps(result: Result) -> str:
    return json.dumps(
        {
            "per_second": [[*k, v.values] for k, v in result.per_second.items()],
            "cpu_us": [[*k, v.values] for k, v in result.cpu_us.items()],
            "scale": [[*k, v] for k, v in result.scale.items()],
            "quick": result.sizes == QUICK,
        }
    )


def _loads(text: str) -> Result:
    data = json.loads(text)
    return Result(
        {(w, n, s): Blocks(v, higher_is_better=True) for w, n, s, v in data["per_second"]},
        {(w, n, s): Blocks(v) for w, n, s, v in data["cpu_us"]},
        {(b, m): v for b, m, v in data["scale"]},
        QUICK if data["quick"] else FULL,
    )


def _f(value: float) -> str:
    return f"{value:,.0f}"


def rows(result: Result) -> list[Row]:
    """The table: per workload and level the four sides, then the goals of issue 21."""
    out: list[Row] = []
    for workload in WORKLOADS:
        for level in LEVELS:
            key = (workload, level)
            rate = {s: result.per_second[(*key, s)] for s in SIDES}
            cpu = {s: result.cpu_us[(*key, s)] for s in SIDES}
            cells = {
                s: f"{_f(rate[s].median)}/s, {_f(cpu[s].median)} µs"
                for s in SIDES
                if s != "raw-httpcore"
            }
            out.append(
                Row(
                    f"B. Loopback {workload} at concurrency {level:,}: calls/s and client CPU "
                    "µs per call (median block): sdk-aiohttp; sdk-httpcore; raw-aiohttp vs "
                    "raw-httpcore",
                    "; ".join(cells[s] for s in ("sdk-aiohttp", "sdk-httpcore", "raw-aiohttp")),
                    f"{_f(rate['raw-httpcore'].median)}/s, {_f(cpu['raw-httpcore'].median)} µs",
                    f"sdk-aiohttp: {paired_ratio(rate['sdk-aiohttp'], rate['raw-httpcore']):.2f}x"
                    f" calls/s, {paired_ratio(cpu['sdk-aiohttp'], cpu['raw-httpcore']):.2f}x CPU",
                )
            )
    out += goal_rows(result)
    return out


def goal_rows(result: Result) -> list[Row]:
    out: list[Row] = []
    for workload in WORKLOADS:
        rate = {s: result.per_second[(workload, 50, s)] for s in SIDES}
        cpu = {s: result.cpu_us[(workload, 50, s)] for s in SIDES}
        cpu_ratio = paired_ratio(cpu["sdk-aiohttp"], cpu["raw-httpcore"])
        rate_ratio = paired_ratio(rate["sdk-aiohttp"], rate["raw-httpcore"])
        out.append(
            Row(
                f"B. {workload} at concurrency 50: client CPU per call, SDK on aiohttp vs raw "
                "httpx on httpcore",
                f"{_f(cpu['sdk-aiohttp'].median)} µs",
                f"{_f(cpu['raw-httpcore'].median)} µs",
                f"{cpu_ratio:.2f}",
                "≤ 0.50",
                verdict(cpu_ratio <= 0.5),
            )
        )
        out.append(
            Row(
                f"B. {workload} at concurrency 50: calls/s, SDK on aiohttp vs raw httpx on "
                "httpcore",
                f"{_f(rate['sdk-aiohttp'].median)}/s",
                f"{_f(rate['raw-httpcore'].median)}/s",
                f"{rate_ratio:.2f}",
                "≥ 1.80",
                verdict(rate_ratio >= 1.8),
            )
        )
        one = {s: result.per_second[(workload, 1, s)] for s in SIDES}
        one_ratio = paired_ratio(one["sdk-aiohttp"], one["sdk-httpcore"])
        out.append(
            Row(
                f"B. {workload} at concurrency 1: calls/s, SDK on aiohttp vs SDK on httpcore",
                f"{_f(one['sdk-aiohttp'].median)}/s",
                f"{_f(one['sdk-httpcore'].median)}/s",
                f"{one_ratio:.2f}",
                "≥ 1.00",
                verdict(one_ratio >= 1.0),
            )
        )
    n = result.sizes.scale
    for backend in ("httpcore", "aiohttp"):
        once, c100 = result.scale[(backend, "once")], result.scale[(backend, "c100")]
        out.append(
            Row(
                f"B. SDK on {backend}: {n:,} lists at once vs the same {n:,} at concurrency 100",
                f"{_f(once)}/s",
                f"c100: {_f(c100)}/s",
                f"{once / c100:.2f}",
                "≥ 0.80",
                verdict(once / c100 >= 0.8),
            )
        )
    return out


NOTES = (
    '- B (bench/backends.py): the SDK on `backend="aiohttp"` and on httpcore, and raw httpx on '
    "either transport (httpx-aiohttp's `AiohttpTransport` for aiohttp), over loopback against the "
    "emulator in its own process; client CPU is this process's CPU time per call. Ratios are "
    "medians of the ratios of blocks run next to each other.\n"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    parser.add_argument("--json", type=Path, help="write the figures there (for `measure`)")
    args = parser.parse_args()
    if args.json:  # the child of `measure`
        args.json.write_text(_dumps(_measured(args.quick)), encoding="utf-8")
        return 0
    began = time.perf_counter()
    table = markdown_table(rows(measure(args.quick)))
    print(f"\n{table}\n\n{NOTES}- {time.perf_counter() - began:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
