"""`dintero.grants`: client grants, the permissions that let an auth client get tokens.

A client created with `clients.create` gets no token until it has a grant for the audience it
asks for (Dintero's partner guide: "create the client, then delegate grants to it"). A grant's
`client_id` is the granted client's `id`, its uuid, not its `client_id` string; every method here
also takes the client object itself, so callers need not know which. `Grant.client_id` is a
`uuid.UUID`, like a client's `id`, so `grant.client_id == client.id` compares as it reads.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence

import attrs
from dintero_aio_api.api.auth import (
    aid_auths_client_grants_get,
    aid_auths_client_grants_id_delete,
    aid_auths_client_grants_post,
)
from dintero_aio_api.models import ClientInfo, ClientWithSecret, Grant, GrantCreate, GrantType
from dintero_aio_api.types import UNSET

from . import _inputs
from ._calls import Caller

#: Anything that names a client for a grant: the client itself, or its `id` (uuid).
ClientRef = ClientInfo | ClientWithSecret | uuid.UUID | str

_CREATE_RISK = (
    "a retry could make a second, identical grant; list the client's grants "
    "(grants.list(client_id=...)) to check"
)


# GrantSpec's converters: typed wrappers of the checks, so that its __init__ is typed too.


def _scopes(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(_inputs.scopes(value))


def _type(value: GrantType | str) -> GrantType:
    return _inputs.grant_type(value)


def _audience(value: str) -> str:
    return _inputs.audience(value)


@attrs.frozen
class GrantSpec:
    """A grant to make for a client being created: `clients.create(..., grants=[GrantSpec(...)])`.

    Checked when built (InvalidInputError): `audience` an https URL (http only to a loopback
    host), `scopes` a non-empty list of non-empty strings, `type` one of Dintero's grant types
    (`any`, the default, lets the client use it with client credentials).
    """

    audience: str = attrs.field(converter=_audience)
    scopes: tuple[str, ...] = attrs.field(converter=_scopes)
    type: GrantType = attrs.field(default=GrantType.ANY, converter=_type)


async def create_grant(
    caller: Caller, account_id: str, client_uuid: uuid.UUID | str, spec: GrantSpec
) -> Grant:
    """Create client grant, from checked input (`Grants.create` and `Clients.create`).

    `client_uuid` is the client's `id`, checked already: a `UUID`, or its canonical string."""
    body = GrantCreate(
        client_id=client_uuid if isinstance(client_uuid, uuid.UUID) else uuid.UUID(client_uuid),
        audience=spec.audience,
        scope=list(spec.scopes),
        type_=spec.type,
    )
    return await caller.call(
        aid_auths_client_grants_post, Grant, account_id, body=body, duplicate_risk=_CREATE_RISK
    )


class Grants:
    """The client grants of one account: this instance's, or a merchant's (`for_account`)."""

    __slots__ = ("_account_id", "_caller")

    def __init__(self, caller: Caller, account_id: str) -> None:
        self._caller = caller
        self._account_id = account_id

    async def list(
        self, *, client_id: ClientRef | None = None, audience: str | None = None
    ) -> builtins.list[Grant]:
        """The account's grants, optionally only those of one client and/or one audience."""
        return await self._caller.call(
            aid_auths_client_grants_get,
            builtins.list[Grant],
            self._account_id,
            client_id=UNSET if client_id is None else _inputs.granted_client(client_id),
            audience=UNSET if audience is None else _inputs.text("audience", audience),
        )

    async def create(
        self,
        *,
        client_id: ClientRef,
        audience: str,
        scopes: Sequence[str],
        type: GrantType | str = GrantType.ANY,  # Dintero's field name
    ) -> Grant:
        """Let a client get tokens for `audience` carrying `scopes`.

        `client_id` is the client (as `clients.create`, `get` or `list` returned it) or its `id`,
        the uuid. Like `clients.create`, never retried after a failure the server may have
        processed: the error then has `outcome_unknown` set.
        """
        spec = GrantSpec(audience=audience, scopes=scopes, type=type)
        return await create_grant(
            self._caller, self._account_id, _inputs.granted_client(client_id), spec
        )

    async def delete(self, id: uuid.UUID | str) -> None:
        """Delete a grant (by its own `id`): the client gets no new token for its audience.

        Retried like a read; a 404 on a retry after an attempt the server may have processed
        means that attempt deleted it, and the call succeeds."""
        await self._caller.call(
            aid_auths_client_grants_id_delete,
            Grant,
            self._account_id,
            _inputs.client_uuid(id, "grant"),
            gone_means_done=True,
        )
