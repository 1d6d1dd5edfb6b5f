"""An in-memory emulator of Dintero's management-auth API, with scriptable faults.

The emulator follows `openapi.yaml` and Dintero's documented behaviour closely enough that an SDK
can be tested against it end to end, and it can fail on demand in the ways real networks fail
(error statuses, dropped or reset connections, slow or corrupt responses), which a real account
cannot be made to do. See `dintero_aio.testing` for how to use it.

`Emulator` is the public face of three parts: the state model (`_state.py`: accounts, clients,
grants, tokens, counters), the HTTP routes (`_routes.py`) and the faults (`_faults.py`). This
module also mints every client secret and access token, through its own `secrets`: one place,
which the project's tests replace to record each value and check that none reaches a log.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import httpx
from starlette.types import Receive, Scope, Send

from ._errors import ApiError
from ._faults import CorruptMode, Fault, FaultQueues, answer, corruption, failure, read_body, run
from ._routes import Api, audience_for
from ._state import (
    DINTERO_API_URL,
    GRANT_TYPES,
    MERCHANT_ID,
    OID,
    OPERATIONS,
    ROOT_SCOPES,
    EmulatedClient,
    EmulatedGrant,
    EmulatedGrantOidc,
    GrantType,
    Operation,
    State,
    checked_operation,
)

__all__ = [  # the public names, importable from here as before the split into modules
    "DEFAULT_CLIENT_SECRET",
    "DINTERO_API_URL",
    "GRANT_TYPES",
    "IN_PROCESS_BASE_URL",
    "OPERATIONS",
    "ROOT_SCOPES",
    "CorruptMode",
    "EmulatedClient",
    "EmulatedGrant",
    "EmulatedGrantOidc",
    "Emulator",
    "GrantType",
    "Operation",
]

DEFAULT_CLIENT_SECRET = "emulator-secret-for-tests-only"  # noqa: S105 - a test fixture, not a secret
IN_PROCESS_BASE_URL = "http://127.0.0.1/v1"
"""Base URL for `Emulator.transport()`: the transport ignores the host, but the SDK accepts plain
http only to a loopback host, so this is one: a request sent without the transport by mistake
stays on this machine (port 80, where usually nothing listens) instead of crossing a network."""


class Emulator:
    """Dintero's management-auth API for one account (and a partner's merchants), in memory.

    An ASGI app. Thread-safe: `serve()` runs the app in another thread while the test thread
    scripts faults and reads `clients`.

    `token_rate_limit`: at most this many token requests (Get Token and the exchange together)
    per account in any rolling second, the account being the one in the path (the partner's,
    for an exchange); beyond it, Dintero's 429 error body with `Retry-After` in whole seconds
    (Dintero documents that 429 on Get Token but publishes no numbers). Refused requests do not
    count against the limit; `rate_limited(op)` counts them. None (the default): no limit.
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
        token_rate_limit: int | None = None,
    ) -> None:
        if not OID.fullmatch(account_id):
            raise ValueError(f"account_id must be P or T followed by 3 or 8 digits: {account_id!r}")
        self.account_id, self.client_id, self.client_secret = account_id, client_id, client_secret
        self.expires_in = expires_in
        self.delay = 0.0
        """Seconds every request waits before it is processed (a slow network), 0 by default."""
        self.require_grants = require_grants
        """Whether a client created through the API needs a client grant to get a token."""
        self.token_rate_limit = token_rate_limit
        self._state = State(account_id)
        self._faults = FaultQueues()
        self._api = Api(self._state, self, new_secret=_new_secret, new_token=_new_token)
        for merchant in merchants:
            self.add_merchant(merchant)

    @property
    def token_rate_limit(self) -> int | None:
        """Token requests allowed per account per rolling second, or None for no limit; may be
        changed at any time (the requests of the last second count against a new value)."""
        return self._token_rate_limit

    @token_rate_limit.setter
    def token_rate_limit(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise ValueError(f"token_rate_limit must be a whole number or None, not {limit!r}")
        if limit is not None and limit < 1:
            raise ValueError(f"token_rate_limit must be at least 1 (or None), not {limit}")
        self._token_rate_limit = limit

    # Accounts.

    def add_merchant(self, account_id: str) -> None:
        """Make `account_id` a merchant account (sub-account) of this emulator's account.

        The account becomes a partner: its tokens can be exchanged for tokens of its merchants
        (`POST /accounts/{account_id}/auth/exchange_token`), and each merchant account has its
        own clients and grants. A merchant id is P or T followed by 8 digits.
        """
        if not MERCHANT_ID.fullmatch(account_id):
            raise ValueError(f"a merchant id is P or T followed by 8 digits: {account_id!r}")
        self._state.add_account(account_id)

    @property
    def merchants(self) -> tuple[str, ...]:
        """The merchant accounts of this (partner) account, in the order they were added."""
        return self._state.account_ids()[1:]

    # Inspection, for test assertions.

    @property
    def audience(self) -> str:
        """The audience real Dintero expects in a token request for this account."""
        return self.audience_for(self.account_id)

    def audience_for(self, account_id: str) -> str:
        """The audience real Dintero expects in a token request for `account_id`."""
        return audience_for(account_id)

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
        return self._state.clients(account_id)

    def grants_of(self, account_id: str) -> list[EmulatedGrant]:
        """`grants` of this account or of one of its merchants; ValueError for another one.

        The grants of a deleted client are deleted with it, so they are not listed."""
        return self._state.grants(account_id)

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
        try:
            return self._state.create_grant(
                account_id,
                id=str(uuid.uuid4()),
                caller=self.client_id,
                client_id=client_uuid,
                audience=self.audience_for(account_id) if audience is None else audience,
                scope=tuple(scope),
                type=type,
            )
        except ApiError:
            raise ValueError(f"no live client with id {client_uuid!r} in {account_id}") from None

    def received(self, operation: Operation, *, account: str | None = None) -> int:
        """Requests of `operation` that arrived, counted before any fault or validation.

        With `account`, only those whose path named that oid (`partner_id` for "exchange").
        """
        return self._state.count("received", checked_operation(operation), account)

    def processed(self, operation: Operation, *, account: str | None = None) -> int:
        """Requests of `operation` that succeeded: a token issued, a client created, listed, etc.

        With `account`, only those whose path named that oid (`partner_id` for "exchange").
        """
        return self._state.count("processed", checked_operation(operation), account)

    def rate_limited(self, operation: Operation, *, account: str | None = None) -> int:
        """Requests of `operation` refused with 429 by `token_rate_limit` ("token" and
        "exchange" only; a 429 from `fail_next` is a fault, not counted here).

        With `account`, only those whose path named that oid (`partner_id` for "exchange").
        """
        return self._state.count("rate_limited", checked_operation(operation), account)

    def expire_tokens(self) -> None:
        """Make every token issued so far expired, as if `expires_in` had passed."""
        self._state.expire_tokens()

    def transport(self) -> httpx.ASGITransport:
        """An httpx transport that calls this app in-process (use base_url IN_PROCESS_BASE_URL)."""
        return httpx.ASGITransport(app=self)

    def __repr__(self) -> str:
        """What a failing assertion or a debugger needs to tell emulators apart: the account,
        its admin client id, and the live clients and grants of each account (counts only:
        the state holds secrets, which must never reach a repr)."""
        counts = self._state.live_counts()
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
        if self.token_rate_limit is not None:
            text += f", token_rate_limit={self.token_rate_limit}"
        return text + ")"

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
        self._faults.add(operation, failure(status, retry_after, message, times))

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
        self._faults.add(operation, answer(status, body, headers, times))

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
        self._faults.add(operation, Fault(kind, times, after_processing=after_processing))

    def delay_next(
        self,
        operation: Operation,
        seconds: float,
        *,
        after_processing: bool = False,
        times: int = 1,
    ) -> None:
        """Wait `seconds` before processing the request, or after it, before responding."""
        fault = Fault("delay", times, after_processing=after_processing, seconds=seconds)
        self._faults.add(operation, fault)

    def corrupt_next(
        self, operation: Operation, mode: CorruptMode = "truncated", *, times: int = 1
    ) -> None:
        """Process the request, then send its status and headers with a broken body.

        "truncated": the first half of the real JSON body; "not_json": an HTML page.
        """
        self._faults.add(operation, corruption(mode, times))

    def clear_faults(self) -> None:
        """Forget every fault not consumed yet."""
        self._faults.clear()

    # The ASGI app: faults wrap the Starlette app, which implements the API.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._api.operation(scope)
        if found is None:  # not one of the operations (lifespan, unknown path): no faults
            await self._api.app(scope, receive, send)
            return
        operation, account = found
        body = await read_body(receive)
        self._state.tally("received", operation, account)
        fault = self._faults.take(operation)
        await run(self._api.app, fault, scope, body, receive, send, delay=self.delay)


def _new_secret() -> str:
    """A new client secret (create, rotate)."""
    return secrets.token_urlsafe(32)


def _new_token(claims: dict[str, Any]) -> str:
    """A new access token: JWT-shaped, for clients that peek at `exp`, with a random signature
    part; the emulator only ever looks tokens up, never verifies them."""
    parts = (b'{"alg":"HS256","typ":"JWT"}', json.dumps(claims).encode(), secrets.token_bytes(32))
    return ".".join(_b64(part) for part in parts)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
