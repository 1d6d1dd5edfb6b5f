"""Client-credentials tokens: cached, refreshed before expiry in the background, fetched once
however many wait.

`TokenAuth` is an `httpx.Auth` flow on the SDK's single `httpx.AsyncClient`: it stamps each API
request with the cached token and, on a 401, refreshes and replays the request.
`Tokens` (one per account, in each process) makes any number of concurrent callers that find no
usable token share ONE fetch from its `TokenSource` (Dintero, or a cache a fleet shares):
the fetch runs as its own task that callers await through `asyncio.shield`, so a cancelled caller
neither cancels the fetch for the others nor leaves a lock or a half-written cache behind.
While the current token is still valid, callers never wait: a token due for refresh starts one
background fetch and is used meanwhile; a failed background fetch is tried again only after a
growing pause, not by every caller. No lock exists at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from time import monotonic
from typing import Protocol

import attrs
import httpx
from dintero_aio_api.api.auth import aid_auths_oauth_exchange_token_post, aid_auths_oauth_token_post
from dintero_aio_api.models import (
    AccessToken,
    ClientCredentialsGrant,
    ClientCredentialsGrantGrantType,
    Exchange,
)

from . import _wire
from ._calls import Caller
from ._errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from ._observe import NO_OBSERVER, Observer, TokenFetch
from ._wire import Stage

log = logging.getLogger("dintero_aio")

#: Refresh once less than this much of a token's lifetime is left (or half of it, if shorter).
REFRESH_MARGIN = 60.0
#: Pauses after a failed background refresh: the first, and the most.
RETRY_PAUSE, MAX_RETRY_PAUSE = 1.0, 30.0
#: About 31 years: Dintero issues hours, and a longer "lifetime" is garbage (10**309 would not
#: even fit the clock arithmetic).
MAX_LIFETIME = 10**9
#: True inside a background refresh. A token fetched for waiting calls makes one attempt: each
#: waiting call retries it under its own policy (a patient view is patient for its token too).
#: A background refresh has nobody waiting, so it retries under the instance's policy.
_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("background", default=False)
#: What can go into an `Authorization` header: visible ASCII (a JWT is far narrower). A token
#: with CR, LF or NUL would make httpx fail with the whole header quoted in its message.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


def _token_problem(access: AccessToken) -> str | None:
    if not _HEADER_SAFE.fullmatch(access.access_token):
        return "an access_token that cannot be sent in a header"
    if not 0 <= access.expires_in <= MAX_LIFETIME:
        return f"an expires_in outside 0 to {MAX_LIFETIME}"
    return None


async def request_token(
    caller: Caller, account_id: str, audience: str, credentials: BasicFlow
) -> AccessToken:
    """Get Token with the client credentials (one attempt, or retried in the background: see
    `_BACKGROUND`); a rejection (400/401/403) is final and says what was rejected."""
    body = ClientCredentialsGrant(
        grant_type=ClientCredentialsGrantGrantType.CLIENT_CREDENTIALS, audience=audience
    )
    try:
        access: AccessToken = await caller.call(
            aid_auths_oauth_token_post,
            AccessToken,
            account_id,
            body=body,
            auth=credentials,
            check=_token_problem,
            token_request=True,
            once=not _BACKGROUND.get(),
        )
    except NotFoundError as exc:
        raise NotFoundError(
            f"{exc} (no token endpoint there: is base_url right? Dintero's is "
            "https://api.dintero.com/v1, with the /v1)",
            response=exc.response,
            code=exc.code,
            api_message=exc.message,
        ) from exc
    except (BadRequestError, AuthenticationError, PermissionDeniedError) as exc:
        denied = isinstance(exc, PermissionDeniedError)
        raise (PermissionDeniedError if denied else AuthenticationError)(
            f"Dintero rejected the client credentials or the audience ({exc})",
            response=exc.response,
            code=exc.code,
            api_message=exc.message,
        ) from exc
    return access


async def request_exchange_token(partner: Caller, partner_id: str, account_id: str) -> AccessToken:
    """A token for the partner's merchant account `account_id`, from Exchange token.

    `partner` must send with the partner's own token flow (its `TokenAuth`): that attaches the
    partner token, and on a 401 (the partner token is no longer valid) refreshes it once and
    replays. Attempted like Get Token; a rejection is final (403: not one of the partner's
    merchant accounts)."""
    access: AccessToken = await partner.call(
        aid_auths_oauth_exchange_token_post,
        AccessToken,
        partner_id,
        body=Exchange(account_id=account_id),
        check=_token_problem,
        token_request=True,
        once=not _BACKGROUND.get(),
    )
    return access


@attrs.frozen
class Issued:
    """A token as a `TokenSource` hands it over: fresh from Dintero, or from a shared cache."""

    access_token: str = attrs.field(repr=False)
    #: `expires_in` as Dintero issued it.
    lifetime: int
    #: Seconds of it left when handed over (the lifetime, for a token fresh from Dintero).
    expires_in: float
    #: Where it came from: "dintero" or "shared" (logs, telemetry, the 401 rule in `TokenAuth`).
    source: str = "dintero"
    #: What the shared store held for it, so that a 401 removes exactly this value.
    stored: object = attrs.field(default=None, repr=False, eq=False)


class TokenSource(Protocol):
    """Where `Tokens` gets a token on a miss or a refresh: Dintero itself (`DinteroSource`) or a
    cache shared by a fleet (`_shared_tokens.SharedSource`), which learns about rejected tokens."""

    async def fetch(self) -> Issued: ...
    async def rejected(self, token: Issued) -> None: ...


class DinteroSource:
    """Tokens asked of Dintero (Get Token, or the exchange of a partner's token)."""

    __slots__ = ("_request",)

    def __init__(self, request: Callable[[], Awaitable[AccessToken]]) -> None:
        self._request = request

    async def fetch(self) -> Issued:
        access = await self._request()
        # 0 makes the token single-use, not an error.
        return Issued(access.access_token, access.expires_in, access.expires_in)

    async def rejected(self, token: Issued) -> None:
        """Nothing to forget: the token lived only in the process's `Tokens`."""


@attrs.frozen
class Token:
    issued: Issued
    header: str = attrs.field(repr=False)
    refresh_at: float  # monotonic time after which a new token is fetched (in the background)
    expires_at: float  # monotonic time after which it is no use at all

    @property
    def lifetime(self) -> int:
        return self.issued.lifetime


class Tokens:
    """The account's access token in this process, fetched lazily from `source` and shared by
    every request.

    A partner holds one per merchant account it has used (`Dintero.for_account`), hence the
    slots: a cache with its token costs a few hundred bytes."""

    __slots__ = (
        "__weakref__",
        "_next_try",
        "_pause",
        "_refresh",
        "_token",
        "observer",
        "source",
        "what",
    )

    def __init__(self, source: TokenSource, what: str, observer: Observer = NO_OBSERVER) -> None:
        self.source = source
        self.what = what  # which token, for the log: "access token of T12345678"
        self.observer = observer
        self._token: Token | None = None
        self._refresh: asyncio.Task[Token] | None = None
        self._pause = 0.0  # after a failed background refresh, the wait before the next one
        self._next_try = 0.0  # monotonic time before which no background refresh starts

    def __repr__(self) -> str:
        if self._token is None:
            return "<Tokens empty>"
        return f"<Tokens token refresh due in {self._token.refresh_at - monotonic():.0f}s>"

    def ready(self) -> Token | None:
        """The cached token if it is not due for refresh: the hot path, with nothing to await."""
        token = self._token
        if token is not None and monotonic() < token.refresh_at:
            return token
        return None

    async def get(self) -> Token:
        """A usable token: the cached one, or the result of the (single, shared) fetch."""
        token = self._token
        if token is not None:
            now = monotonic()
            if now < token.refresh_at:
                return token
            if now < token.expires_at:  # due, still valid: refresh behind the caller's back
                if self._refresh is None and now >= self._next_try:
                    self._start(background=True)
                return token
        return await asyncio.shield(self._refresh or self._start())

    def invalidate(self, token: Token) -> None:
        """Drop `token` (Dintero rejected it), unless a newer token has replaced it meanwhile."""
        if self._token is token:
            self._token = None

    async def reject(self, token: Token) -> None:
        """`invalidate`, and tell the source (a shared cache forgets it for every process)."""
        self.invalidate(token)
        await self.source.rejected(token.issued)

    def stop(self) -> asyncio.Task[Token] | None:
        """Cancel a fetch under way; the task, to wait for, if there was one."""
        refresh = self._refresh
        if refresh is not None:
            refresh.cancel()
        return refresh

    async def aclose(self) -> None:
        """Stop a fetch under way and wait until it has stopped."""
        refresh = self.stop()
        if refresh is not None:
            # wait() neither raises the task's outcome (its done callback reads it) nor hides a
            # cancellation of the caller of aclose(), as awaiting it under a suppress would.
            await asyncio.wait([refresh])

    def _start(self, *, background: bool = False) -> asyncio.Task[Token]:
        # A fresh context: the fetch serves every waiter, not the call that happened to start
        # it, so it must not inherit that call's context (its telemetry span, say).
        context = contextvars.Context()
        context.run(_BACKGROUND.set, background)
        fetch = self.observer.token_fetch(self.what)  # here: it links to the call starting it
        refresh = asyncio.create_task(
            self._fetch_token(fetch), name="dintero-token-refresh", context=context
        )
        refresh.add_done_callback(self._refresh_done)
        self._refresh = refresh
        return refresh

    async def _fetch_token(self, fetch: TokenFetch) -> Token:
        started = monotonic()
        with fetch:
            issued = await self.source.fetch()
            fetch.fetched(issued.source)
        left, lifetime = issued.expires_in, issued.lifetime
        token = Token(
            issued,
            header=f"Bearer {issued.access_token}",
            refresh_at=started + left - min(REFRESH_MARGIN, lifetime / 2),
            expires_at=started + left,
        )
        self._token = token
        where = "from Dintero" if issued.source == "dintero" else "from the fleet's shared cache"
        log.info("%s fetched %s; it expires in %ds", self.what, where, left)
        return token

    def _refresh_done(self, task: asyncio.Task[Token]) -> None:
        # Runs even for a task cancelled before it started, so the cache can never be left
        # pointing at a dead refresh; reading the exception keeps asyncio from warning when
        # nobody waited for it (a background refresh).
        if self._refresh is task:
            self._refresh = None
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            self._pause = 0.0
            return
        self._pause = min(MAX_RETRY_PAUSE, max(RETRY_PAUSE, self._pause * 2))
        self._next_try = monotonic() + self._pause
        if self._token is not None:
            log.info(
                "token refresh failed (%s); using the current token, next try in %.0fs",
                type(error).__name__,
                self._pause,
            )


class TokenAuth(httpx.Auth):
    """Bearer auth from `Tokens`, with a refresh-and-replay on 401 (never a loop).

    A 401 drops the token (for every process, with a shared cache) and the request is replayed
    once with the next one. If that token came from a shared cache, it may be one another process
    stored before Dintero stopped accepting it: a second 401 drops it as well, and the second
    replay carries a token fetched from Dintero itself. A call never fails with a 401 while a
    valid token can still be had.

    The flow records how far the request got (`_wire.at`): waiting for its token, on the wire,
    answered; that is what decides whether a failure may have reached Dintero."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"TokenAuth({self.tokens!r})"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self.tokens.ready()
        if token is None:
            token = await self._wait(request)
        else:
            _carries(request, "memory")
        for replay in range(3):
            request.headers["Authorization"] = token.header
            _wire.at(request, Stage.SENT)
            response = yield request
            _wire.at(request, Stage.ANSWERED)
            if response.status_code != 401 or replay == 2:
                return
            if replay == 1 and token.issued.source != "shared":
                return  # Dintero's own fresh token was refused: the 401 stands
            log.info("401 from %s: refreshing the token, replaying", request.url.path)
            # Read (and so close) the 401 first: its connection, and its place in the queue in
            # front of the pool, go back before waiting for a token whose request needs them.
            await response.aread()
            await self.tokens.reject(token)
            token = await self._wait(request)

    async def _wait(self, request: httpx.Request) -> Token:
        _wire.at(request, Stage.TOKEN)
        state = request.extensions.get(_wire.STATE)
        if state is None:
            return await self.tokens.get()
        started, held = state.loop.time(), self.tokens._token
        try:
            token = await self.tokens.get()
        finally:  # a wait that ended in a failed fetch was a wait too
            state.observed.waited("token", state.loop.time() - started)
        # The one held may be served while a refresh runs behind the call's back.
        state.observed.token("memory" if token is held else token.issued.source)
        return token


def _carries(request: httpx.Request, source: str) -> None:
    """Tell the call's observer where the token its attempt carries came from."""
    state = request.extensions.get(_wire.STATE)
    if state is not None:
        state.observed.token(source)


class BasicFlow(httpx.BasicAuth):
    """HTTP Basic (the client credentials, on Get Token), recording that the request is on the
    wire and then answered, as `TokenAuth` does."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._auth_header
        _wire.at(request, Stage.SENT)
        yield request
        _wire.at(request, Stage.ANSWERED)
