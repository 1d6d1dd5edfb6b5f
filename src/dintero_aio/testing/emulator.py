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
from collections.abc import Callable, Iterable, Mapping, Sequence
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

Operation = Literal[
    "token",
    "create",
    "list",
    "get",
    "delete",
    "rotate",
    "grants_list",
    "grants_create",
    "grants_delete",
    "exchange",
]
"""The ten operations of openapi.yaml, by short name; faults and counters are per operation."""
OPERATIONS: tuple[Operation, ...] = get_args(Operation)
CorruptMode = Literal["truncated", "not_json"]
GrantType = Literal["any", "authorization_code", "client_credentials", "password"]
"""A grant's `type`: `any` (the default) or the one Get Token `grant_type` it may be used with."""
GRANT_TYPES: tuple[GrantType, ...] = get_args(GrantType)
ROOT_SCOPES: tuple[str, ...] = ("admin:accounts",)
"""The scopes of a token for the configured (root) credentials, and of exchanged tokens from it."""

DEFAULT_CLIENT_SECRET = "emulator-secret-for-tests-only"  # noqa: S105 - a test fixture, not a secret
DINTERO_API_URL = "https://api.dintero.com/v1"
IN_PROCESS_BASE_URL = "http://127.0.0.1/v1"
"""Base URL for `Emulator.transport()`: the transport ignores the host, but the SDK accepts plain
http only to a loopback host, so this is one: a request sent without the transport by mistake
stays on this machine (port 80, where usually nothing listens) instead of crossing a network."""
_OID = re.compile(r"[PT](?:[0-9]{3}|[0-9]{8})")
_MERCHANT = re.compile(r"[PT][0-9]{8}")  # Exchange.account_id: a sub-account, always 8 digits
_CLIENT_CREDENTIALS_TYPES = ("any", "client_credentials")  # grant types Get Token accepts
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


@dataclass(frozen=True)
class EmulatedGrantOidc:
    """A grant's OpenID Connect configuration, as sent; its secret stays out of the repr."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    authority: str | None = None


@dataclass(frozen=True)
class EmulatedGrant:
    """A client grant created through the API (or `Emulator.add_grant`); immutable snapshots.

    `client_id` is the granted client's `id` (its uuid), as in Dintero's partner guide.
    """

    id: str
    client_id: str
    audience: str
    scope: tuple[str, ...]
    type: GrantType
    created_at: str
    updated_at: str
    created_by: str
    oidc: EmulatedGrantOidc | None = None
    deleted_at: str | None = None
    deleted_by: str | None = None

    def info(self) -> dict[str, Any]:
        """The JSON body Dintero returns: a Grant."""
        body = {key: value for key, value in asdict(self).items() if value is not None}
        body["scope"] = list(self.scope)
        if self.oidc is not None:
            body["oidc"] = {k: v for k, v in asdict(self.oidc).items() if v is not None}
        return body

    def allows_client_credentials(self, client_uuid: str) -> bool:
        """Live, for this client, and of a type that Get Token with client credentials accepts."""
        return (
            self.deleted_at is None
            and self.client_id == client_uuid
            and self.type in _CLIENT_CREDENTIALS_TYPES
        )


@dataclass(frozen=True)
class _Token:
    caller: str  # the client id (or the partner's caller, for an exchanged token)
    account: str  # the account the token acts on
    expires: float  # time.monotonic() deadline
    scopes: tuple[str, ...]


class _Account:
    """One account's state: its auth clients and client grants, deleted ones included."""

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.clients: dict[str, EmulatedClient] = {}  # by id
        self.grants: dict[str, EmulatedGrant] = {}  # by id


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
    """Dintero's management-auth API for one account (and a partner's merchants), in memory.

    An ASGI app. Thread-safe: state, counters and faults sit behind one lock, because `serve()`
    runs the app in another thread while the test thread scripts faults and reads `clients`.
    """

    def __init__(
        self,
        *,
        account_id: str = "T12345678",
        client_id: str = "emulator-client",
        client_secret: str = DEFAULT_CLIENT_SECRET,
        expires_in: int = 14400,
        merchants: Iterable[str] = (),
        require_grants: bool = True,
    ) -> None:
        if not _OID.fullmatch(account_id):
            raise ValueError(f"account_id must be P or T followed by 3 or 8 digits: {account_id!r}")
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.expires_in = expires_in
        self.delay = 0.0
        """Seconds every request waits before it is processed (a slow network), 0 by default."""
        self.require_grants = require_grants
        """Whether a client created through the API needs a client grant to get a token."""
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {account_id: _Account(account_id)}
        self._tokens: dict[str, _Token] = {}
        self._received: Counter[tuple[str, str]] = Counter()  # (operation, oid in the path)
        self._processed: Counter[tuple[str, str]] = Counter()
        self._faults: dict[str, deque[_Fault]] = {op: deque() for op in OPERATIONS}
        for merchant in merchants:
            self.add_merchant(merchant)
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
            Route(
                f"{prefix}/client-grants", self._grants_list, methods=["GET"], name="grants_list"
            ),
            Route(
                f"{prefix}/client-grants",
                self._grants_create,
                methods=["POST"],
                name="grants_create",
            ),
            Route(
                f"{prefix}/client-grants/{{id}}",
                self._grants_delete,
                methods=["DELETE"],
                name="grants_delete",
            ),
            # The spec calls this oid `partner_id`; one name keeps per-account counters simple.
            Route(f"{prefix}/exchange_token", self._exchange, methods=["POST"], name="exchange"),
        ]
        handlers = {ApiError: _render_api_error, HTTPException: _render_http_exception}
        self._app = Starlette(routes=self._routes, exception_handlers=handlers)

    # Accounts.

    def add_merchant(self, account_id: str) -> None:
        """Make `account_id` a merchant account (sub-account) of this emulator's account.

        The account becomes a partner: its tokens can be exchanged for tokens of its merchants
        (`POST /accounts/{account_id}/auth/exchange_token`), and each merchant account has its
        own clients and grants. A merchant id is P or T followed by 8 digits.
        """
        if not _MERCHANT.fullmatch(account_id):
            raise ValueError(f"a merchant id is P or T followed by 8 digits: {account_id!r}")
        with self._lock:
            if account_id in self._accounts:
                raise ValueError(f"{account_id} is already an account of this emulator")
            self._accounts[account_id] = _Account(account_id)

    @property
    def merchants(self) -> tuple[str, ...]:
        """The merchant accounts of this (partner) account, in the order they were added."""
        with self._lock:
            return tuple(oid for oid in self._accounts if oid != self.account_id)

    # Inspection, for test assertions.

    @property
    def audience(self) -> str:
        """The audience real Dintero expects in a token request for this account."""
        return self.audience_for(self.account_id)

    def audience_for(self, account_id: str) -> str:
        """The audience real Dintero expects in a token request for `account_id`."""
        return f"{DINTERO_API_URL}/accounts/{account_id}"

    @property
    def clients(self) -> list[EmulatedClient]:
        """The live (not deleted) clients created through the API, oldest first, with secrets."""
        return self.clients_of(self.account_id)

    @property
    def grants(self) -> list[EmulatedGrant]:
        """The live (not deleted) client grants of this account, oldest first."""
        return self.grants_of(self.account_id)

    def clients_of(self, account_id: str) -> list[EmulatedClient]:
        """`clients` of this account or of one of its merchants; ValueError for another one."""
        with self._lock:
            clients = self._account(account_id).clients.values()
            return [c for c in clients if c.deleted_at is None]

    def grants_of(self, account_id: str) -> list[EmulatedGrant]:
        """`grants` of this account or of one of its merchants; ValueError for another one."""
        with self._lock:
            return [g for g in self._account(account_id).grants.values() if g.deleted_at is None]

    def add_grant(
        self,
        client: EmulatedClient | str,
        *,
        audience: str | None = None,
        scope: Sequence[str] = ROOT_SCOPES,
        type: GrantType = "any",  # Dintero's field name
        account_id: str | None = None,
    ) -> EmulatedGrant:
        """Grant a live client (an `EmulatedClient` or its `id`), as Create client grant would.

        A shortcut for tests that are not about grants; not counted as a request. The audience
        defaults to the account's (`audience_for(account_id)`); the account to this one.
        """
        account_id = self.account_id if account_id is None else account_id
        client_uuid = client.id if isinstance(client, EmulatedClient) else client
        if type not in GRANT_TYPES:
            raise ValueError(f"type must be one of {GRANT_TYPES}, not {type!r}")
        if isinstance(scope, str) or not scope or not all(isinstance(s, str) for s in scope):
            raise ValueError("scope must be a non-empty sequence of strings")
        now = _now()
        with self._lock:
            account = self._account(account_id)
            found = account.clients.get(client_uuid)
            if found is None or found.deleted_at is not None:
                raise ValueError(f"no live client with id {client_uuid!r} in {account_id}")
            grant = EmulatedGrant(
                id=str(uuid.uuid4()),
                client_id=found.id,
                audience=self.audience_for(account_id) if audience is None else audience,
                scope=tuple(scope),
                type=type,
                created_at=now,
                updated_at=now,
                created_by=self.client_id,
            )
            account.grants[grant.id] = grant
        return grant

    def received(self, operation: Operation, *, account: str | None = None) -> int:
        """Requests of `operation` that arrived, counted before any fault or validation.

        With `account`, only those whose path named that oid (`partner_id` for "exchange").
        """
        with self._lock:
            return _count(self._received, _checked(operation), account)

    def processed(self, operation: Operation, *, account: str | None = None) -> int:
        """Requests of `operation` that succeeded: a token issued, a client created, listed, etc.

        With `account`, only those whose path named that oid (`partner_id` for "exchange").
        """
        with self._lock:
            return _count(self._processed, _checked(operation), account)

    def expire_tokens(self) -> None:
        """Make every token issued so far expired, as if `expires_in` had passed."""
        with self._lock:
            self._tokens = {key: replace(t, expires=-1.0) for key, t in self._tokens.items()}

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this app in-process (use base_url IN_PROCESS_BASE_URL)."""
        return httpx.ASGITransport(app=self)

    def __repr__(self) -> str:
        """What a failing assertion or a debugger needs to tell emulators apart: the account,
        its admin client id, and the live clients and grants of each account (counts only:
        the state holds secrets, which must never reach a repr)."""
        with self._lock:
            counts = {
                oid: (
                    sum(c.deleted_at is None for c in account.clients.values()),
                    sum(g.deleted_at is None for g in account.grants.values()),
                )
                for oid, account in self._accounts.items()
            }
        clients, grants = counts.pop(self.account_id)
        text = (
            f"Emulator(account_id={self.account_id!r}, client_id={self.client_id!r}, "
            f"clients={clients}, grants={grants}"
        )
        if counts:
            merchants = ", ".join(
                f"{oid!r}: (clients={c}, grants={g})" for oid, (c, g) in counts.items()
            )
            text += f", merchants={{{merchants}}}"
        if not self.require_grants:
            text += ", require_grants=False"
        return text + ")"

    def _account(self, account_id: str) -> _Account:
        """The state of one of our accounts (call with the lock held)."""
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ValueError(f"{account_id!r} is not an account of this emulator") from None

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

    def _arrive(self, operation: str, account: str) -> _Fault | None:
        with self._lock:
            self._received[(operation, account)] += 1
            queue = self._faults[operation]
            if not queue:
                return None
            queue[0].times -= 1
            return queue.popleft() if queue[0].times == 0 else queue[0]

    # The ASGI app: faults wrap the Starlette app, which implements the API.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation, account = None, ""
        for route in self._routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                operation, account = route.name, str(child["path_params"]["oid"])
                break
        if operation is None:  # not one of the operations (lifespan, unknown path): no faults
            await self._app(scope, receive, send)
            return
        # Read the whole request first, so a fault hits after the client has finished sending.
        body = await _read_body(receive)
        fault = self._arrive(operation, account)
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
        scheme = request.headers.get("authorization", "").partition(" ")[0].lower()
        client: EmulatedClient | None = None
        if scheme == "bearer":  # step 3 of Dintero's partner guide: an exchanged token
            token = self._bearer(request)
            caller, account, scopes = token.caller, token.account, token.scopes
        else:
            caller, account, client = self._basic(request)
            scopes = ROOT_SCOPES
        body = _json(await request.body())
        if not (
            isinstance(body, dict)
            and body.get("grant_type") == "client_credentials"
            and isinstance(body.get("audience"), str)
        ):
            raise ApiError(
                400,
                "invalid_request",
                'Expected {"grant_type": "client_credentials", "audience": str}',
            )
        audience = _canonical_audience(request, body["audience"])
        if audience != self.audience_for(account):
            raise ApiError(
                403, "invalid_audience", f"The audience must be {self.audience_for(account)}"
            )
        if client is not None and self.require_grants:
            with self._lock:
                grants = [
                    grant
                    for grant in self._accounts[account].grants.values()
                    if grant.allows_client_credentials(client.id)
                    and _canonical_audience(request, grant.audience) == audience
                ]
            if not grants:
                raise ApiError(
                    403,
                    "missing_grant",
                    f"The client has no client grant for the audience {audience} "
                    "that allows the client_credentials grant type",
                )
            scopes = tuple(dict.fromkeys(scope for grant in grants for scope in grant.scope))
        return self._issue("token", caller, account, body["audience"], scopes)

    async def _exchange(self, request: Request) -> Response:
        token = self._bearer(request)
        body = _json(await request.body())
        if not (isinstance(body, dict) and isinstance(body.get("account_id"), str)):
            raise ApiError(400, "invalid_request", 'Expected {"account_id": str}')
        merchant = body["account_id"]
        if not _MERCHANT.fullmatch(merchant):
            error = {"field": "account_id", "message": "must be P or T followed by 8 digits"}
            raise ApiError(400, "validation_error", "Invalid exchange", [error])
        with self._lock:
            own = token.account == self.account_id and merchant in self._accounts
        if not own or merchant == self.account_id:
            raise ApiError(
                403, "forbidden", f"{merchant} is not a merchant account of {token.account}"
            )
        return self._issue(
            "exchange",
            token.caller,
            merchant,
            self.audience_for(merchant),
            token.scopes,
            oid=token.account,
        )

    def _issue(
        self,
        operation: str,
        caller: str,
        account: str,
        audience: str,
        scopes: tuple[str, ...],
        *,
        oid: str | None = None,
    ) -> Response:
        """A new token for `account`; `oid` (default `account`) is the path's, for the counters."""
        # JWT-shaped, for clients that peek at `exp`; the emulator only ever looks tokens up.
        iat = int(time.time())
        claims = {
            "sub": caller,
            "aud": audience,
            "iat": iat,
            "exp": iat + self.expires_in,
            "scope": " ".join(scopes),
        }
        parts = (
            b'{"alg":"HS256","typ":"JWT"}',
            json.dumps(claims).encode(),
            secrets.token_bytes(32),
        )
        token = ".".join(_b64(part) for part in parts)
        with self._lock:
            expires = time.monotonic() + self.expires_in
            self._tokens[token] = _Token(caller, account, expires, scopes)
            self._processed[(operation, account if oid is None else oid)] += 1
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    async def _create(self, request: Request) -> Response:
        token = self._bearer(request)
        fields = _client_fields(_json(await request.body()))
        now = _now()
        client = EmulatedClient(
            id=str(uuid.uuid4()),
            client_secret=secrets.token_urlsafe(32),
            created_at=now,
            updated_at=now,
            created_by=token.caller,
            **fields,
        )
        with self._lock:
            self._accounts[token.account].clients[client.id] = client
            self._processed[("create", token.account)] += 1
        return JSONResponse(client.info(with_secret=True))

    async def _list(self, request: Request) -> Response:
        token = self._bearer(request)
        with self._lock:
            self._processed[("list", token.account)] += 1
            clients = self._accounts[token.account].clients.values()
            return JSONResponse([c.info() for c in clients if c.deleted_at is None])

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
        token = self._bearer(request)
        client_uuid = _path_uuid(request, "client")
        with self._lock:
            clients = self._accounts[token.account].clients
            client = clients.get(client_uuid)
            if client is None or client.deleted_at is not None:
                raise ApiError(404, "not_found", "Client not found")
            clients[client.id] = client = change(client, token.caller)
            self._processed[(operation, token.account)] += 1
        return client

    async def _grants_list(self, request: Request) -> Response:
        # The spec documents no 400 here (Dintero's neither): a malformed oid is a 403.
        token = self._bearer(request, malformed_oid_status=403)
        audience = request.query_params.get("audience")
        client_id = request.query_params.get("client_id")
        with self._lock:
            self._processed[("grants_list", token.account)] += 1
            grants = [
                grant.info()
                for grant in self._accounts[token.account].grants.values()
                if grant.deleted_at is None
                and audience in (None, grant.audience)
                and client_id in (None, grant.client_id)
            ]
        return JSONResponse(grants)

    async def _grants_create(self, request: Request) -> Response:
        token = self._bearer(request)
        fields = _grant_fields(_json(await request.body()))
        now = _now()
        with self._lock:
            account = self._accounts[token.account]
            client = account.clients.get(fields["client_id"])
            if client is None or client.deleted_at is not None:
                raise ApiError(
                    404,
                    "not_found",
                    f"No client with id {fields['client_id']} in account {account.id} "
                    "(a grant's client_id is the client's id, the uuid, not its client_id)",
                )
            grant = EmulatedGrant(
                id=str(uuid.uuid4()),
                created_at=now,
                updated_at=now,
                created_by=token.caller,
                **fields,
            )
            account.grants[grant.id] = grant
            self._processed[("grants_create", token.account)] += 1
        return JSONResponse(grant.info())

    async def _grants_delete(self, request: Request) -> Response:
        token = self._bearer(request)
        grant_uuid = _path_uuid(request, "grant")
        with self._lock:
            grants = self._accounts[token.account].grants
            grant = grants.get(grant_uuid)
            if grant is None or grant.deleted_at is not None:
                raise ApiError(404, "not_found", "Client grant not found")
            now = _now()
            grants[grant.id] = grant = replace(
                grant, deleted_at=now, deleted_by=token.caller, updated_at=now
            )
            self._processed[("grants_delete", token.account)] += 1
        return JSONResponse(grant.info())

    def _basic(self, request: Request) -> tuple[str, str, EmulatedClient | None]:
        """Valid Basic credentials: (client id, its account, the client or None for the root).

        The root credentials (`client_id`/`client_secret`) belong to this account; a live
        client created through the API logs in with its `id` or `client_id` and current secret.
        """
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except ValueError:
            user = secret = ""
        with self._lock:
            candidates: list[tuple[str, str | None, str, EmulatedClient | None]] = [
                (self.account_id, self.client_id, self.client_secret, None)
            ]
            candidates += [
                (account.id, name, c.client_secret, c)
                for account in self._accounts.values()
                for c in account.clients.values()
                if c.deleted_at is None
                for name in (c.id, c.client_id)
            ]
        matches = [
            (account, client)
            for account, name, expected, client in candidates
            if scheme.lower() == "basic"
            and user == name
            and secrets.compare_digest(secret.encode(), expected.encode())
        ]
        if not matches:
            raise ApiError(401, "unauthorized", "Invalid client credentials")
        oid = request.path_params["oid"]
        account, client = next((m for m in matches if m[0] == oid), matches[0])
        self._check_account(request, account)
        return user, account, client

    def _bearer(self, request: Request, *, malformed_oid_status: int = 400) -> _Token:
        """The valid, unexpired bearer token of the request, for the account in its path."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            token = self._tokens.get(key.strip())
        if scheme.lower() != "bearer" or token is None or time.monotonic() >= token.expires:
            raise ApiError(401, "unauthorized", "Access forbidden, invalid JWT token was used")
        self._check_account(request, token.account, malformed_oid_status)
        return token

    def _check_account(
        self, request: Request, account: str, malformed_oid_status: int = 400
    ) -> None:
        oid = request.path_params["oid"]
        if not _OID.fullmatch(oid):
            raise ApiError(
                malformed_oid_status, "invalid_oid", "oid must be P or T followed by 3 or 8 digits"
            )
        if oid != account:
            raise ApiError(403, "forbidden", f"No access to account {oid}")


def _count(counter: Counter[tuple[str, str]], operation: str, account: str | None) -> int:
    if account is not None:
        return counter[(operation, account)]
    return sum(n for (op, _), n in counter.items() if op == operation)


def _canonical_audience(request: Request, audience: str) -> str:
    """Dintero's form of an audience given as the emulator's own URL as the request reached it."""
    own = f"{str(request.base_url).rstrip('/')}/v1/accounts/"
    if audience.startswith(own):
        return f"{DINTERO_API_URL}/accounts/{audience[len(own) :]}"
    return audience


def _path_uuid(request: Request, what: str) -> str:
    """The canonical form of the `id` path parameter, or ApiError 400 if it is not a uuid."""
    canonical = _canonical_uuid(request.path_params["id"])
    if canonical is None:
        raise ApiError(400, "invalid_id", f"The {what} id must be a uuid")
    return canonical


def _canonical_uuid(raw: object) -> str | None:
    """`raw` in lower case if it is a uuid in its canonical form (any case), else None."""
    if not isinstance(raw, str):
        return None
    try:
        canonical = str(uuid.UUID(raw))
    except ValueError:
        return None
    return canonical if canonical == raw.lower() else None


def _grant_fields(body: object) -> dict[str, Any]:
    """The fields of a create-grant body, or ApiError 400 listing every bad field."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object")
    errors: list[dict[str, str]] = []

    def bad(name: str, message: str) -> None:
        errors.append({"field": name, "message": message})

    client_uuid = _canonical_uuid(body.get("client_id"))
    if client_uuid is None:
        bad("client_id", "must be the client's id (a uuid), not its client_id")
    audience = body.get("audience")
    if not (isinstance(audience, str) and audience):
        bad("audience", "must be a non-empty string")
    scope = body.get("scope")
    if not (isinstance(scope, list) and scope and all(isinstance(s, str) and s for s in scope)):
        bad("scope", "must be a non-empty array of non-empty strings")
        scope = []
    grant_type = body.get("type", "any")
    if grant_type not in GRANT_TYPES:
        bad("type", f"must be one of {', '.join(GRANT_TYPES)}")
    oidc = body.get("oidc")
    names = ("client_id", "client_secret", "authority")
    if oidc is not None and not (
        isinstance(oidc, dict)
        and all(isinstance(oidc[name], str) for name in names if name in oidc)
    ):
        bad("oidc", "must be an object of strings: client_id, client_secret, authority")
    if errors:
        raise ApiError(400, "validation_error", "Invalid client grant", errors)
    fields: dict[str, Any] = {
        "client_id": client_uuid,
        "audience": audience,
        "scope": tuple(scope),
        "type": grant_type,
    }
    if oidc is not None:
        fields["oidc"] = EmulatedGrantOidc(**{n: oidc[n] for n in names if n in oidc})
    return fields


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
