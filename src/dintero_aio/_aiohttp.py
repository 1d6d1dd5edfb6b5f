"""The aiohttp backend (`backend="aiohttp"`): an httpx transport that sends requests with aiohttp.

Over a real socket nearly all of a call's client CPU is spent in httpcore, the pure-Python HTTP
engine under httpx's own transport; aiohttp parses HTTP in C and does the same request for a
fraction of it (bench/backends.py). httpx stays the SDK's client (auth flow, event hooks, the
body-size hook, the request models); only the wire changes.

The rest of the SDK relies on this transport behaving as httpx's own does, so that its one
mapping of httpx exceptions to SDK errors, and of those to "may it have been sent", holds for
both backends:

- A failure is an httpx exception of the same meaning: ConnectError and ConnectTimeout only when
  nothing was sent (a create may be retried after them), ReadTimeout, WriteTimeout, ReadError,
  RemoteProtocolError (the server hung up, or its answer is not HTTP/1.1), LocalProtocolError (the
  request cannot be encoded), ProxyError. The messages are fixed texts and no aiohttp exception
  is chained: aiohttp's quote URLs, and carry the request's headers, Authorization included.
- The body comes as an `httpx.AsyncByteStream` of the bytes as sent: aiohttp decompresses nothing,
  so that `_bodies.limit_hook` decodes it within its size limit.
- The request's `timeout` extension is honoured phase by phase: connect is aiohttp's
  `sock_connect` (TCP and TLS), read its `sock_read` (the longest wait for more bytes, from the
  end of the request on), write bounds the body's writing (`_TimedBody`), and pool is added to
  connect as aiohttp's `connect`, which covers waiting for a free connection and making one
  (the SDK's queue does the waiting in front of the pool, so that rarely matters).
- The pool has the limits of `_http_client.LIMITS`: at most 100 connections, an idle one
  dropped after 4 s. (aiohttp bounds idle connections by the total only, not by 20.)
- Nothing is kept or read from elsewhere: no cookie jar, no environment (the proxies come from
  `_http_client`, chosen by httpx's own rules), and aiohttp's silent second try of a GET or
  DELETE that failed on a reused connection is off: an unseen resend would leave the SDK's
  retry rules blind, and could turn a DELETE's own success into a 404.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import os
import ssl
from collections.abc import AsyncIterator

import aiohttp
import httpx
from aiohttp import payload
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_exceptions import HttpProcessingError
from yarl import URL

#: A body at most this long is handed to the socket without waiting, so it needs no write
#: timer: aiohttp waits for the socket (drains) only once 64 KiB have been written, headers
#: included, and the SDK's headers are a few KiB.
_NEVER_WAITS = 32 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: aiohttp would add `Content-Type: application/octet-stream` to a POST without a body.
_NO_CONTENT_TYPE = ("Content-Type",)


class Pool:
    """The one aiohttp session (connection pool) behind every transport of an httpx client (the
    direct one and one per proxy), made on first use: aiohttp binds it to the running loop."""

    __slots__ = ("_limits", "_session", "_ssl_context")

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._ssl_context = ssl_context
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,  # 0: no limit, as None is for httpx
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl_context,
            )
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(),  # none: each request brings its own
                trust_env=False,
            )
            # No attribute or argument exposes it: see the module docstring.
            session._retry_connection = False
        return session

    async def aclose(self) -> None:
        """Close every connection; returns once their sockets are closed."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through `pool`, directly or through `proxy`."""

    def __init__(self, pool: Pool, proxy: httpx.Proxy | None = None) -> None:
        self._pool = pool
        self._proxy = None if proxy is None else URL(str(proxy.url))
        self._proxy_headers = None if proxy is None else _proxy_headers(proxy)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions["timeout"]  # httpx puts the client's there when unset
        method = request.method
        body = await request.aread()
        write = timeout.get("write")
        data: bytes | payload.Payload | None = body or None
        if write is not None and len(body) > _NEVER_WAITS:
            data = _TimedBody(body, write)
        try:
            response = await self._pool.session().request(
                method,
                _url(str(request.url)),
                headers=_headers(request.headers),
                data=data,
                skip_auto_headers=_NO_CONTENT_TYPE
                if data is None and method in _BODY_METHODS
                else None,
                allow_redirects=False,
                timeout=_timeout(timeout.get("connect"), timeout.get("read"), timeout.get("pool")),
                proxy=self._proxy,
                proxy_headers=self._proxy_headers,
            )
        except Exception as exc:
            error = _translated(exc, request)
            if error is None:
                raise
        else:
            return httpx.Response(
                response.status,
                headers=response.raw_headers,
                stream=_Stream(response, request),
                request=request,
                extensions={
                    "http_version": b"HTTP/1.0"
                    if response.version == aiohttp.HttpVersion10
                    else b"HTTP/1.1",
                    "reason_phrase": (response.reason or "").encode("ascii", "ignore"),
                },
            )
        # Raised here, outside the handler, so that aiohttp's exception is not its __context__.
        raise error

    async def aclose(self) -> None:
        await self._pool.aclose()


class _Stream(httpx.AsyncByteStream):
    """A response body as it arrives. An iterator object, not an async generator: a generator
    left suspended would be closed later by asyncio, in a task of its own."""

    __slots__ = ("_request", "_response")

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.readany()
        except Exception as exc:
            error = _translated(exc, self._request)
            if error is None:
                raise
        else:
            if chunk:
                return chunk
            raise StopAsyncIteration
        raise error

    async def aclose(self) -> None:
        # Back to the pool once the body was read whole; otherwise the connection is closed.
        self._response.release()


class _TimedBody(payload.BytesPayload):
    """A request body whose writing is bounded by the `write` timeout, which aiohttp does not
    have. Past it, the write ends with `_WriteTimedOut`, which aiohttp passes on as it is (a
    `TimeoutError`) and the connection is closed."""

    def __init__(self, value: bytes, seconds: float) -> None:
        super().__init__(value)
        self._seconds = seconds

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        try:
            async with asyncio.timeout(self._seconds):
                await super().write_with_length(writer, content_length)
        except TimeoutError:
            raise _WriteTimedOut from None


class _WriteTimedOut(TimeoutError):
    pass


def _translated(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception that means what `exc` means (see the module docstring), or None for
    an exception nobody anticipated: the SDK reports that as a bug."""
    if isinstance(exc, _WriteTimedOut):
        return httpx.WriteTimeout("timed out writing the request", request=request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout("timed out connecting", request=request)
    if isinstance(exc, TimeoutError):  # aiohttp's SocketTimeoutError: sock_read ran out
        return httpx.ReadTimeout("timed out reading the response", request=request)
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return httpx.ProxyError("the proxy refused the connection", request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):  # refused, DNS, TLS, proxy unreachable
        return httpx.ConnectError(f"could not connect ({_os_reason(exc)})", request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(
            "Server disconnected without sending a response", request=request
        )
    if isinstance(exc, aiohttp.ClientResponseError | HttpProcessingError):
        return httpx.RemoteProtocolError("the answer is not valid HTTP/1.1", request=request)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(
            "the answer's body ended early or was mis-framed", request=request
        )
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return httpx.ReadError(f"the connection failed ({_os_reason(exc)})", request=request)
    if isinstance(exc, ValueError):  # a header or method aiohttp cannot encode
        return httpx.LocalProtocolError("the request could not be encoded", request=request)
    return None


def _headers(headers: httpx.Headers) -> list[tuple[str, str]]:
    """The headers as sent by httpx: names as written (`multi_items()` lowercases them), values
    decoded as httpx encoded them (aiohttp encodes them again, as UTF-8)."""
    encoding = headers.encoding
    return [(name.decode(encoding), value.decode(encoding)) for name, value in headers.raw]


def _os_reason(exc: Exception) -> str:
    """The system's words for the error number (never aiohttp's text, which quotes addresses);
    a negative number is getaddrinfo's."""
    number = exc.errno if isinstance(exc, OSError) else None
    if not number:
        return type(exc).__name__
    return os.strerror(number) if number > 0 else "the host name could not be resolved"


@functools.lru_cache(maxsize=1024)
def _url(url: str) -> URL:
    """The parsed URL (httpx's text is already percent-encoded); the SDK's URLs repeat."""
    return URL(url, encoded=True)


@functools.lru_cache(maxsize=256)
def _timeout(
    connect: float | None, read: float | None, pool: float | None
) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )


def _proxy_headers(proxy: httpx.Proxy) -> dict[str, str] | None:
    """The proxy's credentials as a header (aiohttp's `proxy_auth` argument is deprecated)."""
    if proxy.auth is None:
        return None
    user, password = proxy.auth
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}
