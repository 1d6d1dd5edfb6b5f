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
import json
import re

import httpx

MASK = "**********"
_CREDENTIAL_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"cookie"})
_SECRET_NAMES = frozenset(
    {"client_secret", "access_token", "refresh_token", "id_token", "mfa_token"}
)
#: A JSON string member, also in a truncated body (the value's closing quote may be missing);
#: the name and value may contain escapes. The name is decoded before it is compared, so that
#: `"client\u005fsecret"` (the same member to any JSON reader) is masked too.
_MEMBER = re.compile(rb'"((?:[^"\\]|\\.)*)"(\s*:\s*)"(?:[^"\\]|\\.)*"?')
#: Marks a response that is already a redacted copy, so the boundary never copies twice.
_REDACTED = "dintero_aio.redacted"


def request(original: httpx.Request) -> httpx.Request:
    """`original` without credential headers and without its body."""
    headers = [(k, v) for k, v in original.headers.raw if k.lower() not in _CREDENTIAL_HEADERS]
    return httpx.Request(original.method, original.url, headers=headers)


def response(original: httpx.Response) -> httpx.Response:
    """A read `original`, detached from its connection, with credential members masked."""
    if original.extensions.get(_REDACTED):
        return original
    try:
        sent = request(original.request)
    except RuntimeError:  # a response built without a request (tests, custom transports)
        sent = None
    body = _MEMBER.sub(_mask, original.content)
    headers = [(k, v) for k, v in original.headers.raw if k.lower() != b"content-encoding"]
    return httpx.Response(
        original.status_code,
        headers=headers,
        content=body,
        request=sent,
        extensions={_REDACTED: True},
    )


def _mask(member: re.Match[bytes]) -> bytes:
    try:
        name = json.loads(b'"' + member[1] + b'"')
    except ValueError:
        return member[0]
    if name not in _SECRET_NAMES:
        return member[0]
    return b'"' + member[1] + b'"' + member[2] + b'"' + MASK.encode() + b'"'


def error(exc: BaseException) -> None:
    """Take every credential out of `exc` and everything chained to it: the responses errors
    carry become redacted copies, and httpx exceptions' requests lose their credential headers.
    Done once, at the call's boundary (`_calls.Caller.guard`)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        carried = getattr(current, "response", None)
        if isinstance(carried, httpx.Response) and not isinstance(current, httpx.HTTPError):
            current.response = response(carried)  # type: ignore[attr-defined]
        if isinstance(current, httpx.RequestError):
            with contextlib.suppress(RuntimeError):  # raised before a request existed
                current.request = request(current.request)
        pending += [current.__cause__, current.__context__]
