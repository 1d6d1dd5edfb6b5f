"""Throughput over real loopback HTTP: the emulator in its own process, creates at concurrency 50.

SDK: `dintero.clients.create(...)` (it fetches its own token). Raw: one token fetched first from
the emulator (HTTP Basic + Dintero's JSON body), then `raw.post(...)` with a fixed bearer header
and `.json()`. Blocks of `calls` creates alternate A B B A on one warm client per side.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from common import CREATE_ARGS, Blocks, ServedEmulator, drive, emulator_process, rounds

from dintero_aio import Dintero

SIDES = ("sdk", "raw")
CONCURRENCY = 50


async def _burst(call: Callable[[], Awaitable[bool]], calls: int) -> int:
    """`calls` calls by CONCURRENCY workers; the number that succeeded."""
    return await drive(call, calls, CONCURRENCY)


async def _clients(server: ServedEmulator) -> tuple[Dintero, httpx.AsyncClient]:
    """The SDK, and a raw client holding one token fetched with Dintero's token request."""
    dintero = Dintero(
        account_id=server.account_id,
        client_id=server.client_id,
        client_secret=server.client_secret,
        base_url=server.base_url,
    )
    raw = httpx.AsyncClient(base_url=server.base_url)
    token = await raw.post(
        f"/accounts/{server.account_id}/auth/token",
        auth=(server.client_id, server.client_secret),
        json={
            "grant_type": "client_credentials",
            "audience": f"{server.base_url}/accounts/{server.account_id}",
        },
    )
    token.raise_for_status()
    raw.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return dintero, raw


def _creates(
    server: ServedEmulator, dintero: Dintero, raw: httpx.AsyncClient
) -> dict[str, Callable[[], Awaitable[bool]]]:
    path = f"/accounts/{server.account_id}/auth/clients"

    async def sdk() -> bool:
        return (await dintero.clients.create(**CREATE_ARGS)).name == CREATE_ARGS["name"]

    async def raw_create() -> bool:
        response = await raw.post(path, json=CREATE_ARGS)
        return response.status_code == 200 and response.json()["name"] == CREATE_ARGS["name"]

    return {"sdk": sdk, "raw": raw_create}


async def _run(server: ServedEmulator, blocks: int, calls: int) -> dict[str, dict[str, Blocks]]:
    dintero, raw = await _clients(server)
    calls_of = _creates(server, dintero, raw)
    made = 0
    try:
        for side in SIDES:  # warm-up: connections open, token cached
            made += await _burst(calls_of[side], CONCURRENCY * 2)
        per_second: dict[str, list[float]] = {side: [] for side in SIDES}
        cpu: dict[str, list[float]] = {side: [] for side in SIDES}
        for side in rounds(SIDES, blocks):
            start, start_cpu = time.perf_counter(), time.process_time()
            ok = await _burst(calls_of[side], calls)
            elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
            if ok != calls:
                raise RuntimeError(f"loopback {side}: only {ok} of {calls} creates succeeded")
            made += ok
            per_second[side].append(calls / elapsed)
            cpu[side].append(used / calls * 1e6)
        # Count on the server too: every create must have made a client there.
        listed = await dintero.clients.list()
        if len(listed) != made:
            raise RuntimeError(f"loopback: the server holds {len(listed)} clients, sent {made}")
    finally:
        await dintero.aclose()
        await raw.aclose()
    return {
        "per_second": {s: Blocks(v, higher_is_better=True) for s, v in per_second.items()},
        "cpu_us": {s: Blocks(v) for s, v in cpu.items()},
    }


def measure(blocks: int, calls: int) -> dict[str, dict[str, Blocks]]:
    """Creates per second and client CPU µs per create, per side, one figure per block."""
    with emulator_process() as server:
        return asyncio.run(_run(server, blocks, calls))
