"""What the emulator remembers: accounts, their auth clients and client grants, the tokens it
issued, and how many requests of each operation it saw.

Everything sits behind one lock: `serve()` runs the app in another thread while the test thread
reads `emulator.clients` or the counters. Snapshots handed out (`EmulatedClient`,
`EmulatedGrant`) are frozen, so a test can keep them. The rules that keep this state consistent
live here too (a client_id is unique in its account, a deleted client takes its grants with it);
the HTTP side (`_routes.py`) only parses requests and renders answers.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from ._errors import ApiError

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
GrantType = Literal["any", "authorization_code", "client_credentials", "password"]
"""A grant's `type`: `any` (the default) or the one Get Token `grant_type` it may be used with."""
GRANT_TYPES: tuple[GrantType, ...] = get_args(GrantType)
ROOT_SCOPES: tuple[str, ...] = ("admin:accounts",)
"""The scopes of a token for the configured (root) credentials, and of exchanged tokens from it."""
DINTERO_API_URL = "https://api.dintero.com/v1"

OID = re.compile(r"[PT](?:[0-9]{3}|[0-9]{8})")
"""An account id in a path (`oid`, `partner_id`): P or T and 3 or 8 digits."""
MERCHANT_ID = re.compile(r"[PT][0-9]{8}")
"""A merchant account (Exchange.account_id): a sub-account, always 8 digits."""
_CLIENT_CREDENTIALS_TYPES = ("any", "client_credentials")  # grant types Get Token accepts
Tally = Literal["received", "processed", "rate_limited"]


@dataclass(frozen=True)
class EmulatedClient:
    """An auth client created through the API; snapshots are immutable, so safe to hand out.

    `client_id` is the one given at creation or, when none was, the emulator's own issue: the
    client's `id` as a string (Dintero's response model always carries a `client_id`, and the
    uuid is a login the emulator accepts anyway), so `client_id` is always a usable login.
    """

    id: str
    client_secret: str = field(repr=False)
    created_at: str
    updated_at: str
    created_by: str
    client_id: str
    name: str | None = None
    description: str | None = None
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
class Token:
    """An issued access token, looked up by its value."""

    caller: str  # the client id (or the partner's caller, for an exchanged token)
    account: str  # the account the token acts on
    expires: float  # time.monotonic() deadline
    scopes: tuple[str, ...]


class Account:
    """One account's auth clients and client grants, by id, deleted ones included."""

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.clients: dict[str, EmulatedClient] = {}
        self.grants: dict[str, EmulatedGrant] = {}
        # Each live client's logins (its id and its client_id) to its id: a create's uniqueness
        # check and Get Token look a login up instead of scanning every client, which a
        # benchmark's tens of thousands of creates would make quadratic.
        self.logins: dict[str, str] = {}

    def keep_live(self, client: EmulatedClient) -> None:
        self.clients[client.id] = client
        self.logins[client.id] = self.logins[client.client_id] = client.id

    def keep_deleted(self, client: EmulatedClient) -> None:
        self.clients[client.id] = client
        self.logins.pop(client.id, None)
        self.logins.pop(client.client_id, None)


def now() -> str:
    """The current time as Dintero writes it: UTC, milliseconds, a `Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def checked_operation(operation: str) -> Operation:
    """`operation` if it is one of OPERATIONS, else ValueError naming them."""
    for known in OPERATIONS:
        if operation == known:
            return known
    raise ValueError(f"operation must be one of {OPERATIONS}, not {operation!r}")


class State:
    """Every account of one emulator, the tokens it issued, and its request counters."""

    def __init__(self, account_id: str) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, Account] = {account_id: Account(account_id)}
        self._tokens: dict[str, Token] = {}
        self._tallies: Counter[tuple[Tally, str, str]] = Counter()  # (kind, operation, oid)

    # Accounts.

    def add_account(self, account_id: str) -> None:
        with self._lock:
            if account_id in self._accounts:
                raise ValueError(f"{account_id} is already an account of this emulator")
            self._accounts[account_id] = Account(account_id)

    def account_ids(self) -> tuple[str, ...]:
        """Every account, the emulator's own first, then merchants in the order they came."""
        with self._lock:
            return tuple(self._accounts)

    def has_account(self, account_id: str) -> bool:
        with self._lock:
            return account_id in self._accounts

    def live_counts(self) -> dict[str, tuple[int, int]]:
        """Per account, the number of live clients and live grants (for a repr: no secrets)."""
        with self._lock:
            return {
                oid: (
                    sum(c.deleted_at is None for c in account.clients.values()),
                    sum(g.deleted_at is None for g in account.grants.values()),
                )
                for oid, account in self._accounts.items()
            }

    # Counters.

    def tally(self, kind: Tally, operation: Operation, account: str) -> None:
        with self._lock:
            self._tallies[(kind, operation, account)] += 1

    def count(self, kind: Tally, operation: Operation, account: str | None) -> int:
        """Requests of `operation` counted as `kind`, for the oid `account` or for any."""
        with self._lock:
            if account is not None:
                return self._tallies[(kind, operation, account)]
            return sum(n for (k, op, _), n in self._tallies.items() if (k, op) == (kind, operation))

    # Auth clients.

    def clients(self, account_id: str) -> list[EmulatedClient]:
        """The live clients of an account, oldest first; ValueError for an unknown account."""
        with self._lock:
            return [c for c in self._account(account_id).clients.values() if c.deleted_at is None]

    def create_client(
        self,
        account_id: str,
        fields: dict[str, Any],
        *,
        id: str,
        secret: str,
        caller: str,
        reserved: Collection[str] = (),
    ) -> EmulatedClient:
        """A new client; without a `client_id` in `fields`, its `id` is its client_id.

        A client_id that a live client of the account logs in with (its client_id or its id),
        or one of `reserved` (the account's admin login), is refused with 409 Conflict: two
        clients with one login would make Get Token ambiguous. What Dintero does is not
        documented (no source); 409 rather than 400 because the request is well formed and
        only the account's state refuses it, so a caller can tell the two apart (and a
        schema-driven tester accepts it as the answer to valid data). A deleted client's
        client_id is free again: it no longer logs in.
        """
        created = now()
        client = EmulatedClient(
            id=id,
            client_secret=secret,
            created_at=created,
            updated_at=created,
            created_by=caller,
            client_id=fields.get("client_id", id),
            **{name: value for name, value in fields.items() if name != "client_id"},
        )
        with self._lock:
            account = self._accounts[account_id]
            if client.client_id in reserved or client.client_id in account.logins:
                raise ApiError(
                    409,
                    "duplicate_client_id",
                    f"A client with the client_id {client.client_id!r} already exists in "
                    f"account {account_id}; a client_id is unique in its account",
                    [{"field": "client_id", "message": "already in use in this account"}],
                )
            account.keep_live(client)
        return client

    def client(self, account_id: str, client_uuid: str) -> EmulatedClient:
        """A live client of the account, or ApiError 404."""
        return self.change_client(account_id, client_uuid, lambda client: client)

    def change_client(
        self,
        account_id: str,
        client_uuid: str,
        change: Callable[[EmulatedClient], EmulatedClient],
    ) -> EmulatedClient:
        """Apply `change` to a live client of the account, atomically; ApiError 404 if none."""
        with self._lock:
            account = self._accounts[account_id]
            client = account.clients.get(client_uuid)
            if client is None or client.deleted_at is not None:
                raise ApiError(404, "not_found", "Client not found")
            client = change(client)
            account.keep_live(client)
        return client

    def delete_client(self, account_id: str, client_uuid: str, caller: str) -> EmulatedClient:
        """Delete a live client and, with it, its live grants; ApiError 404 if there is none.

        Dintero does not document what happens to the grants of a deleted client. The emulator
        deletes them (marked deleted by the same caller at the same time), so they are not
        listed and never apply again, not even to a client that later takes the same client_id:
        a grant outliving its client would be a permission nobody can see the owner of.
        """
        deleted = now()
        with self._lock:
            account = self._accounts[account_id]
            client = account.clients.get(client_uuid)
            if client is None or client.deleted_at is not None:
                raise ApiError(404, "not_found", "Client not found")
            client = replace(client, deleted_at=deleted, deleted_by=caller)
            account.keep_deleted(client)
            for grant in list(account.grants.values()):
                if grant.client_id == client.id and grant.deleted_at is None:
                    account.grants[grant.id] = replace(
                        grant, deleted_at=deleted, deleted_by=caller, updated_at=deleted
                    )
        return client

    # Client grants.

    def grants(
        self, account_id: str, *, audience: str | None = None, client_uuid: str | None = None
    ) -> list[EmulatedGrant]:
        """The live grants of an account, oldest first, optionally filtered."""
        with self._lock:
            return [
                grant
                for grant in self._account(account_id).grants.values()
                if grant.deleted_at is None
                and audience in (None, grant.audience)
                and client_uuid in (None, grant.client_id)
            ]

    def create_grant(
        self, account_id: str, *, id: str, caller: str, client_id: str, **fields: Any
    ) -> EmulatedGrant:
        """A new grant for a live client of the account (`client_id` is its uuid), or 404."""
        created = now()
        with self._lock:
            account = self._account(account_id)
            client = account.clients.get(client_id)
            if client is None or client.deleted_at is not None:
                raise ApiError(
                    404,
                    "not_found",
                    f"No live client with id {client_id} in account {account_id} "
                    "(a grant's client_id is the client's id, the uuid, not its client_id)",
                )
            grant = EmulatedGrant(
                id=id,
                client_id=client.id,
                created_at=created,
                updated_at=created,
                created_by=caller,
                **fields,
            )
            account.grants[grant.id] = grant
        return grant

    def delete_grant(self, account_id: str, grant_uuid: str, caller: str) -> EmulatedGrant:
        """Mark a live grant deleted; ApiError 404 if there is none."""
        deleted = now()
        with self._lock:
            grants = self._accounts[account_id].grants
            grant = grants.get(grant_uuid)
            if grant is None or grant.deleted_at is not None:
                raise ApiError(404, "not_found", "Client grant not found")
            grants[grant.id] = grant = replace(
                grant, deleted_at=deleted, deleted_by=caller, updated_at=deleted
            )
        return grant

    # Credentials and tokens.

    def logins(self, user: str, secret: str) -> list[tuple[str, EmulatedClient]]:
        """(account, client) for every live client that `user` (its id or client_id) and its
        current `secret` log in as, in any account."""
        with self._lock:
            candidates = [
                (account.id, account.clients[account.logins[user]])
                for account in self._accounts.values()
                if user in account.logins
            ]
        return [
            (account, client)
            for account, client in candidates
            if hmac.compare_digest(secret.encode(), client.client_secret.encode())
        ]

    def keep_token(self, value: str, token: Token) -> None:
        with self._lock:
            self._tokens[value] = token

    def token(self, value: str) -> Token | None:
        """The unexpired token with this value, or None."""
        with self._lock:
            token = self._tokens.get(value)
        return token if token is not None and time.monotonic() < token.expires else None

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens = {key: replace(t, expires=-1.0) for key, t in self._tokens.items()}

    def _account(self, account_id: str) -> Account:
        """The state of one of our accounts (call with the lock held)."""
        try:
            return self._accounts[account_id]
        except KeyError:
            raise ValueError(f"{account_id!r} is not an account of this emulator") from None
