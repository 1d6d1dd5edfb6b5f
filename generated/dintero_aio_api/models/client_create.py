from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ClientCreate")


@_attrs_define
class ClientCreate:
    """The writable fields of an auth client.

    Attributes:
        name (str | Unset):  Example: pos.
        description (str | Unset):
        client_id (str | Unset): Your client ID, unique in the account: a second live client with it is refused
            with 409 (our rule; Dintero documents no status for it).
             Example: pos-1.
        callbacks (list[str] | Unset):  Example: ['https://example.com/callback'].
    """

    name: str | Unset = UNSET
    description: str | Unset = UNSET
    client_id: str | Unset = UNSET
    callbacks: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def __repr__(self) -> str:
        """The fields that are set, a secret as ***: a printed model shows its data."""
        parts: list[str] = []
        if not isinstance(self.name, Unset):
            parts.append(f"name={self.name!r}")
        if not isinstance(self.description, Unset):
            parts.append(f"description={self.description!r}")
        if not isinstance(self.client_id, Unset):
            parts.append(f"client_id={self.client_id!r}")
        if not isinstance(self.callbacks, Unset):
            parts.append(f"callbacks={self.callbacks!r}")
        if self.additional_properties:
            parts.append(f"additional_properties={self.additional_properties!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        description = self.description

        client_id = self.client_id

        callbacks: list[str] | Unset = UNSET
        if not isinstance(self.callbacks, Unset):
            callbacks = self.callbacks

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if name is not UNSET:
            field_dict["name"] = name
        if description is not UNSET:
            field_dict["description"] = description
        if client_id is not UNSET:
            field_dict["client_id"] = client_id
        if callbacks is not UNSET:
            field_dict["callbacks"] = callbacks

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        name = d.pop("name", UNSET)

        description = d.pop("description", UNSET)

        client_id = d.pop("client_id", UNSET)

        callbacks = cast(list[str], d.pop("callbacks", UNSET))

        client_create = cls(
            name=name,
            description=description,
            client_id=client_id,
            callbacks=callbacks,
        )

        client_create.additional_properties = d
        return client_create

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
