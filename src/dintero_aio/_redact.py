"""Credential-free copies of what errors carry, so an error can be logged or reported whole.

An error tracker serialises an exception's attributes and its `__cause__`/`__context__` chain.
The live `httpx` objects reachable from there hold credentials: the request's `Authorization`
header (the Bearer token, or `Basic base64(client_id:secret)` on the token endpoint, from which
the secret can be recovered) and, in some bodies, an `access_token` or a new `client_secret`.
Errors therefore carry detached copies with those taken out; the evidence a user needs (status,
response headers, body, method, URL) stays.
"""

from __future__ import annotations

import contextlib
import re

import httpx

MASK = "**********"
_CREDENTIAL_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
#: A JSON string member holding a credential, also in a truncated body (the closing quote may
#: be missing). The value may contain escaped quotes.
_SECRET_MEMBER = re.compile(
    rb'("(?:client_secret|access_token|refresh_token|id_token|mfa_token)"\s*:\s*)'
    rb'"(?:[^"\\]|\\.)*"?'
)


def request(original: httpx.Request) -> httpx.Request:
    """`original` without credential headers and without its body."""
    headers = [(k, v) for k, v in original.headers.raw if k.lower() not in _CREDENTIAL_HEADERS]
    return httpx.Request(original.method, original.url, headers=headers)


def response(original: httpx.Response) -> httpx.Response:
    """A read `original`, detached from its connection, with credential members masked."""
    try:
        sent = request(original.request)
    except RuntimeError:  # a response built without a request (tests, custom transports)
        sent = None
    body = _SECRET_MEMBER.sub(rb'\1"' + MASK.encode() + rb'"', original.content)
    headers = [(k, v) for k, v in original.headers.raw if k.lower() != b"content-encoding"]
    return httpx.Response(original.status_code, headers=headers, content=body, request=sent)


def chain(error: BaseException) -> None:
    """Replace the request of every httpx exception chained to `error` by a clean copy."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        if isinstance(exc, httpx.RequestError):
            with contextlib.suppress(RuntimeError):  # raised before a request existed
                exc.request = request(exc.request)
        pending += [exc.__cause__, exc.__context__]
