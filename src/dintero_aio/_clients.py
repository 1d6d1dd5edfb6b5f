"""`dintero.clients`: the auth clients of the account the `Dintero` instance was built for."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar, overload

import attrs
from dintero_aio_api.api.auth import (
    aid_auth_clients_get,
    aid_auth_clients_post,
    aid_auths_clients_id_delete,
    aid_auths_clients_id_get,
    aid_auths_clients_id_rotate_post,
)
from dintero_aio_api.models import ClientCreate, ClientInfo, ClientWithSecret, Grant
from dintero_aio_api.types import UNSET, Unset

from . import _inputs
from ._calls import Caller
from ._errors import DinteroError, GrantFailedError, InvalidInputError
from ._grants import GrantSpec, create_grant

T = TypeVar("T")
_CREATE_RISK = (
    "a retry could create a duplicate client whose secret nobody holds; list the clients to check"
)
_ROTATE_RISK = (
    "a second rotation would invalidate the secret the first one returned; "
    "rotate again only once you know the first rotation failed"
)


def _unset_if_none(value: T | None) -> T | Unset:
    return UNSET if value is None else value


@attrs.frozen
class ClientWithGrants:
    """What `clients.create(..., grants=[...])` returns: the new client, with the secret it shows
    only this once (left out of the repr), and its grants, in the order they were asked for."""

    client: ClientWithSecret
    grants: tuple[Grant, ...]


def _grant_specs(value: object) -> tuple[GrantSpec, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"grants must be a list of GrantSpec, got {type(value).__name__}")
    if not all(isinstance(item, GrantSpec) for item in value):
        raise InvalidInputError("grants must contain only GrantSpec(audience=..., scopes=[...])")
    return tuple(value)


class Clients:
    """The auth clients of one account: this instance's, or a merchant's (`for_account`)."""

    __slots__ = ("_account_id", "_caller")

    def __init__(self, caller: Caller, account_id: str) -> None:
        self._caller = caller
        self._account_id = account_id

    @overload
    async def create(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        client_id: str | None = None,
        callbacks: builtins.list[str] | None = None,
        grants: None = None,
    ) -> ClientWithSecret: ...

    @overload
    async def create(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        client_id: str | None = None,
        callbacks: builtins.list[str] | None = None,
        grants: Sequence[GrantSpec],
    ) -> ClientWithGrants: ...

    async def create(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        client_id: str | None = None,
        callbacks: builtins.list[str] | None = None,
        grants: Sequence[GrantSpec] | None = None,
    ) -> ClientWithSecret | ClientWithGrants:
        """Create a client. Its `client_secret` is in the result and can never be read again.

        Args:
            name: A name for people. Optional.
            description: What the client is for. Optional.
            client_id: The name the client logs in with (the user name of Get Token's HTTP
                Basic auth). Optional: without it Dintero picks one, returned as `client_id` in
                the result.
            callbacks: Redirect URLs, for clients of the authorization-code flow. Optional.
            grants: Grants to make right after the client is created, in order, so that it can
                log in (`GrantSpec(audience=..., scopes=[...], type=...)`); the result is then a
                `ClientWithGrants`.

        Returns:
            The new client with its secret (`ClientWithSecret`); with `grants`, a
            `ClientWithGrants` (`.client`, `.grants`).

        Raises:
            InvalidInputError: An argument is not valid; nothing was sent (all input, grants
                included, is checked before the first request).
            GrantFailedError: With `grants`: the client was made but a grant failed. It carries
                the client, its secret and the grants made; the client is neither deleted nor
                created again.
            DinteroError: Any other failure. Never retried after a failure the server may have
                processed (read timeout, dropped connection, a 5xx other than 501, 503 and 505,
                an unreadable 2xx answer): the error then has `outcome_unknown` set.
        """
        body = ClientCreate(
            name=_unset_if_none(_inputs.optional_text("name", name)),
            description=_unset_if_none(_inputs.optional_text("description", description)),
            client_id=_unset_if_none(_inputs.optional_text("client_id", client_id)),
            callbacks=_unset_if_none(_inputs.string_list("callbacks", callbacks)),
        )
        if grants is None:
            return await self._create(body)
        specs = _grant_specs(grants)
        return await self._caller.run(
            "create client with grants", lambda _: self._create_with_grants(body, specs)
        )

    def _create(self, body: ClientCreate) -> Awaitable[ClientWithSecret]:
        return self._caller.call(
            aid_auth_clients_post,
            ClientWithSecret,
            self._account_id,
            body=body,
            duplicate_risk=_CREATE_RISK,
        )

    async def _create_with_grants(
        self, body: ClientCreate, specs: tuple[GrantSpec, ...]
    ) -> ClientWithGrants:
        client = await self._create(body)
        made: builtins.list[Grant] = []
        for index, spec in enumerate(specs):
            try:
                made.append(
                    await create_grant(self._caller, self._account_id, str(client.id), spec)
                )
            except DinteroError as exc:
                raise GrantFailedError(  # noqa: B904 - it makes `exc` its cause itself
                    exc, client=client, grants=tuple(made), not_made=specs[index:]
                )
        return ClientWithGrants(client, tuple(made))

    async def list(self) -> builtins.list[ClientInfo]:
        """Every client of the account, without secrets."""
        return await self._caller.call(
            aid_auth_clients_get, builtins.list[ClientInfo], self._account_id
        )

    async def get(self, id: uuid.UUID | str) -> ClientInfo:
        """One client by its `id` (the uuid, not its `client_id`)."""
        return await self._caller.call(
            aid_auths_clients_id_get, ClientInfo, self._account_id, _inputs.client_uuid(id)
        )

    async def delete(self, id: uuid.UUID | str) -> None:
        """Delete a client. Retried like a read; a 404 on a retry after an attempt the server may
        have processed means that attempt deleted it, and the call succeeds."""
        await self._caller.call(
            aid_auths_clients_id_delete,
            ClientInfo,
            self._account_id,
            _inputs.client_uuid(id),
            gone_means_done=True,
        )

    async def rotate_secret(self, id: uuid.UUID | str) -> ClientWithSecret:
        """Give a client a new secret (in the result, shown only once); the old one stops working.

        Retried only when the failed attempt provably never reached Dintero, like `create`."""
        return await self._caller.call(
            aid_auths_clients_id_rotate_post,
            ClientWithSecret,
            self._account_id,
            _inputs.client_uuid(id),
            duplicate_risk=_ROTATE_RISK,
        )
