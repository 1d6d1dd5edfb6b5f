"""The HTTP side of the emulator: the ten operations of openapi.yaml as Starlette routes.

A handler parses the request (credentials, oid, ids, body), asks the state model (`_state.py`)
and renders Dintero's answer. Checks run in a fixed order, which Dintero does not document:
the token rate limit (token endpoints only, when set), authentication (401), oid pattern (400),
account (403 for a well-formed oid of another account), client or grant id (400 if not a
uuid), body (400), existence (404). Listing grants documents no 400, so there a malformed oid
is a 403.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from ._errors import ApiError, status_code_name
from ._rate_limit import RollingWindow
from ._state import (
    DINTERO_API_URL,
    GRANT_TYPES,
    MERCHANT_ID,
    OID,
    ROOT_SCOPES,
    EmulatedClient,
    EmulatedGrantOidc,
    Operation,
    State,
    Token,
    now,
)

_PREFIX = "/v1/accounts/{oid}/auth"
# Path -> method -> operation. One route per path, so that a 405 lists every method the path
# supports in `Allow` (RFC 9110), not only those of one operation. The spec calls the oid of
# exchange_token `partner_id`; one name keeps per-account counters simple.
_PATHS: dict[str, dict[str, Operation]] = {
    "/token": {"POST": "token"},
    "/clients": {"GET": "list", "POST": "create"},
    "/clients/{id}": {"GET": "get", "DELETE": "delete"},
    "/clients/{id}/rotate-secret": {"POST": "rotate"},
    "/client-grants": {"GET": "grants_list", "POST": "grants_create"},
    "/client-grants/{id}": {"DELETE": "grants_delete"},
    "/exchange_token": {"POST": "exchange"},
}
Handler = Callable[[Request], Awaitable[Response]]


class Settings(Protocol):
    """What the API reads from the Emulator at every request (a test may change it between)."""

    @property
    def account_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def client_secret(self) -> str: ...
    @property
    def expires_in(self) -> int: ...
    @property
    def require_grants(self) -> bool: ...
    @property
    def token_rate_limit(self) -> int | None: ...


def audience_for(account_id: str) -> str:
    """The audience real Dintero expects in a token request for `account_id`."""
    return f"{DINTERO_API_URL}/accounts/{account_id}"


class Api:
    """The API as an ASGI app (`app`), over one emulator's state and settings.

    `new_secret` and `new_token` make every client secret and access token (the Emulator
    passes its own, so that all minting happens in one module a test can watch).
    """

    def __init__(
        self,
        state: State,
        settings: Settings,
        *,
        new_secret: Callable[[], str],
        new_token: Callable[[dict[str, Any]], str],
    ) -> None:
        self._state, self._settings = state, settings
        self._new_secret, self._new_token = new_secret, new_token
        self._token_requests = RollingWindow()
        handlers: dict[Operation, Handler] = {
            "token": self._token,
            "create": self._create,
            "list": self._list,
            "get": self._get,
            "delete": self._delete,
            "rotate": self._rotate,
            "grants_list": self._grants_list,
            "grants_create": self._grants_create,
            "grants_delete": self._grants_delete,
            "exchange": self._exchange,
        }
        self._routes = [
            (Route(_PREFIX + path, _dispatch(methods, handlers), methods=list(methods)), methods)
            for path, methods in _PATHS.items()
        ]
        self.app = Starlette(
            routes=[route for route, _ in self._routes],
            exception_handlers={ApiError: _render_api_error, HTTPException: _render_http_error},
        )

    def operation(self, scope: Scope) -> tuple[Operation, str] | None:
        """The operation a request is for and the oid in its path, or None (unknown path or
        method, or not HTTP)."""
        for route, methods in self._routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                method = "GET" if scope["method"] == "HEAD" else scope["method"]
                return methods[method], str(child["path_params"]["oid"])
        return None

    # Get Token and the exchange.

    async def _token(self, request: Request) -> Response:
        self._admit(request, "token")
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
        requested: str = body["audience"]
        audience = _canonical_audience(request, requested)
        if audience != audience_for(account):
            raise ApiError(
                403,
                "invalid_audience",
                f"The audience must be {audience_for(account)} (or this server's own URL for "
                f"it, {_own_url(request)}/accounts/{account})",
            )
        if client is not None and self._settings.require_grants:
            grants = [
                grant
                for grant in self._state.grants(account)
                if grant.allows_client_credentials(client.id)
                and _canonical_audience(request, grant.audience) == audience
            ]
            if not grants:
                raise ApiError(
                    403,
                    "missing_grant",
                    f"The client has no client grant for the audience {requested} "
                    "that allows the client_credentials grant type",
                )
            scopes = tuple(dict.fromkeys(scope for grant in grants for scope in grant.scope))
        return self._issue("token", caller, account, requested, scopes)

    async def _exchange(self, request: Request) -> Response:
        self._admit(request, "exchange")
        token = self._bearer(request)
        body = _json(await request.body())
        if not (isinstance(body, dict) and isinstance(body.get("account_id"), str)):
            raise ApiError(400, "invalid_request", 'Expected {"account_id": str}')
        merchant = body["account_id"]
        if not MERCHANT_ID.fullmatch(merchant):
            error = {"field": "account_id", "message": "must be P or T followed by 8 digits"}
            raise ApiError(400, "validation_error", "Invalid exchange", [error])
        partner = self._settings.account_id
        if token.account != partner or merchant == partner or not self._state.has_account(merchant):
            raise ApiError(
                403, "forbidden", f"{merchant} is not a merchant account of {token.account}"
            )
        return self._issue(
            "exchange",
            token.caller,
            merchant,
            audience_for(merchant),
            token.scopes,
            oid=token.account,
        )

    def _admit(self, request: Request, operation: Operation) -> None:
        """429 with `Retry-After` beyond `token_rate_limit` requests per account per second;
        one budget per account in the path (the partner's, for an exchange) for both."""
        limit = self._settings.token_rate_limit
        if limit is None:
            return
        oid = str(request.path_params["oid"])
        wait = self._token_requests.admit(oid, limit, time.monotonic())
        if wait is not None:
            self._state.tally("rate_limited", operation, oid)
            raise ApiError(
                429,
                "too_many_requests",
                f"Too many token requests for account {oid}: at most {limit} per second",
                headers={"Retry-After": str(wait)},
            )

    def _issue(
        self,
        operation: Operation,
        caller: str,
        account: str,
        audience: str,
        scopes: tuple[str, ...],
        *,
        oid: str | None = None,
    ) -> Response:
        """A new token for `account`; `oid` (default `account`) is the path's, for the counters."""
        expires_in = self._settings.expires_in
        iat = int(time.time())
        claims = {
            "sub": caller,
            "aud": audience,
            "iat": iat,
            "exp": iat + expires_in,
            "scope": " ".join(scopes),
        }
        value = self._new_token(claims)
        self._state.keep_token(value, Token(caller, account, time.monotonic() + expires_in, scopes))
        self._state.tally("processed", operation, account if oid is None else oid)
        return JSONResponse(
            {"access_token": value, "token_type": "Bearer", "expires_in": expires_in}
        )

    # Auth clients.

    async def _create(self, request: Request) -> Response:
        token = self._bearer(request)
        fields = _client_fields(_json(await request.body()))
        admin = self._settings
        client = self._state.create_client(
            token.account,
            fields,
            id=str(uuid.uuid4()),
            secret=self._new_secret(),
            caller=token.caller,
            reserved=(admin.client_id,) if token.account == admin.account_id else (),
        )
        self._state.tally("processed", "create", token.account)
        return JSONResponse(client.info(with_secret=True))

    async def _list(self, request: Request) -> Response:
        token = self._bearer(request)
        clients = self._state.clients(token.account)
        self._state.tally("processed", "list", token.account)
        return JSONResponse([client.info() for client in clients])

    async def _get(self, request: Request) -> Response:
        token = self._bearer(request)
        client = self._state.client(token.account, _path_uuid(request, "client"))
        self._state.tally("processed", "get", token.account)
        return JSONResponse(client.info())

    async def _delete(self, request: Request) -> Response:
        token = self._bearer(request)
        client_uuid = _path_uuid(request, "client")
        client = self._state.delete_client(token.account, client_uuid, token.caller)
        self._state.tally("processed", "delete", token.account)
        return JSONResponse(client.info())

    async def _rotate(self, request: Request) -> Response:
        token = self._bearer(request)
        client_uuid = _path_uuid(request, "client")
        secret = self._new_secret()

        def rotate(client: EmulatedClient) -> EmulatedClient:
            return replace(client, client_secret=secret, updated_at=now())

        client = self._state.change_client(token.account, client_uuid, rotate)
        self._state.tally("processed", "rotate", token.account)
        return JSONResponse(client.info(with_secret=True))

    # Client grants.

    async def _grants_list(self, request: Request) -> Response:
        # The spec documents no 400 here (Dintero's neither): a malformed oid is a 403.
        token = self._bearer(request, malformed_oid_status=403)
        client_id = request.query_params.get("client_id")
        if client_id is not None:  # a uuid in any case names the client; anything else, none
            client_id = _canonical_uuid(client_id) or client_id
        audience = request.query_params.get("audience")
        grants = self._state.grants(token.account, audience=audience, client_uuid=client_id)
        self._state.tally("processed", "grants_list", token.account)
        return JSONResponse([grant.info() for grant in grants])

    async def _grants_create(self, request: Request) -> Response:
        token = self._bearer(request)
        fields = _grant_fields(_json(await request.body()))
        grant = self._state.create_grant(
            token.account, id=str(uuid.uuid4()), caller=token.caller, **fields
        )
        self._state.tally("processed", "grants_create", token.account)
        return JSONResponse(grant.info())

    async def _grants_delete(self, request: Request) -> Response:
        token = self._bearer(request)
        grant_uuid = _path_uuid(request, "grant")
        grant = self._state.delete_grant(token.account, grant_uuid, token.caller)
        self._state.tally("processed", "grants_delete", token.account)
        return JSONResponse(grant.info())

    # Credentials.

    def _basic(self, request: Request) -> tuple[str, str, EmulatedClient | None]:
        """Valid Basic credentials: (client id, its account, the client or None for the root).

        The root credentials (`client_id`/`client_secret`) belong to the emulator's account; a
        live client created through the API logs in with its `id` or `client_id` and current
        secret. Of several matches, the one of the account in the path wins.
        """
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            user, _, secret = (
                base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            )
        except ValueError:
            user = secret = ""
        matches: list[tuple[str, EmulatedClient | None]] = []
        if scheme.lower() == "basic":
            root = self._settings
            if user == root.client_id and hmac.compare_digest(
                secret.encode(), root.client_secret.encode()
            ):
                matches.append((root.account_id, None))
            matches += self._state.logins(user, secret)
        if not matches:
            raise ApiError(401, "unauthorized", "Invalid client credentials")
        oid = request.path_params["oid"]
        account, client = next((m for m in matches if m[0] == oid), matches[0])
        _check_account(request, account)
        return user, account, client

    def _bearer(self, request: Request, *, malformed_oid_status: int = 400) -> Token:
        """The valid, unexpired bearer token of the request, for the account in its path."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = self._state.token(value.strip())
        if scheme.lower() != "bearer" or token is None:
            raise ApiError(401, "unauthorized", "Access forbidden, invalid JWT token was used")
        _check_account(request, token.account, malformed_oid_status)
        return token


def _dispatch(methods: Mapping[str, Operation], handlers: Mapping[Operation, Handler]) -> Handler:
    """The endpoint of one path: the handler of the request's method (HEAD is GET's)."""

    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[methods[method]](request)

    return endpoint


def _check_account(request: Request, account: str, malformed_oid_status: int = 400) -> None:
    oid = request.path_params["oid"]
    if not OID.fullmatch(oid):
        raise ApiError(
            malformed_oid_status, "invalid_oid", "oid must be P or T followed by 3 or 8 digits"
        )
    if oid != account:
        raise ApiError(403, "forbidden", f"No access to account {oid}")


def _own_url(request: Request) -> str:
    """The emulator's own base URL as the request reached it (scheme and Host), with /v1."""
    return f"{str(request.base_url).rstrip('/')}/v1"


def _canonical_audience(request: Request, audience: str) -> str:
    """Dintero's form of an audience given as the emulator's own URL as the request reached it."""
    own = f"{_own_url(request)}/accounts/"
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


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_request", "The body must be JSON") from None


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


async def _render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _render_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (unknown path or method), in Dintero's error shape; `Allow` in
    a fixed order (Starlette joins a set)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if "Allow" in headers:
        headers["Allow"] = ", ".join(sorted(m.strip() for m in headers["Allow"].split(",")))
    code = status_code_name(exc.status_code)
    return ApiError(exc.status_code, code, exc.detail, headers=headers).response()
