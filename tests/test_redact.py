"""The credential-free copies that errors carry: what is taken out and what evidence stays."""

from __future__ import annotations

import gzip

import httpx
import pytest

from dintero_aio import APIConnectionError
from dintero_aio import _redact as redact

URL = "https://api.dintero.com/v1/accounts/T12345678/auth/clients"
CREDENTIALS = {
    "Authorization": "Bearer secret-token",
    "Proxy-Authorization": "Basic cHJveHk6cHc=",
    "Cookie": "session=secret",
}


def sent(**headers: str) -> httpx.Request:
    return httpx.Request("POST", URL, headers={**CREDENTIALS, **headers}, content=b'{"a": 1}')


def test_a_request_copy_keeps_method_url_and_other_headers_only() -> None:
    copy = redact.request(sent(**{"User-Agent": "dintero-aio/1", "X-Trace": "t1"}))
    assert (copy.method, copy.url) == ("POST", httpx.URL(URL))
    assert copy.headers["user-agent"] == "dintero-aio/1"
    assert copy.headers["x-trace"] == "t1"
    assert not {"authorization", "proxy-authorization", "cookie"} & set(copy.headers.keys())
    assert copy.content == b""


def test_a_response_copy_masks_credentials_and_keeps_the_evidence() -> None:
    body = b'{"id": "x", "client_secret": "s3cr\\"et", "access_token": "tok", "name": "pos"}'
    original = httpx.Response(
        201,
        headers={"X-Request-Id": "req-1", "Content-Encoding": "gzip"},
        content=gzip.compress(body),
        request=sent(),
    )
    original.read()
    copy = redact.response(original)
    assert copy.status_code == 201
    assert copy.headers["x-request-id"] == "req-1"
    assert "content-encoding" not in copy.headers  # the copy holds the decoded body
    assert copy.content == (
        b'{"id": "x", "client_secret": "**********", "access_token": "**********", "name": "pos"}'
    )
    assert "authorization" not in copy.request.headers
    assert copy.request.url == URL


def test_a_truncated_secret_is_masked_too() -> None:
    original = httpx.Response(200, content=b'{"client_secret": "abc')
    assert redact.response(original).content == b'{"client_secret": "**********"'


def test_a_member_whose_name_is_not_json_is_kept_as_it_is() -> None:
    """A name no JSON reader could decode (a bad escape) is no secret member: the evidence stays
    byte for byte, and the members around it are still masked."""
    body = b'{"bad\\q": "kept", "client_secret": "new-secret", "x": "\\u00zz"}'
    copy = redact.response(httpx.Response(400, content=body, request=sent()))
    assert copy.content == body.replace(b"new-secret", redact.MASK.encode())


def test_a_response_without_a_request_stays_without_one() -> None:
    copy = redact.response(httpx.Response(500, content=b"boom"))
    assert copy.content == b"boom"
    with pytest.raises(RuntimeError):
        _ = copy.request


def with_request(exc: httpx.RequestError) -> httpx.RequestError:
    exc.request = sent(**{"User-Agent": "dintero-aio/1"})
    return exc


def test_chain_cleans_every_request_in_causes_and_contexts_even_in_a_cycle() -> None:
    error = APIConnectionError("GET /x: ReadError")
    cause = with_request(httpx.ReadError("reset"))
    context = with_request(httpx.ConnectError("refused"))
    deeper = with_request(httpx.ReadTimeout("slow"))
    no_request = httpx.WriteError("no request was ever attached")
    error.__cause__ = cause
    error.__context__ = context
    context.__context__ = deeper
    cause.__context__ = no_request
    no_request.__context__ = error  # a cycle must end the walk, not loop

    redact.error(error)

    for exc in (cause, context, deeper):
        assert "authorization" not in exc.request.headers
        assert "cookie" not in exc.request.headers
        assert exc.request.headers["user-agent"] == "dintero-aio/1"
        assert exc.request.url == URL
