"""`Dintero`: the entry point. Validates settings, owns the connection pool and token cache."""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack

import httpx

from . import _inputs
from ._bodies import DEFAULT_MAX_RESPONSE_BYTES
from ._errors import ClientClosedError, InvalidInputError
from ._version import __version__

# The machinery is imported when the first instance is made, not with `import dintero_aio`:
# asyncio, attrs and the generated client were nearly half of that import's time (issue 12), and
# a process that imports the package for its names (a CLI's --help, a test collection) never
# needs them.
if TYPE_CHECKING:
    from ._auth import TokenCache
    from ._merchants import MerchantAccount
    from ._retry import RetryPolicy

DEFAULT_BASE_URL = "https://api.dintero.com/v1"
_HEADERS = {
    "User-Agent": f"dintero-aio/{__version__}",
    "Dintero-System-Name": "dintero-aio",
    "Dintero-System-Version": __version__,
}
_ENV = {
    "account_id": "DINTERO_ACCOUNT_ID",
    "client_id": "DINTERO_CLIENT_ID",
    "client_secret": "DINTERO_CLIENT_SECRET",
    "base_url": "DINTERO_BASE_URL",
}


class Settings(TypedDict, total=False):
    """The constructor's arguments, for `Dintero.from_env(**overrides)`: a misspelt override is
    a type error for a type checker (and `InvalidInputError` at run time)."""

    account_id: str
    client_id: str
    client_secret: str
    base_url: str
    audience: str | None
    timeout: float | httpx.Timeout
    retry: RetryPolicy | None
    transport: httpx.AsyncBaseTransport | None
    max_response_bytes: int
    allow_insecure_http: bool
    http2: bool
    ssl_context: ssl.SSLContext | None


class Dintero:
    """An async client for one Dintero account's management-auth API.

    One `httpx.AsyncClient` (one connection pool) serves the token and API calls of this instance
    and of every view made by `with_options` or `for_account`. Use it as
    `async with Dintero(...) as dintero:` or call `await dintero.aclose()`, which ends every call
    still under way with `ClientClosedError`; use it from the event loop it first ran on
    (another raises `EventLoopError`). Every setting is checked here: a bad one raises
    `InvalidInputError` before anything is sent.

    Args:
        account_id: The account (Dintero's `oid`): `P` or `T` and 3 or 8 digits.
        client_id: The auth client this instance logs in as.
        client_secret: Its secret. Kept out of every repr, log record and error.
        base_url: Dintero's API, `https://api.dintero.com/v1` by default. Plain `http://` only
            to a loopback host (the emulator), or anywhere with `allow_insecure_http`.
        audience: What tokens are asked for; `{base_url}/accounts/{account_id}` by default.
        timeout: Seconds per attempt, or an `httpx.Timeout` per phase; `retry.total_timeout`
            bounds the whole call.
        retry: How failed calls are retried (`RetryPolicy()` by default); calls that could
            create a duplicate are never retried after an ambiguous failure.
        transport: An httpx transport to send through instead of the network (the emulator's
            `Emulator.transport()`, or a test double).
        max_response_bytes: The most any response body may hold once decoded (4 MiB by
            default; Dintero's are kilobytes): a larger 2xx answer raises
            `ResponseTooLargeError` without reading further.
        allow_insecure_http: Allow plain `http://` to a host that is not loopback, e.g. an
            emulator in a sibling container. The credentials then travel unencrypted.
        http2: Offer HTTP/2 to the server (needs the `h2` package: `pip install
            'dintero-aio[http2]'`). Worth it for many concurrent calls over few connections;
            HTTP/1.1 is as fast or faster one call at a time (see the README).
        ssl_context: The `ssl.SSLContext` that verifies the server, e.g. one that trusts a
            company's CA (`ssl.create_default_context(cafile=...)`). By default, one context
            per process from certifi's bundle (or SSL_CERT_FILE / SSL_CERT_DIR), shared by
            every instance. httpcore sets the ALPN protocols on the context at each connection.

    Attributes:
        clients: The account's auth clients (`create`, `list`, `get`, `delete`,
            `rotate_secret`).
        grants: The account's client grants (`create`, `list`, `delete`).
        audience: The audience this instance asks tokens for; a grant with it lets a client
            do the same.
    """

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        base_url: str = DEFAULT_BASE_URL,
        audience: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        allow_insecure_http: bool = False,
        http2: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        from . import _http_client
        from ._auth import TokenAuth, TokenCache, request_token
        from ._calls import Caller
        from ._clients import Clients
        from ._grants import Grants
        from ._lifecycle import Lifecycle
        from ._queue import Queue
        from ._retry import policy as _policy
        from ._timeouts import Deadlines

        self.account_id = _inputs.account_id(account_id)
        self.client_id = _inputs.text("client_id", client_id)
        credentials = httpx.BasicAuth(client_id, _inputs.text("client_secret", client_secret))
        insecure_ok = _inputs.flag("allow_insecure_http", allow_insecure_http)
        self.base_url = _inputs.base_url(base_url, insecure_ok=insecure_ok)
        if audience is None:
            audience = f"{self.base_url}/accounts/{account_id}"
        self.audience = _inputs.text("audience", audience)
        policy = _policy(retry)
        per_attempt = _inputs.timeout(timeout)
        limit = _inputs.byte_count("max_response_bytes", max_response_bytes)

        tokens = TokenCache(
            lambda: request_token(self._caller, self.account_id, self.audience, credentials)
        )
        generated = _http_client.open_client(
            base_url=self.base_url,
            headers=_HEADERS,
            auth=TokenAuth(tokens),
            transport=transport,
            max_response_bytes=limit,
            http2=_inputs.flag("http2", http2),
            ssl_context=_inputs.ssl_context(ssl_context),
        )
        self._tokens = tokens
        self._caller = Caller(
            self.base_url,
            generated.get_async_httpx_client(),
            generated,
            Lifecycle(),
            policy,
            per_attempt,
            Deadlines(),
            queue=None if transport is not None else Queue(_http_client.MAX_CONNECTIONS),
        )
        self.clients = Clients(self._caller, self.account_id)
        self.grants = Grants(self._caller, self.account_id)
        # Merchant accounts: one token cache per account, shared by every view of this instance;
        # one MerchantAccount per account and view (a view's retry policy and timeout apply).
        self._exchanges: dict[str, TokenCache] = {}
        self._merchants: dict[str, MerchantAccount] = {}

    @classmethod
    def from_env(cls, **overrides: Unpack[Settings]) -> Self:
        """Build from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET and the
        optional DINTERO_BASE_URL; keyword `overrides` (any constructor argument) win over the
        environment."""
        unknown = sorted(set(overrides) - set(Settings.__annotations__))
        if unknown:
            raise InvalidInputError(f"unknown setting(s): {', '.join(unknown)}")
        settings: dict[str, Any] = {k: os.environ[v] for k, v in _ENV.items() if os.environ.get(v)}
        settings.update(overrides)
        missing = [_ENV[key] for key in _ENV if key != "base_url" and not settings.get(key)]
        if missing:
            raise InvalidInputError(f"environment variable(s) not set: {', '.join(missing)}")
        return cls(**settings)

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeout: float | httpx.Timeout | None = None
    ) -> Self:
        """A view with another retry policy and/or timeout, sharing this instance's connection
        pool and token cache (closing either closes both)."""
        import attrs

        from ._clients import Clients
        from ._grants import Grants
        from ._retry import policy as _policy

        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._caller = attrs.evolve(
            self._caller,
            policy=self._caller.policy if retry is None else _policy(retry),
            timeout=self._caller.timeout if timeout is None else _inputs.timeout(timeout),
        )
        view.clients = Clients(view._caller, self.account_id)
        view.grants = Grants(view._caller, self.account_id)
        view._merchants = {}
        return view

    def for_account(self, account_id: str) -> MerchantAccount:
        """A merchant account of this partner account: its `clients` and `grants`, acting with
        an exchange token (the partner's token exchanged for one of that account).

        The same object is returned for the same account. It shares this instance's connection
        pool, retry policy, timeout and lifecycle (`aclose()` here closes it too) and holds one
        cached token, fetched on first use. `account_id` is P or T and 8 digits, not this
        instance's own account (InvalidInputError). Nothing is sent here: an account that is
        not one of the partner's merchants fails its first call (PermissionDeniedError).
        Views are kept for the instance's lifetime: about 1.6 KB each, token included.
        """
        from ._auth import TokenCache, request_exchange_token
        from ._merchants import MerchantAccount

        account_id = _inputs.merchant_account_id(account_id, self.account_id)
        merchant = self._merchants.get(account_id)
        if merchant is None:
            tokens = self._exchanges.get(account_id)
            if tokens is None:
                tokens = self._exchanges[account_id] = TokenCache(
                    functools.partial(
                        request_exchange_token, self._caller, self.account_id, account_id
                    )
                )
            merchant = MerchantAccount(self._caller, self.account_id, account_id, tokens)
            self._merchants[account_id] = merchant
        return merchant

    async def verify_credentials(self) -> int:
        """Make sure a token can be had (fetching one unless a fresh one is cached) and return its
        lifetime in seconds: a cheap check of the credentials and audience."""
        token = await self._caller.guard("token check", lambda _: self._tokens.get())
        return token.lifetime

    async def aclose(self) -> None:
        """End every call under way with `ClientClosedError`, then close every connection.
        Idempotent; it waits only for the cancelled calls to unwind."""
        await self._caller.lifecycle.close()
        for tokens in (self._tokens, *self._exchanges.values()):
            await tokens.aclose()
        await self._caller.http.aclose()

    async def __aenter__(self) -> Self:
        if self._caller.lifecycle.closed:
            raise ClientClosedError("this Dintero client is closed; make a new one")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"Dintero(account_id={self.account_id!r}, client_id={self.client_id!r}, "
            f"base_url={self.base_url!r})"
        )
