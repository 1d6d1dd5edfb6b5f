from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ClientWithSecret")


@_attrs_define
class ClientWithSecret:
    """A created (or rotated) client, with the secret that is shown only this once.

    Attributes:
        id (UUID):
        client_id (str): Your client ID, unique in the account: a second live client with it is refused
            with 409 (our rule; Dintero documents no status for it).
             Example: pos-1.
        client_secret (str): Shown only once, in this response; it can never be read again.
        name (str | Unset):  Example: pos.
        description (str | Unset):
        callbacks (list[str] | Unset):  Example: ['https://example.com/callback'].
        created_at (datetime.datetime | Unset):
        updated_at (datetime.datetime | Unset):
        deleted_at (datetime.datetime | Unset):
        created_by (str | Unset):
        deleted_by (str | Unset):
    """

    id: UUID
    client_id: str
    client_secret: str = _attrs_field(repr=False)
    name: str | Unset = UNSET
    description: str | Unset = UNSET
    callbacks: list[str] | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    deleted_at: datetime.datetime | Unset = UNSET
    created_by: str | Unset = UNSET
    deleted_by: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        parts.append(f"id={self.id!r}")
        parts.append(f"client_id={self.client_id!r}")
        parts.append("client_secret=***")
        if not isinstance(self.name, Unset):
            parts.append(f"name={self.name!r}")
        if not isinstance(self.description, Unset):
            parts.append(f"description={self.description!r}")
        if not isinstance(self.callbacks, Unset):
            parts.append(f"callbacks={self.callbacks!r}")
        if not isinstance(self.created_at, Unset):
            parts.append(f"created_at={self.created_at!r}")
        if not isinstance(self.updated_at, Unset):
            parts.append(f"updated_at={self.updated_at!r}")
        if not isinstance(self.deleted_at, Unset):
            parts.append(f"deleted_at={self.deleted_at!r}")
        if not isinstance(self.created_by, Unset):
            parts.append(f"created_by={self.created_by!r}")
        if not isinstance(self.deleted_by, Unset):
            parts.append(f"deleted_by={self.deleted_by!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        client_id = self.client_id

        client_secret = self.client_secret

        name = self.name

        description = self.description

        callbacks: list[str] | Unset = UNSET
        if not isinstance(self.callbacks, Unset):
            callbacks = self.callbacks

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        updated_at: str | Unset = UNSET
        if not isinstance(self.updated_at, Unset):
            updated_at = self.updated_at.isoformat()

        deleted_at: str | Unset = UNSET
        if not isinstance(self.deleted_at, Unset):
            deleted_at = self.deleted_at.isoformat()

        created_by = self.created_by

        deleted_by = self.deleted_by

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "client_id": client_id,
                "client_secret": client_secret,
            }
        )
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if callbacks is not UNSET:
            field_dict["callbacks"] = callbacks
        if created_at is not UNSET:
            field_dict["created_at"] = created_at
        if updated_at is not UNSET:
            field_dict["updated_at"] = updated_at
        if deleted_at is not UNSET:
            field_dict["deleted_at"] = deleted_at
        if created_by is not UNSET:
            field_dict["created_by"] = created_by
        if deleted_by is not UNSET:
            field_dict["deleted_by"] = deleted_by

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        id = UUID(d.pop("id"))

        client_id = d.pop("client_id")

        client_secret = d.pop("client_secret")

        name = d.pop("name", UNSET)

        description = d.pop("description", UNSET)

        callbacks = cast(list[str], d.pop("callbacks", UNSET))

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        _updated_at = d.pop("updated_at", UNSET)
        updated_at: datetime.datetime | Unset
        if isinstance(_updated_at, Unset):
            updated_at = UNSET
        else:
            updated_at = datetime.datetime.fromisoformat(_updated_at)

        _deleted_at = d.pop("deleted_at", UNSET)
        deleted_at: datetime.datetime | Unset
        if isinstance(_deleted_at, Unset):
            deleted_at = UNSET
        else:
            deleted_at = datetime.datetime.fromisoformat(_deleted_at)

        created_by = d.pop("created_by", UNSET)

        deleted_by = d.pop("deleted_by", UNSET)

        client_with_secret = cls(
            id=id,
            client_id=client_id,
            client_secret=client_secret,
            name=name,
            description=description,
            callbacks=callbacks,
            created_at=created_at,
            updated_at=updated_at,
            deleted_at=deleted_at,
            created_by=created_by,
            deleted_by=deleted_by,
        )

        client_with_secret.additional_properties = d
        return client_with_secret

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
