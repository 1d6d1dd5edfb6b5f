from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.client_credentials_grant_grant_type import ClientCredentialsGrantGrantType

T = TypeVar("T", bound="ClientCredentialsGrant")


@_attrs_define
class ClientCredentialsGrant:
    """
    Attributes:
        grant_type (ClientCredentialsGrantGrantType): Always `client_credentials` for a machine client.
        audience (str): The API the token is for, a grant associated with the client:
            `https://api.dintero.com/v1/accounts/{oid}`.
             Example: https://api.dintero.com/v1/accounts/T12345678.
    """

    grant_type: ClientCredentialsGrantGrantType
    audience: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        parts.append(f"grant_type={self.grant_type!r}")
        parts.append(f"audience={self.audience!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        grant_type = self.grant_type.value

        audience = self.audience

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "grant_type": grant_type,
                "audience": audience,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        grant_type = ClientCredentialsGrantGrantType(d.pop("grant_type"))

        audience = d.pop("audience")

        client_credentials_grant = cls(
            grant_type=grant_type,
            audience=audience,
        )

        client_credentials_grant.additional_properties = d
        return client_credentials_grant

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
