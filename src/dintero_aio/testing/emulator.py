"""An in-memory emulator of Dintero's management-auth API, with scriptable faults.

The emulator follows `openapi.yaml` and Dintero's documented behaviour closely enough that an SDK
can be tested against it end to end, and it can fail on demand in the ways real networks fail
(error statuses, dropped or reset connections, slow or corrupt responses), which a real account
cannot be made to do. See `dintero_aio.testing` for how to use it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal, get_args

import anyio
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Message, Receive, Scope, Send

Operation = Literal["token", "create", "list", "get", "delete", "rotate"]
"""The six operations of openapi.yaml, by short name; faults and counters are per operation."""
OPERATIONS: tuple[Operation, ...] = get_args(Operation)
CorruptMode = Literal["truncated", "not_json"]

DEFAULT_CLIENT_SECRET = "emulator-secret-for-tests-only"  # noqa: S105 - a test fixture, not a secret
DINTERO_API_URL = "https://api.dintero.com/v1"
IN_PROCESS_BASE_URL = "http://emulator.local/v1"
"""Base URL for httpx with `Emulator.transport()`; any host works, this one reads well."""
_OID = re.compile(r"[PT](?:[0-9]{3}|[0-9]{8})")
_NOT_JSON = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"


@dataclass(frozen=True)
class EmulatedClient:
    """An auth client created through the API; snapshots are immutable, so safe to hand out."""

    id: str
    client_secret: str = field(repr=False)
    created_at: str
    updated_at: str
    created_by: str
    name: str | None = None
    description: str | None = None
    client_id: str | None = None
    callbacks: tuple[str, ...] | None = None
    deleted_at: str | None = None
    deleted_by: str | None = None

    def info(self, *, with_secret: bool = False) -> dict[str, Any]:
        """The JSON body Dintero returns: ClientInfo, or ClientWithSecret (create and rotate)."""
        body = {key: value for key, value in asdict(self).items() if value is not None}
        if self.callbacks is not None:
            body["callbacks"] = list(self.callbacks)
        if not with_secret:
            del body["client_secret"]
        return body


class ApiError(Exception):
    """Raised by the handlers; rendered as Dintero's error body `{"error": {...}}`."""

    def __init__(self, status: int, code: str, message: str, errors: list[Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            error["errors"] = self.errors
        return JSONResponse({"error": error}, self.status, headers=headers)


@dataclass
class _Fault:
    kind: Literal["respond", "drop", "reset", "delay", "corrupt"]
    times: int
    after_processing: bool = False
    response: Response | None = None
    seconds: float = 0.0
    mode: CorruptMode = "truncated"


class Emulator:
    """Dintero's management-auth API for one account, in memory, as an ASGI app.

    Thread-safe: state, counters and faults sit behind one lock, because `serve()` runs the app
    in another thread while the test thread scripts faults and reads `clients`.
    """

    def __init__(
        self,
        *,
        account_id: str = "T12345678",
        client_id: str = "emulator-client",
        client_secret: str = DEFAULT_CLIENT_SECRET,
        expires_in: int = 14400,
    ) -> None:
        if not _OID.fullmatch(account_id):
            raise ValueError(f"account_id must be P or T followed by 3 or 8 digits: {account_id!r}")
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.expires_in = expires_in
        self.delay = 0.0
        """Seconds every request waits before it is processed (a slow network), 0 by default."""
        self._lock = threading.Lock()
        self._clients: dict[str, EmulatedClient] = {}  # by id, deleted ones included
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (caller, monotonic expiry)
        self._received: Counter[str] = Counter()
        self._processed: Counter[str] = Counter()
        self._faults: dict[str, deque[_Fault]] = {op: deque() for op in OPERATIONS}
        prefix = "/v1/accounts/{oid}/auth"
        self._routes = [
            Route(f"{prefix}/token", self._token, methods=["POST"], name="token"),
            Route(f"{prefix}/clients", self._create, methods=["POST"], name="create"),
            Route(f"{prefix}/clients", self._list, methods=["GET"], name="list"),
            Route(f"{prefix}/clients/{{id}}", self._get, methods=["GET"], name="get"),
            Route(f"{prefix}/clients/{{id}}", self._delete, methods=["DELETE"], name="delete"),
            Route(
                f"{prefix}/clients/{{id}}/rotate-secret",
                self._rotate,
                methods=["POST"],
                name="rotate",
            ),
        ]
        handlers = {ApiError: _render_api_error, HTTPException: _render_http_exception}
        self._app = Starlette(routes=self._routes, exception_handlers=handlers)

    # Inspection, for test assertions.

    @property
    def audience(self) -> str:
        """The audience real Dintero expects in a token request for this account."""
        return f"{DINTERO_API_URL}/accounts/{self.account_id}"

    @property
    def clients(self) -> list[EmulatedClient]:
        """The live (not deleted) clients created through the API, oldest first, with secrets."""
        with self._lock:
            return [c for c in self._clients.values() if c.deleted_at is None]

    def received(self, operation: Operation) -> int:
        """Requests of `operation` that arrived, counted before any fault or validation."""
        with self._lock:
            return self._received[_checked(operation)]

    def processed(self, operation: Operation) -> int:
        """Requests of `operation` that succeeded: a token issued, a client created, listed, etc."""
        with self._lock:
            return self._processed[_checked(operation)]

    def expire_tokens(self) -> None:
        """Make every token issued so far expired, as if `expires_in` had passed."""
        with self._lock:
            self._tokens = {token: (caller, -1.0) for token, (caller, _) in self._tokens.items()}

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this app in-process (use base_url IN_PROCESS_BASE_URL)."""
        return httpx.ASGITransport(app=self)

    # Fault injection. Faults queue per operation and are consumed in order, one per request.

    def fail_next(
        self,
        operation: Operation,
        *,
        status: int = 503,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer with Dintero's error body and `status`, without processing the request.

        A 429 always carries `Retry-After` (`retry_after`, default 1); other statuses only when
        `retry_after` is given.
        """
        if not 400 <= status <= 599:
            raise ValueError(f"fail_next needs an error status (400-599), not {status}")
        if status == 429 and retry_after is None:
            retry_after = 1
        headers = None if retry_after is None else {"Retry-After": str(retry_after)}
        error = ApiError(status, _code(status), message or f"Injected fault: HTTP {status}")
        self._add(operation, _Fault("respond", times, response=error.response(headers)))

    def respond_next(
        self,
        operation: Operation,
        *,
        status: int,
        body: bytes | object = b"",
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer with an arbitrary response (418, 599, a 302...), without processing.

        `bytes` are sent as they are; anything else is sent as JSON.
        """
        if not 200 <= status <= 599:
            raise ValueError(f"uvicorn can send statuses 200-599 only, not {status}")
        if isinstance(body, bytes):
            response = Response(body, status, headers=dict(headers or {}))
        else:
            response = JSONResponse(body, status, headers=dict(headers or {}))
        self._add(operation, _Fault("respond", times, response=response))

    def drop_next(
        self,
        operation: Operation,
        *,
        after_processing: bool = False,
        reset: bool = False,
        times: int = 1,
    ) -> None:
        """Close the connection without a response, before or after processing the request.

        With `reset`, the connection is reset (TCP RST) instead of closed (FIN).
        """
        kind: Literal["drop", "reset"] = "reset" if reset else "drop"
        self._add(operation, _Fault(kind, times, after_processing=after_processing))

    def delay_next(
        self,
        operation: Operation,
        seconds: float,
        *,
        after_processing: bool = False,
        times: int = 1,
    ) -> None:
        """Wait `seconds` before processing the request, or after it, before responding."""
        self._add(
            operation, _Fault("delay", times, after_processing=after_processing, seconds=seconds)
        )

    def corrupt_next(
        self, operation: Operation, mode: CorruptMode = "truncated", *, times: int = 1
    ) -> None:
        """Process the request, then send its status and headers with a broken body.

        "truncated": the first half of the real JSON body; "not_json": an HTML page.
        """
        if mode not in get_args(CorruptMode):
            raise ValueError(f"mode must be one of {get_args(CorruptMode)}, not {mode!r}")
        self._add(operation, _Fault("corrupt", times, after_processing=True, mode=mode))

    def clear_faults(self) -> None:
        """Forget every fault not consumed yet."""
        with self._lock:
            for queue in self._faults.values():
                queue.clear()

    def _add(self, operation: Operation, fault: _Fault) -> None:
        if fault.times < 1:
            raise ValueError(f"times must be at least 1, not {fault.times}")
        with self._lock:
            self._faults[_checked(operation)].append(fault)

    def _arrive(self, operation: str) -> _Fault | None:
        with self._lock:
            self._received[operation] += 1
            queue = self._faults[operation]
            if not queue:
                return None
            queue[0].times -= 1
            return queue.popleft() if queue[0].times == 0 else queue[0]

    # The ASGI app: faults wrap the Starlette app, which implements the API.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation = next((r.name for r in self._routes if r.matches(scope)[0] is Match.FULL), None)
        if operation is None:  # not one of the five operations (lifespan, unknown path): no faults
            await self._app(scope, receive, send)
            return
        # Read the whole request first, so a fault hits after the client has finished sending.
        body = await _read_body(receive)
        fault = self._arrive(operation)
        if self.delay > 0:
            await anyio.sleep(self.delay)
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
            await self._app(scope, _replay(body, receive), send)
            return
        held = _HeldResponse()
        await self._app(scope, _replay(body, receive), held.send)
        if fault.kind in ("drop", "reset"):
            await _drop_connection(scope, receive, send, reset=fault.kind == "reset")
            return
        if fault.kind == "delay":
            await anyio.sleep(fault.seconds)
        elif fault.kind == "corrupt":
            held.body = _NOT_JSON if fault.mode == "not_json" else held.body[: len(held.body) // 2]
        await held.replay(send)

    # The API. Checks run in a fixed order: authentication, oid, account, id, body, existence.

    async def _token(self, request: Request) -> Response:
        caller = self._basic_caller(request)
        grant = _json(await request.body())
        if not (
            isinstance(grant, dict)
            and grant.get("grant_type") == "client_credentials"
            and isinstance(grant.get("audience"), str)
        ):
            raise ApiError(
                400,
                "invalid_request",
                'Expected {"grant_type": "client_credentials", "audience": str}',
            )
        own = f"{str(request.base_url).rstrip('/')}/v1/accounts/{self.account_id}"
        if grant["audience"] not in (self.audience, own):
            raise ApiError(403, "invalid_audience", f"The audience must be {self.audience}")
        # JWT-shaped, for clients that peek at `exp`; the emulator only ever looks tokens up.
        iat = int(time.time())
        claims = {"sub": caller, "aud": grant["audience"], "iat": iat, "exp": iat + self.expires_in}
        parts = (
            b'{"alg":"HS256","typ":"JWT"}',
            json.dumps(claims).encode(),
            secrets.token_bytes(32),
        )
        token = ".".join(_b64(part) for part in parts)
        with self._lock:
            self._tokens[token] = (caller, time.monotonic() + self.expires_in)
            self._processed["token"] += 1
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def _create(self, request: Request) -> Response:
        caller = self._bearer_caller(request)
        fields = _client_fields(_json(await request.body()))
        now = _now()
        client = EmulatedClient(
            id=str(uuid.uuid4()),
            client_secret=secrets.token_urlsafe(32),
            created_at=now,
            updated_at=now,
            created_by=caller,
            **fields,
        )
        with self._lock:
            self._clients[client.id] = client
            self._processed["create"] += 1
        return JSONResponse(client.info(with_secret=True))

    async def _list(self, request: Request) -> Response:
        self._bearer_caller(request)
        with self._lock:
            self._processed["list"] += 1
            return JSONResponse([c.info() for c in self._clients.values() if c.deleted_at is None])

    async def _get(self, request: Request) -> Response:
        return JSONResponse(self._update(request, "get", lambda client, caller: client).info())

    async def _delete(self, request: Request) -> Response:
        def delete(client: EmulatedClient, caller: str) -> EmulatedClient:
            return replace(client, deleted_at=_now(), deleted_by=caller)

        return JSONResponse(self._update(request, "delete", delete).info())

    async def _rotate(self, request: Request) -> Response:
        def rotate(client: EmulatedClient, caller: str) -> EmulatedClient:
            return replace(client, client_secret=secrets.token_urlsafe(32), updated_at=_now())

        return JSONResponse(self._update(request, "rotate", rotate).info(with_secret=True))

    def _update(
        self,
        request: Request,
        operation: str,
        change: Callable[[EmulatedClient, str], EmulatedClient],
    ) -> EmulatedClient:
        """Apply `change` to the live client named by the path, atomically; 404 if there is none."""
        caller = self._bearer_caller(request)
        try:
            client_uuid = str(uuid.UUID(request.path_params["id"]))
        except ValueError:
            client_uuid = ""
        if client_uuid != request.path_params["id"].lower():  # only the canonical form is a uuid
            raise ApiError(400, "invalid_id", "The client id must be a uuid")
        with self._lock:
            client = self._clients.get(client_uuid)
            if client is None or client.deleted_at is not None:
                raise ApiError(404, "not_found", "Client not found")
            self._clients[client.id] = client = change(client, caller)
            self._processed[operation] += 1
        return client

    def _basic_caller(self, request: Request) -> str:
        """The client id of valid Basic credentials: the configured pair or a live client's."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except ValueError:
            user = secret = ""
        with self._lock:
            pairs = [(self.client_id, self.client_secret)] + [
                (name, c.client_secret)
                for c in self._clients.values()
                if c.deleted_at is None
                for name in (c.id, c.client_id)
            ]
        if scheme.lower() != "basic" or not any(
            user == name and secrets.compare_digest(secret.encode(), expected.encode())
            for name, expected in pairs
        ):
            raise ApiError(401, "unauthorized", "Invalid client credentials")
        self._check_account(request)
        return user

    def _bearer_caller(self, request: Request) -> str:
        """The client id a valid, unexpired bearer token was issued to."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            caller, expires = self._tokens.get(token.strip(), ("", 0.0))
        if scheme.lower() != "bearer" or time.monotonic() >= expires:
            raise ApiError(401, "unauthorized", "Access forbidden, invalid JWT token was used")
        self._check_account(request)
        return caller

    def _check_account(self, request: Request) -> None:
        oid = request.path_params["oid"]
        if not _OID.fullmatch(oid):
            raise ApiError(400, "invalid_oid", "oid must be P or T followed by 3 or 8 digits")
        if oid != self.account_id:
            raise ApiError(403, "forbidden", f"No access to account {oid}")


def _checked(operation: str) -> str:
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {OPERATIONS}, not {operation!r}")
    return operation


def _client_fields(body: object) -> dict[str, Any]:
    """The writable fields of a create body, or ApiError 400 listing every bad field."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object")
    errors = [
        {"field": name, "message": "must be a string"}
        for name in ("name", "description", "client_id")
        if name in body and not isinstance(body[name], str)
    ]
    callbacks = body.get("callbacks", [])
    if not (isinstance(callbacks, list) and all(isinstance(c, str) for c in callbacks)):
        errors.append({"field": "callbacks", "message": "must be an array of strings"})
    if errors:
        raise ApiError(400, "validation_error", "Invalid client", errors)
    fields = {name: body[name] for name in ("name", "description", "client_id") if name in body}
    return fields | ({"callbacks": tuple(body["callbacks"])} if "callbacks" in body else {})


def _code(status: int) -> str:
    """An error code for a status without a more specific one: 503 -> "service_unavailable"."""
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_request", "The body must be JSON") from None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def _render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _render_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path or method), in Dintero's error shape."""
    assert isinstance(exc, HTTPException)
    return ApiError(exc.status_code, _code(exc.status_code), exc.detail).response(exc.headers)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


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
