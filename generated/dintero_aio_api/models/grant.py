from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.grant_type import GrantType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.grant_oidc import GrantOidc


T = TypeVar("T", bound="Grant")


@_attrs_define
class Grant:
    """A client grant as read back.

    Attributes:
        client_id (UUID): The client the grant is for: the client's `id` (the uuid Create client returns),
            not its `client_id`. Dintero's partner guide: "Use the id from the previous step as
            the client_id value." (`format: uuid` is our reading of that guide; the 2021 model
            says only `string`.)
             Example: 497f6eca-6276-4993-bfeb-53cbbbba6f08.
        audience (str): The API the client may get tokens for. Example: https://api.dintero.com/v1/accounts/T12345678.
        scope (list[str]): The scopes the client's tokens for this audience carry. Non-empty, of non-empty
            strings (our rule, as for `audience`: a grant without them can never be used).
             Example: ['checkout:admin'].
        id (UUID):
        type_ (GrantType | Unset): Limits how the grant can be used in Get Token: `any` (the default) or only with that
            `grant_type`. A grant with type `authorization_code` cannot be used in Get Token with
            `grant_type=client_credentials`.
        created_at (datetime.datetime | Unset):
        updated_at (datetime.datetime | Unset):
        deleted_at (datetime.datetime | Unset):
        created_by (str | Unset):
        deleted_by (str | Unset):
        oidc (GrantOidc | Unset): OpenID Connect configuration of a grant (type `authorization_code` only): lets the
            client verify the identity of the end user from an authentication by this authority.
    """

    client_id: UUID
    audience: str
    scope: list[str]
    id: UUID
    type_: GrantType | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    updated_at: datetime.datetime | Unset = UNSET
    deleted_at: datetime.datetime | Unset = UNSET
    created_by: str | Unset = UNSET
    deleted_by: str | Unset = UNSET
    oidc: GrantOidc | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        parts.append(f"client_id={self.client_id!r}")
        parts.append(f"audience={self.audience!r}")
        parts.append(f"scope={self.scope!r}")
        parts.append(f"id={self.id!r}")
        if not isinstance(self.type_, Unset):
            parts.append(f"type_={self.type_!r}")
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
        if not isinstance(self.oidc, Unset):
            parts.append(f"oidc={self.oidc!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        client_id = str(self.client_id)

        audience = self.audience

        scope = self.scope

        id = str(self.id)

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value

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

        oidc: dict[str, Any] | Unset = UNSET
        if not isinstance(self.oidc, Unset):
            oidc = self.oidc.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "client_id": client_id,
                "audience": audience,
                "scope": scope,
                "id": id,
            }
        )
        if type_ is not UNSET:
            field_dict["type"] = type_
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
        if oidc is not UNSET:
            field_dict["oidc"] = oidc

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.grant_oidc import GrantOidc

        d = dict(src_dict)
        client_id = UUID(d.pop("client_id"))

        audience = d.pop("audience")

        scope = cast(list[str], d.pop("scope"))

        id = UUID(d.pop("id"))

        _type_ = d.pop("type", UNSET)
        type_: GrantType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = GrantType(_type_)

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

        _oidc = d.pop("oidc", UNSET)
        oidc: GrantOidc | Unset
        if isinstance(_oidc, Unset):
            oidc = UNSET
        else:
            oidc = GrantOidc.from_dict(_oidc)

        grant = cls(
            client_id=client_id,
            audience=audience,
            scope=scope,
            id=id,
            type_=type_,
            created_at=created_at,
            updated_at=updated_at,
            deleted_at=deleted_at,
            created_by=created_by,
            deleted_by=deleted_by,
            oidc=oidc,
        )

        grant.additional_properties = d
        return grant

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
