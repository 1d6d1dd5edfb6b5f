"""What a caller is told about each bad argument: the exact check and the exact words."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from dintero_aio_api.models import ClientInfo, GrantType

from dintero_aio import Dintero, InvalidInputError, _timeouts
from dintero_aio import _inputs as inputs

SOME_UUID = uuid.UUID("7f7f7f7f-0000-4000-8000-000000000000")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("X1", "'X1'"),
        ("T1\n2", "another value"),  # not printable: not quoted
        (5, "another value"),
        ("P" + "9" * 100, repr("P" + "9" * 100)[:80]),  # long text is cut at 80 characters
    ],
)
def test_a_bad_account_id_is_quoted_only_when_printable(value: object, shown: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        inputs.account_id(value)
    assert str(info.value) == (
        f"account_id must be 'P' or 'T' followed by 3 or 8 digits, e.g. 'T12345678'; got {shown}"
    )


def test_a_grant_names_its_client_by_uuid_whatever_the_caller_passes() -> None:
    assert inputs.granted_client(ClientInfo(id=SOME_UUID)) == str(SOME_UUID)
    assert inputs.granted_client(SOME_UUID) == str(SOME_UUID)
    assert inputs.granted_client(str(SOME_UUID).upper()) == str(SOME_UUID)
    with pytest.raises(InvalidInputError) as info:
        inputs.granted_client("pos-1")
    assert str(info.value) == (
        "client_id must be the client's id (a UUID) or the client object itself "
        "(ClientInfo, ClientWithSecret), not the client's client_id; got 'pos-1'"
    )
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("admin:accounts", "scopes must be a list of strings, e.g. ['admin:accounts'], got str"),
        (b"x", "scopes must be a list of strings, e.g. ['admin:accounts'], got bytes"),
        (None, "scopes must be a list of strings, e.g. ['admin:accounts'], got NoneType"),
        ([], "scopes must name at least one scope"),
        (["a", ""], "scopes must contain only non-empty strings"),
        (["a", "  "], "scopes must contain only non-empty strings"),
        (["a", 1], "scopes must contain only non-empty strings"),
        (["a\ud800"], "scopes is not valid text (it cannot be encoded as UTF-8)"),
    ],
)
def test_bad_scopes(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        inputs.scopes(value)
    assert str(info.value) == message


def test_good_scopes_come_back_as_a_list() -> None:
    assert inputs.scopes(("a", "b")) == ["a", "b"]
    assert inputs.scopes(["admin:accounts"]) == ["admin:accounts"]


def test_grant_types() -> None:
    assert inputs.grant_type("any") is GrantType.ANY
    assert inputs.grant_type(GrantType.PASSWORD) is GrantType.PASSWORD
    assert inputs.grant_type("client_credentials") is GrantType.CLIENT_CREDENTIALS
    for bad, shown in (("bogus", "'bogus'"), (5, "another value"), ("ANY", "'ANY'")):
        with pytest.raises(InvalidInputError) as info:
            inputs.grant_type(bad)
        assert str(info.value) == (
            f"type must be one of any, authorization_code, client_credentials, password; "
            f"got {shown}"
        )


def test_merchant_account_ids() -> None:
    assert inputs.merchant_account_id("T00000002", "P00000001") == "T00000002"
    assert inputs.merchant_account_id("P00000002", "P00000001") == "P00000002"
    with pytest.raises(InvalidInputError) as info:
        inputs.merchant_account_id("T123", "P00000001")  # 3 digits: an oid, not a merchant
    assert str(info.value) == (
        "a merchant account id must be 'P' or 'T' followed by 8 digits, e.g. 'T12345678'; "
        "got 'T123'"
    )
    with pytest.raises(InvalidInputError) as info:
        inputs.merchant_account_id("P00000001", "P00000001")
    assert str(info.value) == (
        "P00000001 is this instance's own account; use the instance itself, not for_account()"
    )


def test_ids_of_clients_and_grants() -> None:
    assert inputs.client_uuid(str(SOME_UUID)) == SOME_UUID
    assert inputs.client_uuid(SOME_UUID) is SOME_UUID
    with pytest.raises(InvalidInputError) as info:
        inputs.client_uuid("nope", "grant")
    assert str(info.value) == "a grant id must be a UUID, got 'nope'"
    with pytest.raises(InvalidInputError) as info:
        inputs.client_uuid(42)
    assert str(info.value) == "a client id must be a UUID, got another value"


def test_optional_text_and_string_lists_name_the_wrong_type() -> None:
    with pytest.raises(InvalidInputError) as info:
        inputs.optional_text("name", 42)
    assert str(info.value) == "name must be a string, got int"
    with pytest.raises(InvalidInputError) as info:
        inputs.string_list("callbacks", "https://a")
    assert str(info.value) == "callbacks must be a list of strings, got str"


def test_an_audience_may_have_a_query_but_must_be_https() -> None:
    assert inputs.audience("https://api.dintero.com/v1/accounts/T1?x=1") == (
        "https://api.dintero.com/v1/accounts/T1?x=1"
    )
    with pytest.raises(InvalidInputError) as info:
        inputs.audience("http://example.com/v1")
    assert str(info.value) == (
        "audience must use https:// (http:// only to a loopback host such as 127.0.0.1)"
    )


def test_the_smallest_body_limit_is_one_byte() -> None:
    assert inputs.byte_count("max_response_bytes", 1) == 1
    with pytest.raises(InvalidInputError, match="max_response_bytes"):
        inputs.byte_count("max_response_bytes", 0)


def test_from_env_lists_every_unknown_setting() -> None:
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env(timout=1, retries=2)  # type: ignore[call-arg]
    assert str(info.value) == "unknown setting(s): retries, timout"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: inputs.audience(5), "audience must be a non-empty string (an https URL)"),
        (
            lambda: inputs.base_url("https://a\ud800"),
            "base_url is not valid text (it cannot be encoded as UTF-8)",
        ),
        (lambda: inputs.base_url("https://xn--a.com"), "base_url is not a valid URL"),
        (
            lambda: inputs.base_url("https://example.com/v1?x=1"),
            "base_url must be a plain URL: a host, no user:password@, no query or fragment",
        ),
        (
            lambda: inputs.audience("https://u:p@example.com/v1"),
            "audience must be a plain URL: a host, no user:password@",
        ),
        (
            lambda: inputs.base_url("http://example.com/v1"),
            "base_url must use https:// (http:// only to a loopback host such as 127.0.0.1, "
            "or allow_insecure_http=True for a trusted network)",
        ),
        (
            lambda: _timeouts.seconds("RetryPolicy.initial_delay", -1, zero_ok=True),
            "RetryPolicy.initial_delay must be a positive or zero number of seconds, "
            "at most one week",
        ),
        (
            lambda: _timeouts.seconds("timeout", 0),
            "timeout must be a positive number of seconds, at most one week",
        ),
        (
            lambda: _timeouts.timeout(-1),
            "timeout must be a positive number of seconds, at most one week",
        ),
    ],
)
def test_url_and_seconds_messages(call: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        call()
    assert str(info.value) == message


def test_edges_of_urls_and_seconds() -> None:
    assert inputs.base_url("https://example.com/apiX/") == "https://example.com/apiX"
    assert _timeouts.seconds("timeout", 7 * 24 * 3600) == 7 * 24 * 3600.0  # one week is allowed
    assert _timeouts.seconds("RetryPolicy.initial_delay", 0, zero_ok=True) == 0.0


def test_dintero_names_each_bad_setting() -> None:
    good = {"account_id": "T12345678", "client_id": "c", "client_secret": "s"}
    # The default per attempt:
    assert Dintero(**good)._caller.timeouts.timeout == httpx.Timeout(30.0)
    for bad, message in (
        ({"client_id": ""}, "client_id must be a non-empty string"),
        ({"client_secret": " "}, "client_secret must be a non-empty string"),
        ({"audience": ""}, "audience must be a non-empty string"),
        ({"max_response_bytes": 0}, "max_response_bytes must be a positive whole number of bytes"),
    ):
        with pytest.raises(InvalidInputError) as info:
            Dintero(**{**good, **bad})
        assert str(info.value) == message
