"""HTTP/2 against HTTP/1.1 over TLS on loopback: SDK `clients.list()` at concurrency 1 and 50.

The emulator runs in its own process under hypercorn (`python bench/http2.py serve DIR`), over
TLS with a certificate for 127.0.0.1 from a throwaway trustme CA, offering h2 and http/1.1
through ALPN, so each client picks its protocol on the same server. Its account holds 3 clients
(created first), so every list returns the same 3-client body. Two SDK instances in this
process: `Dintero(..., http2=True)` and the default (HTTP/1.1), each with its own pool and
token, verifying the server's certificate against the test CA (for now by swapping the SDK's
internal SSL context while they are built: the SDK has no setting for it yet). At each
concurrency level both sides are warmed up, then run blocks of lists interleaved A B B A; a
figure per block: calls per second and client CPU µs per call (`time.process_time` of this
process, which holds both clients and nothing else). Concurrency 1 is a plain loop; 50 is 50
workers sharing a block's calls. As in the other loopback stages, the server keeps idle
connections for 60 s (a real server keeps them longer than the SDK's 4 s pool expiry);
hypercorn's habit of closing a connection after 1,000 requests is turned off. Every list is
checked (3 clients), and the server counts the requests it received per HTTP version and the
connections (client ports) each version used: the run fails unless the HTTP/2 count is exactly
what the h2 side sent and the HTTP/1.1 count what the other side sent. HTTP/1.1 needs a
connection per call in flight, and the SDK's pool keeps at most 20 idle ones, so at concurrency
50 it reopens some (a TLS handshake each); either side reconnects when its pool sat idle for
over 4 s (the SDK's expiry) during two of the other side's blocks: the counts are in the table.
What is measured is the Python cost of each protocol (h2 and hypercorn are pure Python; both
processes share the 2 cores) on loopback, with no latency: multiplexing saves handshakes here,
not round trips.

`python bench/http2.py [--quick]` runs this stage alone and prints its rows.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    PYTHON,
    Blocks,
    Row,
    ServedEmulator,
    drive,
    markdown_table,
    paired_ratio,
    rounds,
    served_by,
)

from dintero_aio import Dintero

SIDES = ("h2", "h1.1")  # HTTP/2 first: the first side of every A B B A pair
LEVELS = (1, 50)
WARMUP = 100  # calls per side and level, before the timed blocks
LISTED = 3  # clients the account holds
SEEN_PATH = "/_bench/seen"  # the server's counts; not an emulator path, not counted
_VERSION = {"h2": "2", "h1.1": "1.1"}


# The server (its own process).


class Recorder:
    """The emulator, counting requests and client ports per HTTP version; SEEN_PATH answers
    with those counts."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: defaultdict[str, int] = defaultdict(int)
        self.ports: defaultdict[str, set[int]] = defaultdict(set)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == SEEN_PATH:
            body = json.dumps(
                {
                    "requests": self.requests,
                    "connections": {v: len(ports) for v, ports in self.ports.items()},
                }
            ).encode()
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["type"] == "http":
            self.requests[scope["http_version"]] += 1
            self.ports[scope["http_version"]].add(scope["client"][1])
        await self.app(scope, receive, send)


def serve(directory: Path) -> int:
    """Serve the emulator over TLS until SIGTERM; print where and the test credentials."""
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from dintero_aio.testing import Emulator

    emulator = Emulator()
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]
    config.certfile, config.keyfile = str(directory / "server.pem"), str(directory / "server.key")
    config.keep_alive_timeout = 60
    config.keep_alive_max_requests = 2**62
    config.graceful_timeout = 1.0
    print(f"base_url: https://127.0.0.1:{port}/v1")
    print(f"account_id: {emulator.account_id}")
    print(f"client_id: {emulator.client_id}")
    print(f"client_secret: {emulator.client_secret}")
    print(f"audience: {emulator.audience}", flush=True)
    asyncio.run(hypercorn_serve(Recorder(emulator), config, mode="asgi"))  # ends on SIGTERM
    return 0


@dataclass
class TLSEmulator:
    served: ServedEmulator
    ca_pem: str  # the throwaway CA's certificate, to verify the server with

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem)


@contextmanager
def tls_emulator_process() -> Iterator[TLSEmulator]:
    """The emulator under hypercorn in its own process, with a fresh CA and certificate, its
    printed base URL read, terminated on the way out. Its output (the test credentials) is read
    here and never echoed."""
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="dintero-h2-") as tmp:
        leaf.cert_chain_pems[0].write_to_path(str(Path(tmp) / "server.pem"))
        leaf.private_key_pem.write_to_path(str(Path(tmp) / "server.key"))
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [PYTHON, __file__, "serve", tmp],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            yield TLSEmulator(served_by(proc), ca.cert_pem.bytes().decode())
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# The clients (this process).


@dataclass
class Level:
    per_second: dict[str, Blocks]
    cpu_us: dict[str, Blocks]
    connections: dict[str, int]  # opened during the level's warm-up and blocks (client ports)


@dataclass
class Result:
    levels: dict[int, Level]
    requests: dict[str, int]  # what the server received, per side (checked: what it sent)
    blocks: int
    calls: dict[int, int]


def _open(server: TLSEmulator, http2: bool) -> Dintero:
    return Dintero(
        account_id=server.served.account_id,
        client_id=server.served.client_id,
        client_secret=server.served.client_secret,
        base_url=server.served.base_url,
        http2=http2,
        ssl_context=server.context(),  # trusts the bench's CA
    )


async def _seen(server: TLSEmulator) -> dict[str, dict[str, int]]:
    """The server's counts so far: requests and connections per HTTP version."""
    async with httpx.AsyncClient(verify=server.context()) as raw:
        answer = await raw.get(server.served.base_url.removesuffix("/v1") + SEEN_PATH)
        answer.raise_for_status()
        seen: dict[str, dict[str, int]] = answer.json()
    return {
        "requests": {side: seen["requests"].pop(_VERSION[side], 0) for side in SIDES},
        "connections": {side: seen["connections"].get(_VERSION[side], 0) for side in SIDES},
        "other": seen["requests"],  # any other HTTP version: none expected
    }


async def _run(server: TLSEmulator, blocks: int, calls: dict[int, int]) -> Result:
    made = {side: _open(server, http2=side == "h2") for side in SIDES}
    sent = dict.fromkeys(SIDES, 1)  # each side's one token request
    levels: dict[int, Level] = {}
    try:
        for _ in range(LISTED):
            await made["h1.1"].clients.create(name="pos")
        sent["h1.1"] += LISTED
        await made["h2"].verify_credentials()  # its token: both sides start with a connection

        def lister(side: str) -> Callable[[], Awaitable[bool]]:
            list_clients = made[side].clients.list

            async def one() -> bool:
                return len(await list_clients()) == LISTED

            return one

        call = {side: lister(side) for side in SIDES}
        opened = (await _seen(server))["connections"]
        for level in LEVELS:
            for side in SIDES:
                ok = await drive(call[side], WARMUP, level)
                sent[side] += ok
                if ok != WARMUP:
                    raise RuntimeError(f"http2 {side} warm-up: {ok} of {WARMUP} lists ok")
            per_second: dict[str, list[float]] = {side: [] for side in SIDES}
            cpu: dict[str, list[float]] = {side: [] for side in SIDES}
            for side in rounds(SIDES, blocks):
                n = calls[level]
                start, start_cpu = time.perf_counter(), time.process_time()
                ok = await drive(call[side], n, level)
                elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
                if ok != n:
                    raise RuntimeError(f"http2 {side} c{level}: only {ok} of {n} lists ok")
                sent[side] += ok
                per_second[side].append(n / elapsed)
                cpu[side].append(used / n * 1e6)
            seen = await _seen(server)
            levels[level] = Level(
                {s: Blocks(v, higher_is_better=True) for s, v in per_second.items()},
                {s: Blocks(v) for s, v in cpu.items()},
                {s: seen["connections"][s] - opened[s] for s in SIDES},
            )
            opened = seen["connections"]
    finally:
        for dintero in made.values():
            await dintero.aclose()
    seen = await _seen(server)
    if seen["requests"] != sent or seen["other"]:
        raise RuntimeError(f"http2: the server saw {seen}, the sides sent {sent}")
    return Result(levels, seen["requests"], blocks, calls)


def measure(blocks: int, calls: dict[int, int]) -> Result:
    """Lists per second and client CPU µs per list, per level and side, one figure per block."""
    with tls_emulator_process() as server:
        return asyncio.run(_run(server, blocks, calls))


def rows(result: Result) -> list[Row]:
    out = []
    for level, figures in result.levels.items():
        h2, h1 = figures.per_second["h2"], figures.per_second["h1.1"]
        out.append(
            Row(
                f"9. Loopback TLS lists/s at concurrency {level}, `http2=True` vs HTTP/1.1: "
                "median block (fastest fifth; median of adjacent-block ratios)",
                f"{h2.median:,.0f} ({h2.fastest_fifth:,.0f})",
                f"HTTP/1.1 {h1.median:,.0f} ({h1.fastest_fifth:,.0f})",
                f"{h2.median / h1.median:.2f} ({h2.fastest_fifth / h1.fastest_fifth:.2f}; "
                f"{paired_ratio(h2, h1):.2f})",
                "(measured)",
            )
        )
        c2, c1 = figures.cpu_us["h2"].median, figures.cpu_us["h1.1"].median
        out.append(
            Row(
                f"9. Loopback TLS client CPU µs per list at concurrency {level}, median block",
                f"{c2:,.0f}",
                f"HTTP/1.1 {c1:,.0f}",
                f"{c2 / c1:.2f}",
            )
        )
    opened = {
        side: " / ".join(f"{result.levels[level].connections[side]:,}" for level in LEVELS)
        for side in SIDES
    }
    out.append(
        Row(
            "9. Requests the server received per protocol; TCP connections opened at "
            + " / ".join(f"c{level}" for level in LEVELS),
            f"HTTP/2 {result.requests['h2']:,}; {opened['h2']}",
            f"HTTP/1.1 {result.requests['h1.1']:,}; {opened['h1.1']}",
            "—",
            "each request on its side's protocol",
            "yes",  # measure() raises otherwise
        )
    )
    return out


def sizes(blocks: int, calls: dict[int, int]) -> str:
    per_level = " / ".join(f"{calls[level]:,}" for level in LEVELS)
    levels = " / ".join(str(level) for level in LEVELS)
    return (
        f"9: {blocks} blocks per side of {per_level} lists at concurrency {levels}, after "
        f"{WARMUP} warm-up lists per side and level"
    )


def notes() -> str:
    """The docstring's middle paragraph, as a note of docs/benchmarks.md."""
    text = __doc__.split("\n\n")[1].strip()
    return "- 9: " + text.replace("\n", "\n  ") + "\n"


FULL = (8, {1: 150, 50: 500})
QUICK = (2, {1: 150, 50: 400})


def main() -> int:
    if sys.argv[1:2] == ["serve"]:
        return serve(Path(sys.argv[2]))
    blocks, calls = QUICK if "--quick" in sys.argv[1:] else FULL
    started = time.perf_counter()
    result = measure(blocks, calls)
    print(markdown_table(rows(result)))
    print(f"\n{sizes(blocks, calls)}; {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
