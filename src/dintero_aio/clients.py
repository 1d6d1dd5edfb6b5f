"""`dintero.clients`: the auth clients of the account the `Dintero` instance was built for."""

from __future__ import annotations

import builtins
import uuid
from typing import TypeVar

from dintero_api.api.auth import (
    aid_auth_clients_get,
    aid_auth_clients_post,
    aid_auths_clients_id_delete,
    aid_auths_clients_id_get,
    aid_auths_clients_id_rotate_post,
)
from dintero_api.models import ClientCreate, ClientInfo, ClientWithSecret
from dintero_api.types import UNSET, Unset

from . import inputs
from .calls import Caller

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


class Clients:
    def __init__(self, caller: Caller, account_id: str) -> None:
        self._caller = caller
        self._account_id = account_id

    async def create(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        client_id: str | None = None,
        callbacks: builtins.list[str] | None = None,
    ) -> ClientWithSecret:
        """Create a client. Its `client_secret` is in the result and can never be read again.

        Never retried after a failure the server may have processed (read timeout, dropped
        connection, 500/502/504): the error then has `outcome_unknown` set.
        """
        body = ClientCreate(
            name=_unset_if_none(inputs.optional_text("name", name)),
            description=_unset_if_none(inputs.optional_text("description", description)),
            client_id=_unset_if_none(inputs.optional_text("client_id", client_id)),
            callbacks=_unset_if_none(inputs.string_list("callbacks", callbacks)),
        )
        return await self._caller.call(
            aid_auth_clients_post,
            ClientWithSecret,
            self._account_id,
            body=body,
            duplicate_risk=_CREATE_RISK,
        )

    async def list(self) -> builtins.list[ClientInfo]:
        """Every client of the account, without secrets."""
        return await self._caller.call(
            aid_auth_clients_get, builtins.list[ClientInfo], self._account_id
        )

    async def get(self, id: uuid.UUID | str) -> ClientInfo:
        """One client by its `id` (the uuid, not its `client_id`)."""
        return await self._caller.call(
            aid_auths_clients_id_get, ClientInfo, self._account_id, inputs.client_uuid(id)
        )

    async def delete(self, id: uuid.UUID | str) -> None:
        """Delete a client. Retried like a read; a 404 on a retry after an attempt the server may
        have processed means that attempt deleted it, and the call succeeds."""
        await self._caller.call(
            aid_auths_clients_id_delete,
            ClientInfo,
            self._account_id,
            inputs.client_uuid(id),
            gone_means_done=True,
        )

    async def rotate_secret(self, id: uuid.UUID | str) -> ClientWithSecret:
        """Give a client a new secret (in the result, shown only once); the old one stops working.

        Retried only when the failed attempt provably never reached Dintero, like `create`."""
        return await self._caller.call(
            aid_auths_clients_id_rotate_post,
            ClientWithSecret,
            self._account_id,
            inputs.client_uuid(id),
            duplicate_risk=_ROTATE_RISK,
        )
