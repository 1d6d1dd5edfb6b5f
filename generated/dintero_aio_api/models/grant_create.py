from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.grant_type import GrantType
from ..types import UNSET, Unset

T = TypeVar("T", bound="GrantCreate")


@_attrs_define
class GrantCreate:
    """The writable fields of a client grant.

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
        type_ (GrantType | Unset): Limits how the grant can be used in Get Token: `any` (the default) or only with that
            `grant_type`. A grant with type `authorization_code` cannot be used in Get Token with
            `grant_type=client_credentials`.
    """

    client_id: UUID
    audience: str
    scope: list[str]
    type_: GrantType | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        parts.append(f"client_id={self.client_id!r}")
        parts.append(f"audience={self.audience!r}")
        parts.append(f"scope={self.scope!r}")
        if not isinstance(self.type_, Unset):
            parts.append(f"type_={self.type_!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        client_id = str(self.client_id)

        audience = self.audience

        scope = self.scope

        type_: str | Unset = UNSET
        if not isinstance(self.type_, Unset):
            type_ = self.type_.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "client_id": client_id,
                "audience": audience,
                "scope": scope,
            }
        )
        if type_ is not UNSET:
            field_dict["type"] = type_

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        client_id = UUID(d.pop("client_id"))

        audience = d.pop("audience")

        scope = cast(list[str], d.pop("scope"))

        _type_ = d.pop("type", UNSET)
        type_: GrantType | Unset
        if isinstance(_type_, Unset):
            type_ = UNSET
        else:
            type_ = GrantType(_type_)

        grant_create = cls(
            client_id=client_id,
            audience=audience,
            scope=scope,
            type_=type_,
        )

        grant_create.additional_properties = d
        return grant_create

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
