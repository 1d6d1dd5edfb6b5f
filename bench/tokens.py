"""Token single-flight: how many token requests the SERVER sees when many creates need a token.

Each contender gets its own emulator, served in this process by `dintero_aio.testing.serve()`
(uvicorn on a loopback socket, in a thread), so that `emulator.received("token")` can be read and
`emulator.expire_tokens()` called. Each phase is `creates` concurrent creates (asyncio.gather):

- cold: no token cached yet;
- revoked: `emulator.expire_tokens()` ends the tokens on the server while the client still
  thinks its token is good, so only a 401 can tell it;
- expired: the token's lifetime ran out on the client's own clock. The emulators grant
  `lifetime`-second tokens and every contender refreshes `lifetime / 2` before expiry (ours:
  min(60 s, lifetime / 2); authlib: leeway; httpx-auth: early_expiry); the phase starts once that
  point has passed (+1 s, as authlib keeps expiry in whole seconds).

Before its cold and expired phases each client sends one request that needs no token (a 404
from the emulator), so every burst starts with one open connection, as ours and authlib's do
after their token request (httpx-auth fetches tokens with a separate client). Without it a burst
of 1,000 on an empty httpx pool takes ~25 s instead of ~5 s (httpcore's pool does O(queued
requests x connections) work per request): a connection-pool effect, nothing to do with tokens.

How the two third-party flows are made to speak Dintero's token request (HTTP Basic + JSON body
{"grant_type": "client_credentials", "audience": ...}; both send a form body by default):

- authlib `AsyncOAuth2Client(grant_type="client_credentials", token_endpoint=...)`: a custom
  `token_endpoint_auth_method` registered with `register_client_auth_method`, which does the usual
  client_secret_basic and re-encodes the form body as JSON, adding the audience (authlib's automatic
  client-credentials refresh sends no extra parameters). authlib has no lazy first fetch (a request
  without a token raises MissingTokenError), so its cold phase calls `fetch_token()` once first.
- httpx-auth `OAuth2ClientCredentials(..., audience=...)`: its `client=` is an `httpx.Client` whose
  transport re-encodes the form body of token requests (and only those) as JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import warnings
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from common import CREATE_ARGS

from dintero_aio import Dintero
from dintero_aio.testing import Emulator, RunningEmulator, serve

with warnings.catch_warnings(record=True):  # authlib warns that it prefers `httpx2` to httpx
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.auth import encode_client_secret_basic
import httpx_auth

PHASES = ("cold", "revoked", "expired")  # in the order they run


@dataclass
class Phase:
    tokens: int  # token requests the server received
    ok: int
    creates_received: int  # by the server, replays after a 401 included
    start: float
    end: float


@dataclass
class Contender:
    name: str
    running: RunningEmulator
    create: Callable[[], Awaitable[bool]]
    warm: Callable[[], Awaitable[Any]]
    close: Callable[[], Awaitable[Any]]
    before_cold: Callable[[], Awaitable[Any]] | None = None
    phases: dict[str, Phase] = field(default_factory=dict)
    last_token_at: float = 0.0
    clean: bool = True  # no burst outlasted a token's refresh point (see _run)


def _urls(running: RunningEmulator) -> tuple[str, str, str]:
    account = f"{running.base_url}/accounts/{running.emulator.account_id}"
    return f"{account}/auth/token", f"{account}/auth/clients", f"{running.base_url}/"


def _ours(running: RunningEmulator, margin: float) -> Contender:
    emulator = running.emulator
    dintero = Dintero(
        account_id=emulator.account_id,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=running.base_url,
    )
    no_token_url = _urls(running)[2]

    async def create() -> bool:
        return (await dintero.clients.create(**CREATE_ARGS)).name == CREATE_ARGS["name"]

    async def warm() -> None:
        await dintero._caller.http.get(no_token_url, auth=None)

    return Contender("dintero-aio", running, create, warm, dintero.aclose)


def _authlib(running: RunningEmulator, margin: float) -> Contender:
    emulator = running.emulator
    token_url, clients_url, no_token_url = _urls(running)

    def basic_with_json_body(auth: Any, method: str, uri: str, headers: Any, body: Any) -> Any:
        uri, headers, body = encode_client_secret_basic(auth, method, uri, headers, body)
        grant = dict(parse_qsl(body.decode() if isinstance(body, bytes) else body))
        grant.setdefault("audience", emulator.audience)
        headers["Content-Type"] = "application/json"
        return uri, headers, json.dumps(grant)

    client = AsyncOAuth2Client(
        emulator.client_id,
        emulator.client_secret,
        token_endpoint_auth_method="dintero_basic_json",
        token_endpoint=token_url,
        grant_type="client_credentials",
        leeway=margin,
        timeout=30.0,
    )
    client.register_client_auth_method(("dintero_basic_json", basic_with_json_body))

    async def create() -> bool:
        return (await client.post(clients_url, json=CREATE_ARGS)).status_code == 200

    async def warm() -> None:
        await client.request("GET", no_token_url, withhold_token=True)

    return Contender("authlib", running, create, warm, client.aclose, client.fetch_token)


class _JsonTokenBody(httpx.BaseTransport):
    """Sends a form-encoded token request as the JSON body Dintero wants; nothing else changes."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            grant = dict(parse_qsl(request.read().decode()))
            headers = [
                (k, v)
                for k, v in request.headers.multi_items()
                if k.lower() not in ("content-type", "content-length")
            ]
            request = httpx.Request(request.method, request.url, headers=headers, json=grant)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def _httpx_auth(running: RunningEmulator, margin: float) -> Contender:
    emulator = running.emulator
    token_url, clients_url, no_token_url = _urls(running)
    token_client = httpx.Client(transport=_JsonTokenBody(httpx.HTTPTransport()))
    auth = httpx_auth.OAuth2ClientCredentials(
        token_url,
        emulator.client_id,
        emulator.client_secret,
        audience=emulator.audience,
        early_expiry=margin,
        client=token_client,
    )
    client = httpx.AsyncClient(auth=auth, timeout=30.0)

    async def create() -> bool:
        return (await client.post(clients_url, json=CREATE_ARGS)).status_code == 200

    async def warm() -> None:
        await client.get(no_token_url, auth=None)

    async def close() -> None:
        await client.aclose()
        token_client.close()  # noqa: ASYNC212 - closes idle sockets, nothing to wait for

    return Contender("httpx-auth", running, create, warm, close)


async def _phase(contender: Contender, creates: int, before: Callable[[], Any] | None) -> None:
    emulator = contender.running.emulator
    tokens, received = emulator.received("token"), emulator.received("create")
    start = time.perf_counter()
    if before is not None and inspect.isawaitable(result := before()):
        await result
    results = await asyncio.gather(
        *(contender.create() for _ in range(creates)), return_exceptions=True
    )
    end = time.perf_counter()
    phase = Phase(
        tokens=emulator.received("token") - tokens,
        ok=sum(result is True for result in results),
        creates_received=emulator.received("create") - received,
        start=start,
        end=end,
    )
    contender.phases[PHASES[len(contender.phases)]] = phase
    if phase.tokens:
        contender.last_token_at = end


async def _run(creates: int, lifetime: int) -> dict[str, Contender]:
    margin = lifetime / 2
    httpx_auth.OAuth2.token_cache.clear()
    with ExitStack() as stack:
        contenders: dict[str, Contender] = {}
        for make in (_ours, _authlib, _httpx_auth):
            contender = make(stack.enter_context(serve(Emulator(expires_in=lifetime))), margin)
            contenders[contender.name] = contender
        try:
            for c in contenders.values():
                await c.warm()
                if c.running.emulator.received("token"):
                    raise RuntimeError(f"{c.name}: the warm-up request fetched a token")
                await _phase(c, creates, c.before_cold)  # cold
                await _phase(c, creates, c.running.emulator.expire_tokens)  # revoked
            for c in contenders.values():
                # The other contenders' bursts have usually covered most of this wait.
                await asyncio.sleep(max(0.0, c.last_token_at + margin + 1.0 - time.perf_counter()))
                await c.warm()  # the server has closed the idle connections meanwhile
                await _phase(c, creates, None)  # expired
        finally:
            for c in contenders.values():
                await c.close()
    for c in contenders.values():
        # A count is only about the phase's own trigger if no burst ran into a token's refresh
        # point: the cold token must outlive the revoked phase, the new one the expired phase.
        cold, revoked, expired = (c.phases[name] for name in PHASES)
        c.clean = revoked.end - cold.start < margin - 1 and expired.end - expired.start < margin - 1
    return contenders


def measure(creates: int, lifetime: int) -> dict[str, Contender]:
    return asyncio.run(_run(creates, lifetime))
