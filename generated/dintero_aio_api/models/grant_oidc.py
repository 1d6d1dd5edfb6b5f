from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="GrantOidc")


@_attrs_define
class GrantOidc:
    """OpenID Connect configuration of a grant (type `authorization_code` only): lets the client verify the identity of
    the end user from an authentication by this authority.

    Attributes:
        client_id (str | Unset):
        client_secret (str | Unset):
        authority (str | Unset):
    """

    client_id: str | Unset = UNSET
    client_secret: str | Unset = _attrs_field(default=UNSET, repr=False)
    authority: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        if not isinstance(self.client_id, Unset):
            parts.append(f"client_id={self.client_id!r}")
        if not isinstance(self.client_secret, Unset):
            parts.append("client_secret=***")
        if not isinstance(self.authority, Unset):
            parts.append(f"authority={self.authority!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        client_id = self.client_id

        client_secret = self.client_secret

        authority = self.authority

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if client_id is not UNSET:
            field_dict["client_id"] = client_id
        if client_secret is not UNSET:
            field_dict["client_secret"] = client_secret
        if authority is not UNSET:
            field_dict["authority"] = authority

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        client_id = d.pop("client_id", UNSET)

        client_secret = d.pop("client_secret", UNSET)

        authority = d.pop("authority", UNSET)

        grant_oidc = cls(
            client_id=client_id,
            client_secret=client_secret,
            authority=authority,
        )

        grant_oidc.additional_properties = d
        return grant_oidc

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
