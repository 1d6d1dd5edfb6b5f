"""The emulator's faults: the ways a real network and server fail, on demand, per operation.

`Emulator.fail_next`, `respond_next`, `drop_next`, `delay_next` and `corrupt_next` queue a
`Fault`; the next request(s) of that operation take it (`FaultQueues.take`) and `run` plays it
around the API app: answer instead of it, wait, drop or reset the connection before or after it,
or send its answer with a broken body.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import anyio
import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, status_code_name
from ._state import OPERATIONS, Operation, checked_operation

CorruptMode = Literal["truncated", "not_json"]
_NOT_JSON = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"


@dataclass
class Fault:
    """One queued fault, used by the next `times` requests of its operation."""

    kind: Literal["respond", "drop", "reset", "delay", "corrupt"]
    times: int
    after_processing: bool = False
    response: Response | None = None
    seconds: float = 0.0
    mode: CorruptMode = "truncated"


def failure(status: int, retry_after: int | None, message: str | None, times: int) -> Fault:
    """Dintero's error body with `status`; a 429 always carries `Retry-After` (default 1)."""
    if not 400 <= status <= 599:
        raise ValueError(f"fail_next needs an error status (400-599), not {status}")
    if status == 429 and retry_after is None:
        retry_after = 1
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    error = ApiError(status, status_code_name(status), message or f"Injected fault: HTTP {status}")
    return Fault("respond", times, response=error.response(headers))


def answer(
    status: int, body: bytes | object, headers: Mapping[str, str] | None, times: int
) -> Fault:
    """Any response: `bytes` as they are, anything else as JSON."""
    if not 200 <= status <= 599:
        raise ValueError(f"uvicorn can send statuses 200-599 only, not {status}")
    if isinstance(body, bytes):
        response = Response(body, status, headers=dict(headers or {}))
    else:
        response = JSONResponse(body, status, headers=dict(headers or {}))
    return Fault("respond", times, response=response)


def corruption(mode: CorruptMode, times: int) -> Fault:
    if mode not in get_args(CorruptMode):
        raise ValueError(f"mode must be one of {get_args(CorruptMode)}, not {mode!r}")
    return Fault("corrupt", times, after_processing=True, mode=mode)


class FaultQueues:
    """A queue of faults per operation, consumed in order; thread-safe (tests script faults
    from their own thread while `serve()` runs the app in another)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[Operation, deque[Fault]] = {op: deque() for op in OPERATIONS}

    def add(self, operation: Operation, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError(f"times must be at least 1, not {fault.times}")
        with self._lock:
            self._queues[checked_operation(operation)].append(fault)

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.clear()

    def take(self, operation: Operation) -> Fault | None:
        """The fault for this request of `operation`, if one is queued (it counts as used)."""
        with self._lock:
            queue = self._queues[operation]
            if not queue:
                return None
            queue[0].times -= 1
            return queue.popleft() if queue[0].times == 0 else queue[0]


async def read_body(receive: Receive) -> bytes:
    """The whole request body, so that a fault hits after the client has finished sending."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


async def run(
    app: ASGIApp,
    fault: Fault | None,
    scope: Scope,
    body: bytes,
    receive: Receive,
    send: Send,
    *,
    delay: float,
) -> None:
    """Serve one request, whose `body` was read already, through `app` and `fault`."""
    if delay > 0:
        await anyio.sleep(delay)
    if fault is not None and fault.response is not None:
        await fault.response(scope, receive, send)
        return
    if fault is not None and not fault.after_processing:
        if fault.kind == "delay":
            await anyio.sleep(fault.seconds)
        else:
            await _drop_connection(scope, receive, send, reset=fault.kind == "reset")
            return
    if fault is None or not fault.after_processing:
        await app(scope, _replay(body, receive), send)
        return
    held = _HeldResponse()
    await app(scope, _replay(body, receive), held.send)
    if fault.kind in ("drop", "reset"):
        await _drop_connection(scope, receive, send, reset=fault.kind == "reset")
        return
    if fault.kind == "delay":
        await anyio.sleep(fault.seconds)
    elif fault.kind == "corrupt":
        held.body = _NOT_JSON if fault.mode == "not_json" else held.body[: len(held.body) // 2]
    await held.replay(send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands out the already-read body once, then defers to the real one."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


class _HeldResponse:
    """Collects a response instead of sending it, to drop, delay or corrupt it afterwards."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status, self.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def replay(self, send: Send) -> None:
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


async def _drop_connection(scope: Scope, receive: Receive, send: Send, *, reset: bool) -> None:
    """End the exchange without any response bytes: a real close (or RST) under uvicorn.

    In-process there is no socket, so raise what httpx raises when a real server does this:
    RemoteProtocolError for a close, ReadError for a reset (ASGITransport re-raises app errors).
    """
    transport = _uvicorn_transport(send)
    if transport is None:
        request = httpx.Request(scope["method"], str(Request(scope).url))
        if reset:
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )
    if reset:  # SO_LINGER on with a 0 s timeout: close() sends RST instead of FIN
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Return only once uvicorn has seen the disconnect; returning earlier makes it send a 500.
    while (await receive())["type"] != "http.disconnect":
        pass


def _uvicorn_transport(send: Send) -> asyncio.Transport | None:
    """The asyncio transport of the uvicorn connection behind `send`, or None if not uvicorn.

    A hack, checked against uvicorn 0.54 (h11 and httptools protocols): ASGI cannot drop a
    connection without responding, but uvicorn's `send` is the bound method
    `RequestResponseCycle.send`, and the cycle keeps the connection's transport in `.transport`.
    Only works when the Emulator is the outermost ASGI app.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None
