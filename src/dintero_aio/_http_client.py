"""The one `httpx.AsyncClient` of a `Dintero` instance, built from settings and the environment.

httpx reads the environment when the client is built (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the
`*_PROXY` variables) and fails with whatever the bad value trips over: `FileNotFoundError`,
`ssl.SSLError`, `ImportError` (a SOCKS proxy without socksio), `ValueError`. Here that becomes an
`InvalidInputError` naming the variable, never its value (a proxy URL may hold a password).
A loopback base URL (the emulator) ignores the environment: its plain-http requests carry the
client credentials, which must never travel through a proxy.

Idle connections are dropped after 4 s, before the 5 s after which common servers (uvicorn,
Node.js) close them: a request sent just as the server closes its connection fails after it may
have been sent, and a create that fails that way cannot be retried.

`backend="aiohttp"` keeps this client and sends its requests with aiohttp (`_aiohttp`), under the
same rules: the same pool limits, SSL context, proxies and loopback exception. httpx ignores the
proxy variables once it is given a transport, so they are read here with httpx's own function and
mounted, one aiohttp transport per proxy; aiohttp speaks neither HTTP/2 nor SOCKS.
"""

from __future__ import annotations

import functools
import http.cookiejar
import importlib.util
import logging
import os
import ssl
from typing import TYPE_CHECKING, Any

import dintero_aio_api
import httpx

from . import _bodies, _inputs
from ._errors import InvalidInputError

if TYPE_CHECKING:
    from ._aiohttp import AiohttpTransport

MAX_CONNECTIONS = 100
LIMITS = httpx.Limits(
    max_connections=MAX_CONNECTIONS, max_keepalive_connections=20, keepalive_expiry=4.0
)


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that keeps nothing, without parsing every response's headers to find that out
    (httpx hands it each response; a refusing policy would still parse them)."""

    def extract_cookies(self, response: object, request: object) -> None:
        pass


_NO_COOKIES = _NoCookies()
_CERT_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_PROXY_VARIABLES = tuple(
    name
    for scheme in ("HTTPS", "HTTP", "ALL")
    for name in (f"{scheme}_PROXY", f"{scheme.lower()}_proxy")
)
BACKENDS = ("httpcore", "aiohttp")  # what `backend` may be (checked by the caller)


def open_client(
    *,
    base_url: str,
    headers: dict[str, str],
    auth: httpx.Auth,
    transport: httpx.AsyncBaseTransport | None,
    max_response_bytes: int,
    http2: bool,
    ssl_context: ssl.SSLContext | None,
    backend: str = "httpcore",
) -> dintero_aio_api.Client:
    """The generated client with its `httpx.AsyncClient` built, or `InvalidInputError`."""
    if backend == "aiohttp":
        _check_aiohttp(transport, http2)
    if http2:
        if importlib.util.find_spec("h2") is None:
            raise InvalidInputError(
                "http2=True needs the h2 package: pip install 'dintero-aio[http2]'"
            )
        _mask_header_blocks()
    httpx_args: dict[str, Any] = {
        "auth": auth,
        "event_hooks": {"response": [_bodies.limit_hook(max_response_bytes)]},
        "trust_env": not _inputs.is_loopback(httpx.URL(base_url).host),
        "http2": http2,
        "limits": LIMITS,
    }
    if transport is not None:
        httpx_args["transport"] = transport
    headers = {**headers, "Accept-Encoding": _bodies.ACCEPT_ENCODING}
    try:
        context = ssl_context or _ssl_context(
            *(
                os.environ.get(name) if httpx_args["trust_env"] else None
                for name in _CERT_VARIABLES
            ),
            http2,
        )
        if backend == "aiohttp":
            httpx_args["transport"], httpx_args["mounts"] = _aiohttp_transports(
                context, httpx_args["trust_env"]
            )
        generated = dintero_aio_api.Client(
            base_url=base_url, headers=headers, httpx_args=httpx_args, verify_ssl=context
        )
        # No cookies: the API is token-based, and a cookie a server set (one httpx cannot even
        # encode, say) would otherwise be sent with every later request.
        generated.get_async_httpx_client().cookies = _NO_COOKIES
        return generated
    except Exception as exc:
        problem = type(exc).__name__
    # Raised outside the `except` block, so that the original (which may quote a proxy URL with
    # its password) is not chained to the error as its __context__.
    if httpx_args["trust_env"]:
        raise InvalidInputError(_blame(problem, backend))
    raise InvalidInputError(f"the HTTP client could not be set up ({problem})")


def _check_aiohttp(transport: httpx.AsyncBaseTransport | None, http2: bool) -> None:
    if importlib.util.find_spec("aiohttp") is None:
        raise InvalidInputError(
            "backend='aiohttp' needs the aiohttp package: pip install 'dintero-aio[aiohttp]'"
        )
    if http2:
        raise InvalidInputError(
            "backend='aiohttp' speaks HTTP/1.1 only: http2=True needs backend='httpcore'"
        )
    if transport is not None:
        raise InvalidInputError(
            "backend='aiohttp' sends through aiohttp, and transport= replaces the network: "
            "give one or the other"
        )


def _aiohttp_transports(
    context: ssl.SSLContext, trust_env: bool
) -> tuple[AiohttpTransport, dict[str, AiohttpTransport | None]]:
    """The transport of direct requests, and one per proxy pattern that httpx would mount for
    the environment (None where NO_PROXY exempts), all on one aiohttp connection pool."""
    from httpx._utils import get_environment_proxies  # httpx's rules, NO_PROXY included

    from ._aiohttp import AiohttpTransport, Pool

    pool = Pool(context, LIMITS)
    proxies = get_environment_proxies() if trust_env else {}
    for url in proxies.values():
        if url is not None and httpx.URL(url).scheme not in ("http", "https"):
            raise ValueError("aiohttp speaks to http:// and https:// proxies only")
    mounts = {
        pattern: None if url is None else AiohttpTransport(pool, httpx.Proxy(url))
        for pattern, url in proxies.items()
    }
    return AiohttpTransport(pool), mounts


@functools.lru_cache(maxsize=8)
def _ssl_context(cert_file: str | None, cert_dir: str | None, http2: bool) -> ssl.SSLContext:
    """The verifying SSL context for these certificate settings, built once per process.

    httpx would build one per client: ~25 ms of CPU and ~800 KiB each, which a partner holding
    many instances, or a serverless cold start, pays every time. Sharing is safe: contexts are
    made to be shared, and the only change made to one after it is built is the ALPN list that
    httpcore writes into it on every connection, which depends on `http2` alone: hence one context
    per value of `http2`."""
    import certifi  # here, not at the top: only the first instance needs it

    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())


class _HeaderBlockMask(logging.Filter):
    """Hides the header block in hpack's DEBUG record "Encoded header block to %s": it holds the
    request's Authorization header, Huffman-coded but readable by anyone with hpack. (hpack
    masks the header in its other records itself: h2 marks Authorization as sensitive.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Encoded header block to %s":
            record.args = ("<hidden by dintero-aio: it may hold credentials>",)
        return True


@functools.cache
def _mask_header_blocks() -> None:
    """Once per process, with the first HTTP/2 instance. The filter is on hpack's own logger, so
    it masks those records for every HTTP/2 client in the process: a library may not change
    another's logging lightly, but a debug log must not be a way to read credentials."""
    logging.getLogger("hpack.hpack").addFilter(_HeaderBlockMask())


def _blame(problem: str, backend: str) -> str:
    for name in _CERT_VARIABLES:
        path = os.environ.get(name)
        if path:
            try:
                if name == "SSL_CERT_FILE":
                    ssl.create_default_context(cafile=path)
                else:
                    ssl.create_default_context(capath=path)
            except Exception:
                return f"the environment variable {name} does not name usable certificates"
            break  # httpx reads only the first one that is set
    for name in _PROXY_VARIABLES:
        value = os.environ.get(name)
        if value:
            url = value if "://" in value else f"http://{value}"
            try:
                httpx.AsyncClient(proxy=url)
                usable = backend == "httpcore" or httpx.URL(url).scheme in ("http", "https")
            except Exception:
                usable = False
            if not usable:
                kinds = (
                    "http:// or https:// for backend='aiohttp'"
                    if backend == "aiohttp"
                    else "http://, https://, or socks5:// with the socksio package installed"
                )
                return f"the environment variable {name} is not a usable proxy URL ({kinds})"
    return f"the HTTP client could not be set up from the environment ({problem})"
