"""The compiled type check of each model the SDK returns (responses._checker): every field that
the generated parser takes from the JSON as it is, is checked; a field the parser builds itself
(a UUID, a date, an enum) is not, because the parser fails on any other value."""

from __future__ import annotations

import types
import typing
import uuid
from typing import Any

import attrs
import dintero_aio_api.models
import pytest
from dintero_aio_api.models import AccessToken, ClientInfo, ClientWithSecret, Grant

from dintero_aio._responses import _built_by_parser, _checker

from .conftest import client_body, token_body

GRANT = {
    "client_id": "5f0c1f7e-3b8a-4a5e-9f7d-000000000001",
    "audience": "https://api.dintero.com/v1/accounts/T12345678",
    "scope": ["admin:accounts"],
    "type": "client_credentials",
    "id": "5f0c1f7e-3b8a-4a5e-9f7d-000000000002",
    "created_at": "2026-11-29T12:00:00Z",
    "created_by": "someone",
    "oidc": {"issuer": "https://example.com"},
}
MODELS: list[tuple[type, dict[str, Any]]] = [
    (ClientInfo, client_body(description="till", updated_at="2026-11-29T12:00:00Z")),
    (ClientWithSecret, client_body(description="till")),
    (Grant, GRANT),
    (AccessToken, token_body()),
]
WRONG = (42, 4.2, True, None, [], ["x"], [1], {"x": 1}, "text", b"x", object())


def hints(model: type) -> dict[str, Any]:
    return typing.get_type_hints(model, localns=vars(dintero_aio_api.models))


def declared(hint: Any, value: object) -> bool:
    """Whether `value` has type `hint`: the plain reading of the annotation, for reference."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(declared(arg, value) for arg in args)
    if origin is list:
        return isinstance(value, list) and all(declared(args[0], item) for item in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is Any:
        return True
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


@pytest.mark.parametrize(("model", "body"), MODELS, ids=lambda m: getattr(m, "__name__", ""))
def test_the_check_agrees_with_the_annotations_for_every_field_and_value(
    model: Any, body: dict[str, Any]
) -> None:
    check = _checker(model)
    assert check(model.from_dict(body))
    assert not check(object())
    checked = 0
    for name, hint in hints(model).items():
        if _built_by_parser(hint):
            for wrong in WRONG:  # the parser itself refuses what is not the type's text
                with pytest.raises(Exception):  # noqa: B017, PT011 - whatever it trips on
                    model.from_dict({**body, name.rstrip("_"): wrong})  # type_ is "type"
            continue
        for value in WRONG:
            model_value = model.from_dict(body)
            setattr(model_value, name, value)
            assert check(model_value) == declared(hint, value), (name, value)
            checked += 1
    assert checked >= 3 * len(WRONG)


@attrs.define
class OnlyBuilt:
    """A model whose one field the parser builds itself: nothing is left to check but its class."""

    id: uuid.UUID


def test_the_check_of_any_of_a_model_with_nothing_to_check_and_of_an_unknown_type() -> None:
    assert _checker(Any)(object())
    assert _checker(OnlyBuilt)(OnlyBuilt(uuid.uuid4()))
    assert not _checker(OnlyBuilt)(object())
    with pytest.raises(TypeError, match="no checker for <class 'complex'>"):
        _checker(complex)  # a type the spec does not use yet: this function must learn it
