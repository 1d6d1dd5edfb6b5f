"""Peak memory of one call whose response body is far larger than any Dintero sends.

Usage: python scripts/body_limits.py REPORT.json (run by `make reliability`; adds "body_limits").

Each case is served by a raw asyncio server on loopback, in a fresh process per case and side
so that each peak RSS is that call's alone: the SDK (`clients.list()`, default
`max_response_bytes`, 4 MiB) against raw httpx reading the same response (`client.get()`),
which is what the SDK did before the limit. The endless body is cut for raw httpx at 400 MB (it
would otherwise grow until the deadline).
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

MB = 1_000_000
TOKEN = b'{"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 3600}'
CASES = {
    "200, 400 MB body": (200, "identity", 400 * MB),
    "200, endless chunked body": (200, "chunked", None),
    "200, 1 MB gzip inflating to 1 GiB": (200, "gzip", 1024 * 1024 * 1024),
    "500, 1 MB gzip inflating to 1 GiB": (500, "gzip", 1024 * 1024 * 1024),
}
RAW_CAP = 400 * MB  # what an endless body is allowed to grow to on the raw side


def gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b" " * MB
    parts = [compressor.compress(b"[")]
    parts += [compressor.compress(block) for _ in range(size // MB)]
    return b"".join([*parts, compressor.compress(b"]"), compressor.flush()])


async def serve(status: int, mode: str, size: int | None) -> asyncio.Server:
    bomb = gzip_of_zeros(size) if mode == "gzip" and size else b""

    async def body() -> AsyncIterator[bytes]:
        if mode == "gzip":
            yield bomb
            return
        sent, chunk = 0, b" " * 65536
        while size is None or sent < size:
            yield chunk
            sent += len(chunk)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if b"/auth/token" in head.split(b"\r\n")[0]:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN)
                    )
                    continue
                headers = [b"HTTP/1.1 %d X" % status, b"Content-Type: application/json"]
                if mode == "gzip":
                    headers += [b"Content-Encoding: gzip", b"Content-Length: %d" % len(bomb)]
                elif mode == "identity":
                    headers.append(b"Content-Length: %d" % size)  # type: ignore[str-format]
                else:
                    headers.append(b"Transfer-Encoding: chunked")
                writer.write(b"\r\n".join(headers) + b"\r\n\r\n")
                async for part in body():
                    writer.write(b"%x\r\n%s\r\n" % (len(part), part) if mode == "chunked" else part)
                    await writer.drain()
                if mode == "chunked":
                    writer.write(b"0\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client hung up, or the measurement is over
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def measure(case: str, side: str) -> dict[str, object]:
    status, mode, size = CASES[case]
    server = await serve(status, mode, size)
    base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if side == "sdk":
        from dintero_aio import Dintero, DinteroError, RetryPolicy

        async with Dintero(
            account_id="T12345678",
            client_id="id",
            client_secret="pw",  # noqa: S106 - the local server checks nothing
            base_url=base,
            retry=RetryPolicy(max_retries=0, total_timeout=120),
        ) as dintero:
            try:
                await dintero.clients.list()
                outcome = "returned"
            except DinteroError as error:
                outcome = type(error).__name__
    else:
        async with httpx.AsyncClient(timeout=120) as client:
            url = f"{base}/accounts/T12345678/auth/clients"
            if mode == "chunked":  # what a whole-body read holds until it is stopped
                held: list[bytes] = []
                total = 0
                async with client.stream("GET", url) as response:
                    async for chunk in response.aiter_bytes():
                        held.append(chunk)
                        total += len(chunk)
                        if total > RAW_CAP:
                            break
                outcome = f"held {total / MB:,.0f} MB, then stopped by us"
            else:
                response = await client.get(url)
                outcome = f"read {len(response.content) / MB:,.0f} MB"
    server.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB on Linux
    return {
        "outcome": outcome,
        "peak_mib": round(max(peak, 0) / 1024, 1),
        "seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    if sys.argv[1] == "--one":
        print(json.dumps(asyncio.run(measure(sys.argv[2], sys.argv[3]))))
        return
    rows = []
    for case in CASES:
        row: dict[str, object] = {"case": case}
        for side in ("sdk", "raw"):
            done = subprocess.run(  # noqa: S603 - this script, by its own path
                [sys.executable, __file__, "--one", case, side],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            row[side] = json.loads(done.stdout)
        rows.append(row)
        print(f"{case}: sdk {row['sdk']}, raw httpx {row['raw']}")
    path = Path(sys.argv[1])
    report = json.loads(path.read_text()) if path.exists() else {}
    report["body_limits"] = rows
    path.write_text(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
