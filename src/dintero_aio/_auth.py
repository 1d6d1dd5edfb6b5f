"""Client-credentials tokens: cached, refreshed before expiry in the background, fetched once
however many wait.

`TokenAuth` is an `httpx.Auth` flow on the SDK's single `httpx.AsyncClient`: it stamps each API
request with the cached token and, on a 401, refreshes once and replays the request once.
`TokenCache` makes any number of concurrent callers that find no usable token share ONE fetch:
the fetch runs as its own task that callers await through `asyncio.shield`, so a cancelled caller
neither cancels the fetch for the others nor leaves a lock or a half-written cache behind.
While the current token is still valid, callers never wait: a token due for refresh starts one
background fetch and is used meanwhile; a failed background fetch is tried again only after a
growing pause, not by every caller. No lock exists at all.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncGenerator, Awaitable, Callable
from time import monotonic

import attrs
import httpx
from dintero_aio_api.api.auth import aid_auths_oauth_exchange_token_post, aid_auths_oauth_token_post
from dintero_aio_api.models import (
    AccessToken,
    ClientCredentialsGrant,
    ClientCredentialsGrantGrantType,
    Exchange,
)

from ._calls import Caller
from ._errors import AuthenticationError, BadRequestError, PermissionDeniedError

log = logging.getLogger("dintero_aio")

#: Refresh once less than this much of a token's lifetime is left (or half of it, if shorter).
REFRESH_MARGIN = 60.0
#: Pauses after a failed background refresh: the first, and the most.
RETRY_PAUSE, MAX_RETRY_PAUSE = 1.0, 30.0
#: About 31 years: Dintero issues hours, and a longer "lifetime" is garbage (10**309 would not
#: even fit the clock arithmetic).
MAX_LIFETIME = 10**9
#: What can go into an `Authorization` header: visible ASCII (a JWT is far narrower). A token
#: with CR, LF or NUL would make httpx fail with the whole header quoted in its message.
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")


@attrs.frozen
class Token:
    header: str = attrs.field(repr=False)
    lifetime: int  # expires_in, as Dintero sent it
    refresh_at: float  # monotonic time after which a new token is fetched (in the background)
    expires_at: float  # monotonic time after which it is no use at all


def _token_problem(access: AccessToken) -> str | None:
    if not _HEADER_SAFE.fullmatch(access.access_token):
        return "an access_token that cannot be sent in a header"
    if not 0 <= access.expires_in <= MAX_LIFETIME:
        return f"an expires_in outside 0 to {MAX_LIFETIME}"
    return None


async def request_token(
    caller: Caller, account_id: str, audience: str, credentials: httpx.BasicAuth
) -> AccessToken:
    """Get Token with the client credentials. Safe to repeat, so retried under the policy;
    a rejection (400/401/403) is final and says what was rejected."""
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
            queued=False,
        )
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
    replays. Safe to repeat, so retried under the policy like Get Token; a rejection is final
    (403: not one of the partner's merchant accounts)."""
    access: AccessToken = await partner.call(
        aid_auths_oauth_exchange_token_post,
        AccessToken,
        partner_id,
        body=Exchange(account_id=account_id),
        check=_token_problem,
        queued=False,
    )
    return access


class TokenCache:
    """The account's access token, fetched lazily by `fetch` and shared by every request.

    A partner holds one per merchant account it has used (`Dintero.for_account`), hence the
    slots: a cache with its token costs a few hundred bytes."""

    __slots__ = ("_fetch", "_next_try", "_pause", "_refresh", "_token")

    def __init__(self, fetch: Callable[[], Awaitable[AccessToken]]) -> None:
        self._fetch = fetch
        self._token: Token | None = None
        self._refresh: asyncio.Task[Token] | None = None
        self._pause = 0.0  # after a failed background refresh, the wait before the next one
        self._next_try = 0.0  # monotonic time before which no background refresh starts

    def __repr__(self) -> str:
        if self._token is None:
            return "<TokenCache empty>"
        return f"<TokenCache token refresh due in {self._token.refresh_at - monotonic():.0f}s>"

    async def get(self) -> Token:
        """A usable token: the cached one, or the result of the (single, shared) fetch."""
        token = self._token
        if token is not None:
            now = monotonic()
            if now < token.refresh_at:
                return token
            if now < token.expires_at:  # due, still valid: refresh behind the caller's back
                if self._refresh is None and now >= self._next_try:
                    self._start()
                return token
        return await asyncio.shield(self._refresh or self._start())

    def invalidate(self, token: Token) -> None:
        """Drop `token` after a 401, unless a newer token has replaced it meanwhile."""
        if self._token is token:
            self._token = None

    async def aclose(self) -> None:
        """Stop a fetch under way and wait until it has stopped."""
        refresh = self._refresh
        if refresh is not None:
            refresh.cancel()
            # wait() neither raises the task's outcome (its done callback reads it) nor hides a
            # cancellation of the caller of aclose(), as awaiting it under a suppress would.
            await asyncio.wait([refresh])

    def _start(self) -> asyncio.Task[Token]:
        refresh = asyncio.create_task(self._fetch_token(), name="dintero-token-refresh")
        refresh.add_done_callback(self._refresh_done)
        self._refresh = refresh
        return refresh

    async def _fetch_token(self) -> Token:
        started = monotonic()
        access = await self._fetch()
        lifetime = access.expires_in  # 0 makes the token single-use, not an error
        token = Token(
            header=f"Bearer {access.access_token}",
            lifetime=lifetime,
            refresh_at=started + lifetime - min(REFRESH_MARGIN, lifetime / 2),
            expires_at=started + lifetime,
        )
        self._token = token
        log.info("access token fetched; it expires in %ds", lifetime)
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
    """Bearer auth from a `TokenCache`, with one refresh-and-replay on 401 (never a loop)."""

    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    def __repr__(self) -> str:
        return f"TokenAuth({self.tokens!r})"

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.tokens.get()
        request.headers["Authorization"] = token.header
        response = yield request
        if response.status_code == 401:
            log.info("401 from %s: refreshing the token, replaying once", request.url.path)
            # Read (and so close) the 401 first: its connection, and its place in the queue in
            # front of the pool, go back before waiting for a token whose request needs them.
            await response.aread()
            self.tokens.invalidate(token)
            token = await self.tokens.get()
            request.headers["Authorization"] = token.header
            yield request
