"""Bad input is a clear InvalidInputError (a ValueError) before any request is sent."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import Dintero, InvalidInputError

from .conftest import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_URL,
    TOKEN_URL,
    client_body,
    token_body,
)


@pytest.mark.parametrize(
    "account_id", ["T1234", "X12345678", "T1234567", "t12345678", "T12345678\n", "", None, 12345678]
)
def test_invalid_account_id(make_dintero: Callable[..., Dintero], account_id: Any) -> None:
    with pytest.raises(InvalidInputError, match="account_id"):
        make_dintero(account_id=account_id)


@pytest.mark.parametrize("account_id", ["T12345678", "P00000000", "P123", "T999"])
def test_valid_account_ids(make_dintero: Callable[..., Dintero], account_id: str) -> None:
    assert make_dintero(account_id=account_id).account_id == account_id


@pytest.mark.parametrize("field", ["client_id", "client_secret"])
@pytest.mark.parametrize("value", ["", "   ", None, 42])
def test_empty_credentials(make_dintero: Callable[..., Dintero], field: str, value: Any) -> None:
    with pytest.raises(InvalidInputError, match=field):
        make_dintero(**{field: value})


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.dintero.com/v1",
        "ftp://api.dintero.com/v1",
        "api.dintero.com/v1",
        "https://user:hunter2@api.dintero.com/v1",
        "https://api.dintero.com/v1?x=1",
        "http://10.0.0.1/v1",
        "",
        None,
    ],
)
def test_invalid_base_url(make_dintero: Callable[..., Dintero], base_url: Any) -> None:
    with pytest.raises(InvalidInputError, match="base_url") as info:
        make_dintero(base_url=base_url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.dintero.com/v1",
        "http://127.0.0.1:8080/v1",
        "http://localhost/v1",
        "http://[::1]/v1",
    ],
)
def test_valid_base_url(make_dintero: Callable[..., Dintero], base_url: str) -> None:
    assert make_dintero(base_url=base_url + "/").base_url == base_url


@pytest.mark.parametrize("timeout", [0, -1, "30", True])
def test_invalid_timeout(make_dintero: Callable[..., Dintero], timeout: Any) -> None:
    with pytest.raises(InvalidInputError, match="timeout"):
        make_dintero(timeout=timeout)


def test_invalid_retry(make_dintero: Callable[..., Dintero]) -> None:
    with pytest.raises(InvalidInputError, match="RetryPolicy"):
        make_dintero(retry={"max_retries": 1})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"callbacks": "https://example.com/cb"}, "callbacks must be a list"),
        ({"callbacks": {"a": 1}}, "callbacks must be a list"),
        ({"callbacks": 5}, "callbacks must be a list"),
        ({"callbacks": ["https://ok", 5]}, "only strings"),
        ({"name": 42}, "name must be a string"),
        ({"description": ["x"]}, "description must be a string"),
        ({"client_id": b"pos"}, "client_id must be a string"),
    ],
)
async def test_invalid_create_arguments_send_nothing(
    httpx_mock: HTTPXMock, dintero: Dintero, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        await dintero.clients.create(**kwargs)
    assert httpx_mock.get_requests() == []


async def test_tuple_of_callbacks_is_accepted(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create(callbacks=("https://a", "https://b"))
    assert (
        httpx_mock.get_requests(url=CLIENTS_URL)[0].content
        == b'{"callbacks":["https://a","https://b"]}'
    )


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", 42, None, "../x"])
async def test_invalid_client_id_sends_nothing(
    httpx_mock: HTTPXMock, dintero: Dintero, bad_id: Any
) -> None:
    for call in (dintero.clients.get, dintero.clients.delete, dintero.clients.rotate_secret):
        with pytest.raises(InvalidInputError, match="UUID"):
            await call(bad_id)
    assert httpx_mock.get_requests() == []


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("DINTERO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("DINTERO_BASE_URL", "http://127.0.0.1:9/v1")
    dintero = Dintero.from_env(account_id="P123")
    assert (dintero.account_id, dintero.client_id, dintero.base_url) == (
        "P123",
        CLIENT_ID,
        "http://127.0.0.1:9/v1",
    )


def test_from_env_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DINTERO_CLIENT_ID", CLIENT_ID)
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env()
    assert "DINTERO_ACCOUNT_ID" in str(info.value)
    assert "DINTERO_CLIENT_SECRET" in str(info.value)
    assert "DINTERO_CLIENT_ID" not in str(info.value)


def test_uuid_objects_and_strings_are_accepted() -> None:
    from dintero_aio import _inputs as inputs

    value = uuid.uuid4()
    assert inputs.client_uuid(value) is value
    assert inputs.client_uuid(str(value).upper()) == value
    assert inputs.client_uuid("{" + value.hex + "}") == value


@pytest.mark.parametrize("audience", ["", "  ", 5])
def test_invalid_audience(make_dintero: Callable[..., Dintero], audience: Any) -> None:
    with pytest.raises(InvalidInputError, match="audience"):
        make_dintero(audience=audience)
