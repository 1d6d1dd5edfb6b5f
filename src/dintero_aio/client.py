"""`Dintero`: the entry point. Validates settings, owns the connection pool and token cache."""

from __future__ import annotations

import os
from typing import Any, Self

import attrs
import dintero_api
import httpx

from . import inputs
from ._version import __version__
from .auth import TokenAuth, TokenCache, request_token
from .calls import Caller
from .clients import Clients
from .errors import InvalidInputError
from .retry import RetryPolicy

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


class Dintero:
    """An async client for one Dintero account's management-auth API.

    One `httpx.AsyncClient` (one connection pool) serves the token and API calls of this instance
    and of every view made by `with_options`. Use it as `async with Dintero(...) as dintero:` or
    call `await dintero.aclose()`; use it from one event loop.
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
    ) -> None:
        self.account_id = inputs.account_id(account_id)
        self.client_id = inputs.text("client_id", client_id)
        credentials = httpx.BasicAuth(client_id, inputs.text("client_secret", client_secret))
        self.base_url = inputs.base_url(base_url)
        if audience is None:
            audience = f"{self.base_url}/accounts/{account_id}"
        audience = inputs.text("audience", audience)
        policy = inputs.retry_policy(retry)
        per_attempt = inputs.timeout(timeout)

        tokens = TokenCache(
            lambda: request_token(self._caller, self.account_id, audience, credentials)
        )
        httpx_args: dict[str, Any] = {"auth": TokenAuth(tokens)}
        if transport is not None:
            httpx_args["transport"] = transport
        generated = dintero_api.Client(
            base_url=self.base_url, headers=_HEADERS, httpx_args=httpx_args
        )
        self._tokens = tokens
        self._caller = Caller(
            self.base_url, generated.get_async_httpx_client(), generated, policy, per_attempt
        )
        self.clients = Clients(self._caller, self.account_id)

    @classmethod
    def from_env(cls, **overrides: Any) -> Self:
        """Build from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID, DINTERO_CLIENT_SECRET and the
        optional DINTERO_BASE_URL; keyword `overrides` win over the environment."""
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
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view._caller = attrs.evolve(
            self._caller,
            policy=self._caller.policy if retry is None else inputs.retry_policy(retry),
            timeout=self._caller.timeout if timeout is None else inputs.timeout(timeout),
        )
        view.clients = Clients(view._caller, self.account_id)
        return view

    async def verify_credentials(self) -> int:
        """Make sure a token can be had (fetching one unless a fresh one is cached) and return its
        lifetime in seconds: a cheap check of the credentials and audience."""
        return (await self._tokens.get()).lifetime

    async def aclose(self) -> None:
        await self._tokens.aclose()
        await self._caller.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"Dintero(account_id={self.account_id!r}, client_id={self.client_id!r}, "
            f"base_url={self.base_url!r})"
        )
