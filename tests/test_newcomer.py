"""The traps a newcomer met (issue 18), each refused or explained at its root by the SDK."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from dintero_aio_api.types import UNSET
from pytest_httpx import HTTPXMock

from dintero_aio import APIConnectionError, Dintero, InvalidInputError, NotFoundError

from .conftest import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, error_body


@pytest.mark.parametrize(
    "secret", [f"{CLIENT_SECRET}\n", f" {CLIENT_SECRET}", f"{CLIENT_SECRET}\t"]
)
def test_a_secret_with_surrounding_white_space_is_refused_saying_so(secret: str) -> None:
    with pytest.raises(InvalidInputError, match="white space") as info:
        Dintero(account_id="T12345678", client_id=CLIENT_ID, client_secret=secret)
    assert CLIENT_SECRET not in str(info.value)


def test_a_client_id_with_surrounding_white_space_is_refused_saying_so() -> None:
    with pytest.raises(InvalidInputError, match="client_id has white space"):
        Dintero(account_id="T12345678", client_id=f"{CLIENT_ID}\n", client_secret=CLIENT_SECRET)


def test_an_unset_client_id_says_it_was_unset_and_what_to_use() -> None:
    with pytest.raises(InvalidInputError, match=r"client_id is UNSET.*created\.client\.client_id"):
        Dintero(account_id="T12345678", client_id=UNSET, client_secret=CLIENT_SECRET)  # type: ignore[arg-type]


async def test_a_404_from_get_token_hints_at_the_base_url_and_v1(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=404, json=error_body("no route"))
    with pytest.raises(NotFoundError, match=r"is base_url right\? .*with the /v1") as info:
        await make_dintero().verify_credentials()
    assert info.value.status_code == 404


async def test_a_connection_error_names_the_server_that_was_tried(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_exception(httpx.ConnectError("All connection attempts failed"), is_reusable=True)
    dintero = make_dintero(base_url="https://api.example.test/v1")
    with pytest.raises(APIConnectionError, match=r"\(https://api\.example\.test\)"):
        await dintero.clients.list()
