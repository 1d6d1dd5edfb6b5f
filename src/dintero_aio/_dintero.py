"""`Dintero`: the entry point. Validates settings, owns the connection pool and token cache."""

from __future__ import annotations

import os
import re
import ssl
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Self, TypedDict, TypeVar, Unpack

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
    from dintero_aio_api.models import AccessToken
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ._auth import Tokens, TokenSource
    from ._merchants import MerchantAccount
    from ._retry import RetryPolicy
    from ._token_cache import TokenCache

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
    "backend": "DINTERO_BACKEND",
}
#: A Redis URL: `from_env` then shares tokens through it (`RedisTokenCache.from_url`).
_REDIS_URL = "DINTERO_REDIS_URL"
_BACKENDS = ("httpcore", "aiohttp")  # as _http_client.BACKENDS, without importing it here
#: Merchant accounts whose views and tokens a partner keeps (least recently used first out).
DEFAULT_MAX_MERCHANT_ACCOUNTS = 10_000


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
    token_cache: TokenCache | None
    backend: str
    max_merchant_accounts: int
    telemetry: bool
    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None


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
        token_cache: A cache every process of a fleet shares (`RedisTokenCache(redis)`): one
            token request per account per expiry across all of them. Tokens stay in memory in
            front of it; it is never a way to fail a call (see `RedisTokenCache`).
        backend: `"httpcore"` (httpx's own transport, the default) or `"aiohttp"` (needs
            `pip install 'dintero-aio[aiohttp]'`; HTTP/1.1 only): the same promises at a
            fraction of the client CPU per call.
        max_merchant_accounts: How many merchant accounts' views and tokens `for_account` keeps
            (the least recently used go first; one is made again on its next use).
        telemetry: OpenTelemetry spans and metrics for every call when the `opentelemetry-api`
            package is installed (`pip install 'dintero-aio[otel]'`); False turns them off for
            this instance. Without that package nothing of it is imported. See
            docs/observability.md.
        tracer_provider: The `TracerProvider` to make spans with instead of the global one.
        meter_provider: The `MeterProvider` to record metrics with instead of the global one.

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
        token_cache: TokenCache | None = None,
        backend: str = "httpcore",
        max_merchant_accounts: int = DEFAULT_MAX_MERCHANT_ACCOUNTS,
        telemetry: bool = True,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        from . import _http_client, _timeouts
        from ._auth import BasicFlow, DinteroSource, TokenAuth, Tokens, request_token
        from ._calls import Caller
        from ._clients import Clients
        from ._grants import Grants
        from ._lifecycle import Lifecycle
        from ._observe import chosen
        from ._queue import RequestQueue
        from ._retry import policy as _policy

        self.account_id = _inputs.account_id(account_id)
        self.client_id = _inputs.credential("client_id", client_id)
        self._secret = _inputs.credential("client_secret", client_secret)
        credentials = BasicFlow(client_id, self._secret)
        insecure_ok = _inputs.flag("allow_insecure_http", allow_insecure_http)
        self.base_url = _inputs.base_url(base_url, insecure_ok=insecure_ok)
        if audience is None:
            audience = f"{self.base_url}/accounts/{account_id}"
        self.audience = _inputs.text("audience", audience)
        policy = _policy(retry)
        per_attempt = _timeouts.PerAttempt(_timeouts.timeout(timeout))
        limit = _inputs.byte_count("max_response_bytes", max_response_bytes)
        self._max_merchants = _inputs.byte_count("max_merchant_accounts", max_merchant_accounts)
        self._cache = _inputs.token_cache(token_cache)
        backend = _backend(backend)
        observer = chosen(_inputs.flag("telemetry", telemetry), tracer_provider, meter_provider)
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise InvalidInputError(
                "transport must be an httpx.AsyncBaseTransport (an async transport, such as "
                f"Emulator.transport()), got {type(transport).__name__}"
            )

        source = DinteroSource(
            lambda: request_token(self._caller, self.account_id, self.audience, credentials)
        )
        tokens = Tokens(
            self._shared(source, ("token", self.account_id, self.client_id, self.audience)),
            f"access token of {self.account_id}",
            observer,
        )
        generated = _http_client.open_client(
            base_url=self.base_url,
            headers=_HEADERS,
            auth=TokenAuth(tokens),
            transport=transport,
            max_response_bytes=limit,
            http2=_inputs.flag("http2", http2),
            ssl_context=_inputs.ssl_context(ssl_context),
            backend=backend,
        )
        self._tokens = tokens
        self._caller = Caller(
            self.base_url,
            generated.get_async_httpx_client(),
            Lifecycle(),
            policy,
            per_attempt,
            _timeouts.Deadlines(),
            self.account_id,
            queue=None if transport is not None else RequestQueue(_http_client.MAX_CONNECTIONS),
            observer=observer,
        )
        self._owns_cache = False  # True when from_env made the cache (and so closes it)
        self.clients = Clients(self._caller, self.account_id)
        self.grants = Grants(self._caller, self.account_id)
        # Merchant accounts: one token cache per account, shared by every view of this instance;
        # one MerchantAccount per account and view (a view's retry policy and timeout apply).
        # Both bounded, least recently used first out (dicts keep their order).
        self._exchanges: dict[str, Tokens] = {}
        self._merchants: dict[str, MerchantAccount] = {}
        self._all_tokens: weakref.WeakSet[Tokens] = weakref.WeakSet([tokens])

    @classmethod
    def from_env(cls, **overrides: Unpack[Settings]) -> Self:
        """Build from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET and the
        optional DINTERO_BASE_URL, DINTERO_BACKEND and DINTERO_REDIS_URL (a Redis that shares
        tokens with every process, closed with the instance); keyword `overrides` (any
        constructor argument) win over the environment. A variable with an unusable value is
        named in the error, never its value."""
        unknown = sorted(set(overrides) - set(Settings.__annotations__))
        if unknown:
            raise InvalidInputError(f"unknown setting(s): {', '.join(unknown)}")
        settings: dict[str, Any] = {k: os.environ[v] for k, v in _ENV.items() if os.environ.get(v)}
        settings.update(overrides)
        required = ("account_id", "client_id", "client_secret")
        missing = [_ENV[key] for key in required if not settings.get(key)]
        if missing:
            raise InvalidInputError(f"environment variable(s) not set: {', '.join(missing)}")
        for key, variable in _ENV.items():
            if key not in overrides and key in settings:
                _check_variable(key, variable, settings[key])
        owned = None
        redis_url = os.environ.get(_REDIS_URL)
        if redis_url and "token_cache" not in overrides:
            from ._redis_cache import RedisTokenCache

            try:
                owned = settings["token_cache"] = RedisTokenCache.from_url(redis_url)
            except InvalidInputError as exc:
                problem = str(exc) if "pip install" in str(exc) else "it is not a Redis URL"
                raise InvalidInputError(
                    f"the environment variable {_REDIS_URL} is not usable: {problem}"
                ) from None
        dintero = cls(**settings)
        dintero._owns_cache = owned is not None
        return dintero

    def with_options(
        self, *, retry: RetryPolicy | None = None, timeout: float | httpx.Timeout | None = None
    ) -> Self:
        """A view with another retry policy and/or timeout, sharing this instance's connection
        pool and token cache (closing either closes both). Its policy also governs retrying the
        tokens its calls wait for."""
        import attrs

        from . import _timeouts
        from ._clients import Clients
        from ._grants import Grants
        from ._retry import policy as _policy

        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._caller = attrs.evolve(
            self._caller,
            policy=self._caller.policy if retry is None else _policy(retry),
            timeouts=(
                self._caller.timeouts
                if timeout is None
                else _timeouts.PerAttempt(_timeouts.timeout(timeout))
            ),
        )
        view.clients = Clients(view._caller, self.account_id)
        view.grants = Grants(view._caller, self.account_id)
        view._merchants = {}
        return view

    def for_account(self, account_id: str) -> MerchantAccount:
        """A merchant account of this partner account: its `clients` and `grants`, acting with
        an exchange token (the partner's token exchanged for one of that account).

        The same object is returned for the same account while it is kept: the
        `max_merchant_accounts` most recently used accounts are (10,000 by default, about 1 KB
        each), and an account whose exchange Dintero refused is not. It shares this instance's
        connection pool, retry policy, timeout and lifecycle (`aclose()` here closes it too) and
        holds one cached token, fetched on first use. `account_id` is P or T and 8 digits, not
        this instance's own account (InvalidInputError). Nothing is sent here: an account that
        is not one of the partner's merchants fails its first call (PermissionDeniedError).
        """
        import attrs

        from ._merchants import MerchantAccount

        account_id = _inputs.merchant_account_id(account_id, self.account_id)
        tokens = self._exchange_tokens(account_id)
        merchant = _recent(self._merchants, account_id)
        if merchant is None or merchant._tokens is not tokens:
            # Its calls act for the merchant's account (what telemetry reports).
            caller = attrs.evolve(self._caller, account_id=account_id)
            merchant = MerchantAccount(caller, self.account_id, account_id, tokens)
            _keep(self._merchants, account_id, merchant, self._max_merchants)
        return merchant

    def _exchange_tokens(self, account_id: str) -> Tokens:
        """The token cache of a merchant account, shared by every view of this instance."""
        from ._auth import DinteroSource, Tokens, request_exchange_token
        from ._errors import PermissionDeniedError

        tokens = _recent(self._exchanges, account_id)
        if tokens is not None:
            return tokens

        async def exchange() -> AccessToken:
            try:
                return await request_exchange_token(self._caller, self.account_id, account_id)
            except PermissionDeniedError:
                # Not one of the partner's merchants: keep nothing for it.
                if self._exchanges.get(account_id) is tokens:
                    del self._exchanges[account_id]
                raise

        key = ("exchange", self.account_id, self.client_id, account_id)
        tokens = Tokens(
            self._shared(DinteroSource(exchange), key),
            f"exchange token of {account_id}",
            self._caller.observer,
        )
        _keep(self._exchanges, account_id, tokens, self._max_merchants)
        self._all_tokens.add(tokens)
        return tokens

    def _shared(self, source: TokenSource, key: tuple[str, ...]) -> TokenSource:
        """`source` behind this instance's fleet-wide cache, if it has one."""
        if self._cache is None:
            return source
        from ._shared_tokens import SharedSource

        return SharedSource(self._cache, source, key=key, secret=self._secret)

    async def verify_credentials(self) -> int:
        """Make sure a token can be had (fetching one unless a fresh one is cached) and return its
        lifetime in seconds: a cheap check of the credentials and audience."""
        token = await self._caller.run("token check", lambda _: self._tokens.get(), retried=True)
        return token.lifetime

    async def aclose(self) -> None:
        """End every call under way with `ClientClosedError`, then close every connection.
        Idempotent, and safe to call from several tasks at once; it waits only for the cancelled
        calls to unwind. A `token_cache` passed in is the caller's and stays open."""
        await self._caller.lifecycle.close()
        for tokens in list(self._all_tokens):
            await tokens.aclose()
        await self._caller.http.aclose()
        if self._owns_cache:
            self._owns_cache = False
            await self._cache.aclose()  # from_env made it: a RedisTokenCache

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


def _check_variable(key: str, variable: str, value: str) -> None:
    """Check an environment variable's value as the constructor would, naming the variable and
    never the value (a secret pasted into the wrong variable must not reach a log)."""
    checks: dict[str, Callable[[str], object]] = {
        "account_id": _inputs.account_id,
        "client_id": lambda v: _inputs.credential(key, v),
        "client_secret": lambda v: _inputs.credential(key, v),
        "base_url": lambda v: _inputs.base_url(v, insecure_ok=True),
        "backend": _backend,
    }
    try:
        checks[key](value)
        return
    except InvalidInputError as exc:
        # The checks' messages start with the setting's name and may end by quoting the value
        # ("..., got 'x'"): the one is replaced by the variable, the other cut off.
        problem = re.split(r"[,;] got ", str(exc))[0].removeprefix(key).lstrip()
    # Raised here, outside the handler: the original, which quotes the value, must not be
    # chained to it as its __context__.
    raise InvalidInputError(f"the environment variable {variable} is not usable: {problem}")


def _backend(value: str) -> str:
    if value not in _BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(_BACKENDS)}")
    return value


_T = TypeVar("_T")


def _recent(kept: dict[str, _T], key: str) -> _T | None:
    """The value kept under `key`, now the most recently used one."""
    value = kept.pop(key, None)
    if value is not None:
        kept[key] = value
    return value


def _keep(kept: dict[str, _T], key: str, value: _T, most: int) -> None:
    """Keep `value` under `key`, dropping the least recently used beyond `most`."""
    kept[key] = value
    while len(kept) > most:
        del kept[next(iter(kept))]
