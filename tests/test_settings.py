"""Settings a new user gets wrong: plain http, a misspelt override, reading an optional field."""

from __future__ import annotations

import inspect
import ssl
import textwrap
from collections.abc import Callable
from pathlib import Path

import certifi
import httpx
import pytest
from mypy import api as mypy_api
from pytest_httpx import HTTPXMock

import dintero_aio
from dintero_aio import (
    APIConnectionError,
    Dintero,
    InternalServerError,
    InvalidInputError,
    RetryPolicy,
)

from .conftest import (
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_URL,
    TOKEN_URL,
    error_body,
    token_body,
)

CREDENTIALS = {"account_id": ACCOUNT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_plain_http_to_another_host_needs_an_explicit_opt_in() -> None:
    with pytest.raises(InvalidInputError, match="allow_insecure_http=True"):
        Dintero(**CREDENTIALS, base_url="http://emulator:8080/v1")
    dintero = Dintero(**CREDENTIALS, base_url="http://emulator:8080/v1", allow_insecure_http=True)
    assert dintero.base_url == "http://emulator:8080/v1"
    assert dintero.audience == f"http://emulator:8080/v1/accounts/{ACCOUNT}"
    with pytest.raises(InvalidInputError, match="https"):  # other schemes stay refused
        Dintero(**CREDENTIALS, base_url="ftp://emulator/v1", allow_insecure_http=True)
    with pytest.raises(InvalidInputError, match="allow_insecure_http"):  # only a real True
        Dintero(**CREDENTIALS, base_url="http://emulator/v1", allow_insecure_http="yes")  # type: ignore[arg-type]


def test_from_env_refuses_a_misspelt_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("DINTERO_ACCOUNT_ID", ACCOUNT),
        ("DINTERO_CLIENT_ID", CLIENT_ID),
        ("DINTERO_CLIENT_SECRET", CLIENT_SECRET),
    ):
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError, match=r"unknown setting.*timout"):
        Dintero.from_env(timout=5)  # type: ignore[call-arg]
    assert Dintero.from_env(timeout=5, max_response_bytes=10).account_id == ACCOUNT


def test_a_misspelt_from_env_override_is_a_type_error(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(
        textwrap.dedent(
            """
            from dintero_aio import Dintero

            Dintero.from_env(timeout=5.0, retry=None)
            Dintero.from_env(timout=5.0)
            """
        )
    )
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    assert status == 1
    assert 'Unexpected keyword argument "timout"' in out
    assert out.count("error:") == 1  # the correct call type-checks


def test_unset_is_importable_to_read_optional_fields() -> None:
    assert dintero_aio.UNSET is dintero_aio.Unset() or isinstance(
        dintero_aio.UNSET, dintero_aio.Unset
    )
    assert not dintero_aio.UNSET  # falsy, so `client.name or "-"` reads an optional field


def test_help_documents_every_constructor_argument_and_the_entry_points() -> None:
    doc = Dintero.__doc__ or ""
    for name in inspect.signature(Dintero.__init__).parameters:
        if name != "self":
            assert f"    {name}:" in doc, f"Dintero's docstring does not document {name}"
    assert "clients:" in doc
    assert "grants:" in doc
    assert Dintero.verify_credentials.__doc__
    assert Dintero.for_account.__doc__


async def test_messages_name_a_call_the_same_way_and_count_retries_in_english(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, status_code=503, json=error_body(), is_reusable=True)
    with pytest.raises(InternalServerError) as status:
        await make_dintero(retry=RetryPolicy(max_retries=1, initial_delay=0.001)).clients.list()
    httpx_mock.reset()
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_exception(httpx.ConnectError("refused"), url=CLIENTS_URL)
    with pytest.raises(APIConnectionError) as connection:
        await make_dintero(retry=RetryPolicy(max_retries=0)).clients.list()
    path = f"GET /v1/accounts/{ACCOUNT}/auth/clients"
    assert path in str(status.value)
    assert str(connection.value).startswith(path)
    assert any(r.getMessage().startswith("giving up after 1 retry:") for r in caplog.records)


def _ssl_context(dintero: Dintero) -> object:
    return dintero._caller.http._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_instances_share_one_ssl_context_per_certificate_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Building one costs ~25 ms and ~800 KiB; a partner or a cold start makes many instances.
    first, second = Dintero(**CREDENTIALS), Dintero(**CREDENTIALS)
    assert _ssl_context(first) is _ssl_context(second)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())  # another setting: another context
    third = Dintero(**CREDENTIALS)
    assert _ssl_context(third) is not _ssl_context(first)
    assert _ssl_context(Dintero(**CREDENTIALS)) is _ssl_context(third)


def test_an_ssl_context_of_ones_own_is_the_one_used() -> None:
    own = ssl.create_default_context()
    assert _ssl_context(Dintero(**CREDENTIALS, ssl_context=own)) is own
    assert _ssl_context(Dintero(**CREDENTIALS)) is not own


def test_idle_connections_are_dropped_before_common_servers_drop_them() -> None:
    """uvicorn and Node.js close an idle connection after 5 s (httpx's own default is 5 s too):
    a create sent on a connection the server is closing fails, and cannot be retried."""
    pool = Dintero(**CREDENTIALS)._caller.http._transport._pool  # type: ignore[attr-defined]
    assert pool._keepalive_expiry < 5.0
    assert pool._max_connections == 100


@pytest.mark.parametrize("value", ["yes", "no", 1, None])
def test_allow_insecure_http_must_be_a_bool(value: object) -> None:
    """A truthy "no" once turned it on silently (or a "yes" off): now neither is accepted."""
    with pytest.raises(InvalidInputError, match="allow_insecure_http must be True or False"):
        Dintero(**CREDENTIALS, base_url="http://10.0.0.5/v1", allow_insecure_http=value)
