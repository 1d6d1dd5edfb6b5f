"""A hostile HTTP server on loopback, and hypothesis strategies for how it misbehaves.

`HostileServer` is a raw asyncio socket server (no HTTP library between it and the SDK) that runs
in the test's own event loop. It reads each request fully (request line, headers, Content-Length
body), records it, and answers the operation under test with a scripted `Behaviour`: any status
line, any headers (`Retry-After`, `Content-Length`, `Content-Encoding`, chunking, duplicates,
latin-1 bytes), any body bytes, delays, resets (SO_LINGER 0) and closes at any point. Every other
request gets a valid answer, so the token fetch succeeds when the API operation is under test and
vice versa; once the script is used up, the operation under test is answered validly too.

`scripts(operation)` draws a script of one to three behaviours for one operation
("token", "create", "list", "get", "delete", "rotate").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import email.utils
import functools
import json
import os
import re
import secrets
import socket
import struct
import types
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

OPERATIONS = ("token", "create", "list", "get", "delete", "rotate")
#: The operations Dintero has no idempotency key for: never sent twice if maybe processed.
NON_IDEMPOTENT = ("create", "rotate")
#: Statuses with which a server says "not processed" (a 401 makes the SDK refresh and replay).
REFUSALS = frozenset({401, 429, 503})
#: A decoded body at least this large must not become a model nor be kept by an error: Dintero's
#: bodies are kilobytes, so any sane response-size limit is far below it.
BOMB_SIZE = 24 * 1024 * 1024
#: A delay that outlasts the per-attempt timeout the tests use; SHORT ones stay well below it.
LONG_DELAY = 0.3

_TOKEN_PATH = re.compile(r"/accounts/[^/]+/auth/token$")
_CLIENTS_PATH = re.compile(r"/accounts/[^/]+/auth/clients$")
_CLIENT_PATH = re.compile(r"/accounts/[^/]+/auth/clients/[^/]+$")
_ROTATE_PATH = re.compile(r"/accounts/[^/]+/auth/clients/[^/]+/rotate-secret$")


def new_secret(prefix: str) -> str:
    """A unique secret-like string; its whole text is what a leak check looks for."""
    return f"{prefix}{secrets.token_hex(12)}"


def operation_of(method: str, path: str) -> str | None:
    path = path.split("?", 1)[0]
    if method == "POST" and _TOKEN_PATH.search(path):
        return "token"
    if _CLIENTS_PATH.search(path):
        return {"POST": "create", "GET": "list"}.get(method)
    if _CLIENT_PATH.search(path):
        return {"GET": "get", "DELETE": "delete"}.get(method)
    if method == "POST" and _ROTATE_PATH.search(path):
        return "rotate"
    return None


# --- valid bodies ---------------------------------------------------------------------------


def client_info(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "pos",
        "client_id": "pos-1",
        "callbacks": ["https://example.com/cb"],
        "created_at": "2026-11-29T12:00:00Z",
    }
    body.update(fields)
    return body


def valid_body(operation: str, secret: str) -> Any:
    """The spec's 200 body for `operation`; `secret` is the token or client secret it carries."""
    if operation == "token":
        return {"access_token": secret, "token_type": "Bearer", "expires_in": 3600}
    if operation in NON_IDEMPOTENT:
        return client_info(client_secret=secret)
    if operation == "list":
        return [client_info(), client_info(name="other")]
    return client_info()


# --- behaviours -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one request. `labels` name every drawn choice, for reports."""

    status: int
    status_line: bytes  # without CRLF
    headers: tuple[tuple[bytes, bytes], ...]
    payload: bytes  # the body after Content-Encoding, before transfer framing
    framing: str  # length | short | long | none | bogus | double | chunked | chunked-bad | te+cl
    read: str  # full | line: how much of the request is read before acting
    delay: float  # before the status line
    body_delay: float  # between the headers and the body
    #: answer | close | reset | hang | {close,reset}-after-headers | {close,reset}-mid-body
    ending: str
    keep_alive: bool
    #: True when the answer is a well-formed HTTP/1.x message that any client reads as sent.
    clean: bool
    #: True when `payload` decodes to the spec's valid body and nothing else is odd.
    pristine: bool
    #: Tokens or client secrets the body carries (leak checks look for them).
    secrets: tuple[str, ...]
    decoded_size: int  # the body's size after Content-Encoding is undone (when it decodes)
    labels: tuple[str, ...] = field(default=())

    @property
    def status_delivered(self) -> bool:
        """The client could read the status before its per-attempt timeout."""
        return (
            self.ending not in ("close", "reset", "hang")
            and self.delay < LONG_DELAY
            and bool(re.fullmatch(rb"HTTP/1\.[01] [0-9]{3}( .*)?", self.status_line, re.S))
        )

    def describe(self) -> str:
        return f"{self.status_line!r} " + ", ".join(self.labels)


def encode_chunks(data: bytes, sizes: Iterable[int]) -> bytes:
    out, at = [], 0
    for size in sizes:
        if at >= len(data):
            break
        piece = data[at : at + max(size, 1)]
        out.append(b"%x\r\n%s\r\n" % (len(piece), piece))
        at += len(piece)
    if at < len(data):
        out.append(b"%x\r\n%s\r\n" % (len(data) - at, data[at:]))
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def render(behaviour: Behaviour) -> tuple[bytes, bytes]:
    """The response head (status line, headers, blank line) and the body as framed on the wire."""
    headers = list(behaviour.headers)
    payload = behaviour.payload
    body = payload
    framing = behaviour.framing
    if framing == "length":
        headers.append((b"Content-Length", b"%d" % len(payload)))
    elif framing == "short":
        headers.append((b"Content-Length", b"%d" % max(0, len(payload) // 2)))
    elif framing == "long":
        headers.append((b"Content-Length", b"%d" % (len(payload) + 17)))
    elif framing == "bogus":
        headers.append((b"Content-Length", b"twelve"))
    elif framing == "double":
        headers.append((b"Content-Length", b"%d" % len(payload)))
        headers.append((b"Content-Length", b"%d" % (len(payload) + 1)))
    elif framing in ("chunked", "te+cl"):
        headers.append((b"Transfer-Encoding", b"chunked"))
        if framing == "te+cl":
            headers.append((b"Content-Length", b"%d" % len(payload)))
        body = encode_chunks(payload, [7, 1, 64, 1000])
    elif framing == "chunked-bad":
        headers.append((b"Transfer-Encoding", b"chunked"))
        body = b"zz\r\n" + payload + b"\r\n0\r\n\r\n"
    if not behaviour.keep_alive:
        headers.append((b"Connection", b"close"))
    head = behaviour.status_line + b"\r\n"
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    return head, body


# --- strategies -----------------------------------------------------------------------------

_REASONS = {200: b"OK", 429: b"Too Many Requests", 500: b"Internal Server Error"}
COMMON_STATUSES = [
    200, 200, 200, 201, 204, 299, 302, 304, 400, 401, 403, 404, 409, 429, 429,
    500, 501, 502, 503, 503, 504, 505, 599, 999, 100, 101,
]  # fmt: skip


def _http_date(seconds_from_now: float) -> bytes:
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds_from_now)
    return email.utils.format_datetime(when, usegmt=True).encode()


@st.composite
def retry_after(draw: st.DrawFn) -> bytes:
    """A `Retry-After` value: seconds, odd numbers, HTTP-dates (absurd ones too), garbage."""
    return draw(
        st.sampled_from(
            [
                b"0",
                b"0.01",
                b"1e-3",
                b"-1",
                b"-1e9",
                b"3600",
                b"1e9",
                b"1" + b"0" * 40,
                b"1e400",
                b"-1e400",
                b"inf",
                b"nan",
                b"NaN",
                b"0x10",
                b"",
                b" ",
                b"soon",
                b"\xff\xfe",
                b"Mon, 999999999999999999999 Jan 2024 12:00:00 GMT",
                b"Mon, 01 Jan 99999 12:00:00 GMT",
                b"Mon, 01 Jan 0000 12:00:00 GMT",
                b"Mon, 01 Jan 2024 99:99:99 GMT",
                b"Mon, 01 Jan 2024 12:00:00 +9999",
                b"Mon, 01 Jan 2024 12:00:00 -0000",
                b"Fri, 31 Dec 9999 23:59:59 GMT",
                b"Thu, 01 Jan 1970 00:00:00 GMT",
                b"Sun, 06 Nov 1994 08:49:37 GMT",
                b"Sunday, 06-Nov-94 08:49:37 GMT",
                b"Sun Nov  6 08:49:37 1994",
                b"Mon, 01 Jan 2024",
            ]
        )
        | st.builds(_http_date, st.sampled_from([-60.0, 0.0, 0.02, 0.2, 3600.0]))
        | st.floats(allow_nan=True, allow_infinity=True).map(lambda f: repr(f).encode())
        | st.integers(min_value=-(10**30), max_value=10**30).map(lambda i: b"%d" % i)
    )


@st.composite
def extra_headers(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], list[str], bool]:
    """Headers besides framing and encoding: (headers, labels, clean)."""
    headers: list[tuple[bytes, bytes]] = []
    labels: list[str] = []
    clean = True
    content_type = draw(
        st.sampled_from(
            [
                b"application/json",
                b"application/json",
                b"application/json; charset=utf-8",
                b"application/json; charset=latin-1",
                b"application/json; charset=no-such-codec",
                b"text/html",
                b"application/problem+json",
                b"",
                None,
            ]
        )
    )
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
        if content_type != b"application/json":
            labels.append(f"Content-Type {content_type!r}")
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        value = draw(retry_after())
        headers.append((b"Retry-After", value))
        labels.append(f"Retry-After {value!r}")
    odd = draw(
        st.lists(
            st.sampled_from(
                [
                    (b"X-Latin-1", b"caf\xe9 \xff\xfe"),
                    (b"Server", b"\xe2\x98\x83 snowman"),
                    (b"Content-Type", b"text/plain"),  # a second Content-Type
                    (b"Set-Cookie", b"a=b; Path=/"),
                    (b"Set-Cookie", b"\xff=\xfe"),
                    (b"Location", b"http://127.0.0.1:1/elsewhere"),
                    (b"WWW-Authenticate", b'Bearer error="invalid_token"'),
                    (b"X-Long", b"x" * 8000),
                    (b"X-Empty", b""),
                ]
            ),
            max_size=2,
        )
    )
    for name, value in odd:
        headers.append((name, value))
        labels.append(f"header {name.decode()}: {value[:20]!r}")
        if name in (b"X-Latin-1", b"Server", b"Set-Cookie", b"X-Long"):
            clean = False  # legal obs-text or size, but not every client reads it the same
    if draw(st.booleans()) and draw(st.booleans()):
        name = draw(st.sampled_from([b"Bad Header", b"X-Bad\x00", b"X:Colon", b"\xff"]))
        headers.append((name, b"1"))
        labels.append(f"invalid header name {name!r}")
        clean = False
    return headers, labels, clean


@functools.cache
def _bomb(operation: str, how: str) -> bytes:
    """A valid body after BOMB_SIZE bytes of JSON whitespace, gzip- or deflate-compressed."""
    body = b" " * BOMB_SIZE + json.dumps(valid_body(operation, "bomb")).encode()
    if how == "gzip":
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    else:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 15)
    return compressor.compress(body) + compressor.flush()


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@st.composite
def body(draw: st.DrawFn, operation: str, status: int) -> tuple[bytes, str, tuple[str, ...], bool]:
    """Body bytes before Content-Encoding: (bytes, kind, secrets it carries, spec-valid)."""
    secret = new_secret("hostile-tok-" if operation == "token" else "hostile-created-")
    valid = valid_body(operation, secret)
    kinds = [
        "valid",
        "valid",
        "error",
        "wrong-types",
        "missing-field",
        "nested",
        "huge-number",
        "non-utf8",
        "empty",
        "truncated",
        "bytes",
        "control-chars",
    ]
    kind = draw(st.sampled_from(kinds))
    if kind == "valid":
        return json.dumps(valid).encode(), kind, (secret,), True
    if kind == "error":
        error = draw(
            st.sampled_from(
                [
                    {"error": {"code": "x", "message": "nope"}},
                    {"error": {"message": "m" * 10_000}},
                    {"error": "string"},
                    {"error": {"code": 5, "message": ["x"]}},
                    {"error": None},
                    {"error": {"code": "\u0000\ud800", "message": "\u202e"}},
                    [],
                    "error",
                ]
            )
        )
        return json.dumps(error).encode(), kind, (), False
    if kind == "wrong-types":
        bad = json.loads(json.dumps(valid))
        target = bad[0] if isinstance(bad, list) else bad
        key = draw(st.sampled_from(sorted(target)))
        target[key] = draw(st.sampled_from([42, None, [], {}, 1.5, True, -1, "x"]))
        return json.dumps(bad).encode(), f"wrong-types ({key})", (secret,), False
    if kind == "missing-field":
        bad = json.loads(json.dumps(valid))
        target = bad[0] if isinstance(bad, list) else bad
        del target[draw(st.sampled_from(sorted(target)))]
        return json.dumps(bad).encode(), kind, (secret,), False
    if kind == "nested":
        depth = draw(st.sampled_from([1_000, 1_500, 5_000, 100_000]))
        inner = draw(st.sampled_from(["array", "error", "object"]))
        if inner == "array":
            data = _nested(depth)
        elif inner == "error":
            data = b'{"error": ' + _nested(depth) + b"}"
        else:
            data = b'{"a":' * depth + b"1" + b"}" * depth
        return data, f"nested {inner} x{depth}", (), False
    if kind == "huge-number":
        number = draw(st.sampled_from([b"1" + b"0" * 309, b"1e400", b"-1e400", b"9" * 5000]))
        if operation == "token":
            data = json.dumps({**valid, "expires_in": 0}).encode()
            data = data.replace(b'"expires_in": 0', b'"expires_in": ' + number)
        else:
            data = b'{"error": {"code": ' + number + b', "message": "x"}, "id": ' + number + b"}"
        return data, f"huge number {number[:8]!r}...", (secret,), False
    if kind == "non-utf8":
        data = json.dumps(valid).encode().replace(b"pos", b"p\xe9s").replace(b"Bearer", b"B\xff")
        return b"\xff\xfe" + data if draw(st.booleans()) else data, kind, (secret,), False
    if kind == "empty":
        return b"", kind, (), False
    if kind == "truncated":
        data = json.dumps(valid).encode()
        cut = draw(st.integers(min_value=0, max_value=max(len(data) - 1, 0)))
        return data[:cut], kind, (secret,), False
    if kind == "control-chars":
        # An access token / secret with CR, LF or NUL: it must never be quoted by an error.
        ctl = draw(st.sampled_from(["\n", "\r\n", "\x00", "\r", " "]))
        data = valid_body(operation, secret + ctl)
        return json.dumps(data).encode(), f"secret with {ctl!r}", (secret,), False
    return draw(st.binary(max_size=64)), kind, (), False


@st.composite
def status_line(draw: st.DrawFn) -> tuple[int, bytes, list[str]]:
    status = draw(st.sampled_from(COMMON_STATUSES) | st.integers(min_value=100, max_value=999))
    labels: list[str] = []
    version = draw(
        st.sampled_from([b"HTTP/1.1"] * 6 + [b"HTTP/1.0", b"HTTP/2", b"HTTP/1.1x", b"ICY"])
    )
    code = b"%d" % status
    if draw(st.integers(min_value=0, max_value=15)) == 0:
        code = draw(st.sampled_from([b"20", b"2000", b"abc", b"-200", b" 200"]))
        labels.append(f"status {code!r}")
    reason = draw(
        st.sampled_from(
            [_REASONS.get(status, b"Whatever"), None, b"", b"\xe9t\xe9", b"OK" * 500, b"OK\x00"]
        )
    )
    line = version + b" " + code + (b"" if reason is None else b" " + reason)
    return status, line, labels


@st.composite
def behaviour(draw: st.DrawFn, operation: str) -> Behaviour:
    """One answer to `operation`, drawn from everything a server or proxy can get wrong."""
    status, line, labels = draw(status_line())
    clean = not labels and bool(re.fullmatch(rb"HTTP/1\.[01] [0-9]{3}( [\t !-~]*)?", line))
    clean = clean and status >= 200 and status not in (204, 304)
    data, kind, carried, spec_valid = draw(body(operation, status))
    labels.append(f"body {kind}")
    headers, header_labels, headers_clean = draw(extra_headers())
    labels += header_labels
    clean = clean and headers_clean

    decoded_size = len(data)
    encoding = draw(
        st.sampled_from(
            ["none"] * 6 + ["gzip", "deflate", "raw-deflate", "identity", "br", "bogus", "lie"]
            + ["bomb", "gzip,gzip"]
        )
    )  # fmt: skip
    payload = data
    if encoding == "gzip":
        headers.append((b"Content-Encoding", b"gzip"))
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
        payload = compressor.compress(data) + compressor.flush()
    elif encoding == "gzip,gzip":
        headers.append((b"Content-Encoding", b"gzip, gzip"))
        once = zlib.compressobj(6, zlib.DEFLATED, 31)
        inner = once.compress(data) + once.flush()
        twice = zlib.compressobj(6, zlib.DEFLATED, 31)
        payload = twice.compress(inner) + twice.flush()
    elif encoding == "deflate":
        headers.append((b"Content-Encoding", b"deflate"))
        payload = zlib.compress(data)
    elif encoding == "raw-deflate":
        headers.append((b"Content-Encoding", b"deflate"))
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = compressor.compress(data) + compressor.flush()
    elif encoding in ("identity", "br", "bogus"):
        headers.append((b"Content-Encoding", encoding.encode()))
        clean = clean and encoding == "identity"
    elif encoding == "lie":  # says gzip, sends plain bytes
        headers.append((b"Content-Encoding", b"gzip"))
        clean = False
    elif encoding == "bomb":
        how = draw(st.sampled_from(["gzip", "deflate"]))
        headers.append((b"Content-Encoding", how.encode()))
        payload = _bomb(operation, how)
        data, carried, spec_valid, decoded_size = b"", (), True, BOMB_SIZE
        clean = False
        labels[labels.index(f"body {kind}")] = f"body {how} bomb ({BOMB_SIZE >> 20} MiB)"
    if encoding != "none":
        labels.append(f"Content-Encoding {encoding}")

    framing = draw(
        st.sampled_from(
            ["length"] * 8
            + ["chunked"] * 2
            + ["short", "long", "none", "bogus", "double", "chunked-bad", "te+cl"]
        )
    )
    if framing != "length":
        labels.append(f"framing {framing}")
    if framing not in ("length", "chunked", "none"):
        clean = False

    ending = draw(
        st.sampled_from(
            ["answer"] * 16
            + ["close", "reset", "hang", "close-after-headers", "reset-after-headers"]
            + ["close-mid-body", "reset-mid-body"]
        )
    )
    if ending != "answer":
        labels.append(f"ending {ending}")
        clean = False
    read = "line" if draw(st.integers(min_value=0, max_value=11)) == 0 else "full"
    if read == "line":
        labels.append("request read only to its first line")
        clean = False
    delay = draw(st.sampled_from([0.0] * 12 + [0.001, 0.02, LONG_DELAY]))
    body_delay = draw(st.sampled_from([0.0] * 16 + [0.02, LONG_DELAY]))
    if delay:
        labels.append(f"delay {delay}s")
    if body_delay:
        labels.append(f"body delay {body_delay}s")
    if delay >= LONG_DELAY or body_delay >= LONG_DELAY:
        clean = False
    keep_alive = framing != "none" and draw(st.booleans())
    pristine = (
        clean
        and spec_valid
        and status == 200
        and line == b"HTTP/1.1 200 OK"
        and len(labels) == 1
        and encoding in ("none", "gzip", "deflate", "identity")
    )
    return Behaviour(
        status=status,
        status_line=line,
        headers=tuple(headers),
        payload=payload,
        framing=framing,
        read=read,
        delay=delay,
        body_delay=body_delay,
        ending=ending,
        keep_alive=keep_alive,
        clean=clean,
        pristine=pristine,
        secrets=carried,
        decoded_size=decoded_size,
        labels=tuple(labels),
    )


def answer(operation: str, **changes: Any) -> Behaviour:
    """A well-formed 200 with the spec's body for `operation`, altered by `changes`: for a test
    that needs one particular misbehaviour rather than drawn ones."""
    secret = new_secret("hostile-tok-" if operation == "token" else "hostile-created-")
    payload = json.dumps(valid_body(operation, secret)).encode()
    fields: dict[str, Any] = {
        "status": 200,
        "status_line": b"HTTP/1.1 200 OK",
        "headers": ((b"Content-Type", b"application/json"),),
        "payload": payload,
        "framing": "length",
        "read": "full",
        "delay": 0.0,
        "body_delay": 0.0,
        "ending": "answer",
        "keep_alive": True,
        "clean": True,
        "pristine": True,
        "secrets": (secret,),
        "decoded_size": len(payload),
    }
    return Behaviour(**{**fields, **changes})


def bomb(operation: str, how: str = "gzip") -> Behaviour:
    """A 200 whose body inflates to BOMB_SIZE bytes of JSON whitespace and the spec's body."""
    return answer(
        operation,
        headers=((b"Content-Type", b"application/json"), (b"Content-Encoding", how.encode())),
        payload=_bomb(operation, how),
        secrets=(),
        decoded_size=BOMB_SIZE,
        clean=False,
        pristine=False,
    )


def scripts(operation: str) -> st.SearchStrategy[list[Behaviour]]:
    """One to three behaviours: the answers to the first attempts at `operation`."""
    return st.lists(behaviour(operation), min_size=1, max_size=3)


# --- the server -----------------------------------------------------------------------------


@dataclass
class Received:
    """One request as the server saw it."""

    connection: int
    operation: str | None
    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    fully_read: bool
    behaviour: Behaviour | None = None  # None: answered validly (or not answered at all)


class HostileServer:
    """Answers the `target` operation by `script`, everything else validly; records requests."""

    def __init__(self, target: str, script: list[Behaviour], port: int = 0) -> None:
        self.target = target
        self.script = list(script)
        self.received: list[Received] = []
        #: Every token and client secret this server handed out (valid answers and scripted).
        self.issued: list[str] = [s for b in script for s in b.secrets]
        self.port = port  # 0: any free port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._connections = 0
        self._attempts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        return set(self._tasks)

    def attempts(self, operation: str) -> list[Received]:
        return [r for r in self.received if r.operation == operation]

    async def __aenter__(self) -> HostileServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self._connections += 1
        connection = self._connections
        try:
            while await self._serve_one(connection, reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _serve_one(
        self, connection: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read and answer one request; False once the connection is done."""
        line = await reader.readline()
        if not line:
            return False
        method, _, rest = line.decode("latin-1").partition(" ")
        path = rest.rsplit(" ", 1)[0]
        operation = operation_of(method, path)
        record = Received(connection, operation, method, path, [], b"", fully_read=False)
        self.received.append(record)
        behaviour = None
        if operation == self.target and self._attempts < len(self.script):
            behaviour = self.script[self._attempts]
            record.behaviour = behaviour
        if operation == self.target:
            self._attempts += 1
        if behaviour is not None and behaviour.read == "line":
            return await self._act(behaviour, writer)
        length = 0
        while True:
            header = await reader.readline()
            if not header:
                return False  # the client hung up before the end of its headers
            if header in (b"\r\n", b"\n"):
                break
            name, _, value = header.partition(b":")
            record.headers.append((name.strip(), value.strip()))
            if name.strip().lower() == b"content-length":
                length = int(value)
        record.body = await reader.readexactly(length)
        record.fully_read = True
        if behaviour is not None:
            return await self._act(behaviour, writer)
        return await self._answer_validly(operation, writer)

    async def _answer_validly(self, operation: str | None, writer: asyncio.StreamWriter) -> bool:
        if operation is None:
            data, head = b'{"error": {"message": "no such route"}}', b"HTTP/1.1 404 Not Found"
        else:
            secret = new_secret("hostile-tok-" if operation == "token" else "hostile-created-")
            self.issued.append(secret)
            data, head = json.dumps(valid_body(operation, secret)).encode(), b"HTTP/1.1 200 OK"
        writer.write(
            head + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data)
        )
        writer.write(data)
        await writer.drain()
        return True

    async def _act(self, behaviour: Behaviour, writer: asyncio.StreamWriter) -> bool:
        ending = behaviour.ending
        if ending == "hang":
            await asyncio.sleep(3600)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if ending in ("close", "reset"):
            await self._end(writer, reset=ending == "reset")
            return False
        head, data = render(behaviour)
        writer.write(head)
        await writer.drain()
        if ending.endswith("-after-headers"):
            await self._end(writer, reset=ending.startswith("reset"))
            return False
        if behaviour.body_delay:
            await asyncio.sleep(behaviour.body_delay)
        if ending.endswith("-mid-body"):
            writer.write(data[: len(data) // 2])
            await writer.drain()
            await self._end(writer, reset=ending.startswith("reset"))
            return False
        writer.write(data)
        await writer.drain()
        if behaviour.keep_alive and behaviour.read == "full":
            return True
        await self._end(writer, reset=False)
        return False

    @staticmethod
    async def _end(writer: asyncio.StreamWriter, *, reset: bool) -> None:
        for _ in range(200):  # let what was written reach the socket before a reset drops it
            if not writer.transport.get_write_buffer_size():
                break
            await asyncio.sleep(0.001)
        if reset:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()


# --- checks ---------------------------------------------------------------------------------


def needles(values: Iterable[str]) -> list[str]:
    """Each secret, and its standard and URL-safe base64 forms."""
    out: list[str] = []
    for value in values:
        raw = value.encode()
        out += [
            value,
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
            base64.b64encode(raw).decode().rstrip("="),
        ]
    return list(dict.fromkeys(out))


_SKIP_MODULES = (
    "asyncio",
    "selectors",
    "socket",
    "ssl",
    "threading",
    "concurrent",
    "logging",
    "hypothesis",
    "_pytest",
    "pytest",
    "tests.",
    "typing",
    "weakref",
)
#: Not followed: values without secrets, and code and execution state (frames hold locals).
_ATOMS = (
    int,
    float,
    complex,
    bool,
    type(None),
    type,
    types.FunctionType,
    types.MethodType,
    types.BuiltinFunctionType,
    types.CodeType,
    types.FrameType,
    types.TracebackType,
    types.ModuleType,
    types.CoroutineType,
    types.GeneratorType,
    types.AsyncGeneratorType,
)


def find_secrets(
    root: object, secrets_: Iterable[str], *, max_depth: int = 14, max_nodes: int = 30_000
) -> list[str]:
    """Paths from `root` to every string or bytes value that contains a secret.

    Walks what an error tracker serialises: `args`, `__cause__`, `__context__`, `__notes__`,
    `vars()` and `__slots__` of objects, items of containers and mappings (httpx `Headers` by
    their raw bytes), and `str()`/`repr()` of exceptions and of httpx/dintero objects. Frames,
    tracebacks, functions and asyncio internals (the event loop, where this test's own server
    lives) are not followed.
    """
    texts = needles(secrets_)
    raws = [t.encode() for t in texts]
    found: list[str] = []
    seen: set[int] = set()
    queue: list[tuple[object, str, int]] = [(root, "exc", 0)]
    nodes = 0

    def check_text(text: str, path: str) -> None:
        found.extend(f"{path} contains {t[:12]}..." for t in texts if t in text)

    while queue and nodes < max_nodes:
        obj, path, depth = queue.pop(0)
        if isinstance(obj, str):
            check_text(obj, path)
            continue
        if isinstance(obj, bytes | bytearray | memoryview):
            data = bytes(obj)
            pairs = zip(texts, raws, strict=True)
            found.extend(f"{path} contains {t[:12]}..." for t, r in pairs if r in data)
            continue
        if isinstance(obj, _ATOMS) or id(obj) in seen or depth > max_depth:
            continue
        module = type(obj).__module__ or ""
        if module.startswith(_SKIP_MODULES) and not isinstance(obj, BaseException):
            continue
        seen.add(id(obj))
        nodes += 1
        children: list[tuple[object, str]] = []
        if isinstance(obj, BaseException):
            for how, render_ in (("str", str), ("repr", repr)):
                with contextlib.suppress(Exception):
                    check_text(render_(obj), f"{how}({path})")
            children += [(a, f"{path}.args[{i}]") for i, a in enumerate(obj.args)]
            children += [(obj.__cause__, f"{path}.__cause__")]
            children += [(obj.__context__, f"{path}.__context__")]
            children += [(n, f"{path}.__notes__") for n in getattr(obj, "__notes__", [])]
        elif module.startswith(("httpx", "httpcore", "dintero")):
            with contextlib.suppress(Exception):
                check_text(repr(obj), f"repr({path})")
        if module.startswith("httpx") and type(obj).__name__ == "Headers":
            raw = getattr(obj, "raw", [])
            children += [(value, f"{path}[{name!r}]") for name, value in raw]
        if isinstance(obj, dict):
            for key, value in list(obj.items()):
                children += [(key, f"{path}.key"), (value, f"{path}[{key!r}]")]
        elif isinstance(obj, list | tuple | set | frozenset):
            children += [(v, f"{path}[{i}]") for i, v in enumerate(list(obj))]
        attributes: dict[str, object] = {}
        with contextlib.suppress(TypeError):
            attributes.update(vars(obj))
        for klass in type(obj).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                if isinstance(slot, str) and slot not in ("__dict__", "__weakref__"):
                    with contextlib.suppress(Exception):
                        attributes.setdefault(slot, getattr(obj, slot))
        children += [(v, f"{path}.{k}") for k, v in attributes.items()]
        queue += [(child, where, depth + 1) for child, where in children]
    return found


def largest_bytes(root: object, *, max_depth: int = 8, max_nodes: int = 5_000) -> int:
    """The size of the largest bytes/str value reachable from `root` (see `find_secrets`)."""
    largest = 0
    seen: set[int] = set()
    queue: list[tuple[object, int]] = [(root, 0)]
    nodes = 0
    while queue and nodes < max_nodes:
        obj, depth = queue.pop(0)
        if isinstance(obj, bytes | bytearray | str):
            largest = max(largest, len(obj))
            continue
        if isinstance(obj, _ATOMS) or id(obj) in seen or depth > max_depth:
            continue
        module = type(obj).__module__ or ""
        if module.startswith(_SKIP_MODULES) and not isinstance(obj, BaseException):
            continue
        seen.add(id(obj))
        nodes += 1
        children: list[object] = []
        if isinstance(obj, BaseException):
            children += [*obj.args, obj.__cause__, obj.__context__]
        if isinstance(obj, dict):
            children += list(obj.values())
        elif isinstance(obj, list | tuple):
            children += list(obj)
        with contextlib.suppress(TypeError):
            children += list(vars(obj).values())
        queue += [(child, depth + 1) for child in children]
    return largest


def client_sockets(port: int) -> list[str]:
    """This process's open TCP sockets whose remote end is 127.0.0.1:`port` (Linux /proc)."""
    inodes: dict[str, str] = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes[target[8:-1]] = fd
    open_: list[str] = []
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            parts = line.split()
            remote, state, inode = parts[2], parts[3], parts[9]
            if inode in inodes and int(remote.split(":")[1], 16) == port:
                open_.append(f"fd {inodes[inode]} (tcp state {state})")
    return open_
