"""The one `httpx.AsyncClient` of a `Dintero` instance, built from settings and the environment.

httpx reads the environment when the client is built (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the
`*_PROXY` variables) and fails with whatever the bad value trips over: `FileNotFoundError`,
`ssl.SSLError`, `ImportError` (a SOCKS proxy without socksio), `ValueError`. Here that becomes an
`InvalidInputError` naming the variable, never its value (a proxy URL may hold a password).
A loopback base URL (the emulator) ignores the environment: its plain-http requests carry the
client credentials, which must never travel through a proxy.
"""

from __future__ import annotations

import functools
import http.cookiejar
import os
import ssl
from typing import Any

import certifi
import dintero_aio_api
import httpx

from . import bodies, inputs
from .errors import InvalidInputError

_NO_COOKIES = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
_CERT_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_PROXY_VARIABLES = tuple(
    name
    for scheme in ("HTTPS", "HTTP", "ALL")
    for name in (f"{scheme}_PROXY", f"{scheme.lower()}_proxy")
)


def open_client(
    *,
    base_url: str,
    headers: dict[str, str],
    auth: httpx.Auth,
    transport: httpx.AsyncBaseTransport | None,
    max_response_bytes: int,
) -> dintero_aio_api.Client:
    """The generated client with its `httpx.AsyncClient` built, or `InvalidInputError`."""
    httpx_args: dict[str, Any] = {
        "auth": auth,
        "event_hooks": {"response": [bodies.limit_hook(max_response_bytes)]},
        "trust_env": not inputs.is_loopback(httpx.URL(base_url).host),
    }
    if transport is not None:
        httpx_args["transport"] = transport
    headers = {**headers, "Accept-Encoding": bodies.ACCEPT_ENCODING}
    try:
        context = _ssl_context(
            *(os.environ.get(name) if httpx_args["trust_env"] else None for name in _CERT_VARIABLES)
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
        raise InvalidInputError(_blame(problem))
    raise InvalidInputError(f"the HTTP client could not be set up ({problem})")


@functools.lru_cache(maxsize=8)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """The verifying SSL context for these certificate settings, built once per process.

    httpx would build one per client: ~25 ms of CPU and ~800 KiB each, which a partner holding
    many instances, or a serverless cold start, pays every time. Sharing is safe: contexts are
    made to be shared, and nothing here changes one after it is built (no HTTP/2, whose ALPN
    setting httpcore writes into the context)."""
    if cert_file:
        return ssl.create_default_context(cafile=cert_file)
    if cert_dir:
        return ssl.create_default_context(capath=cert_dir)
    return ssl.create_default_context(cafile=certifi.where())


def _blame(problem: str) -> str:
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
            try:
                httpx.AsyncClient(proxy=value if "://" in value else f"http://{value}")
            except Exception:
                return (
                    f"the environment variable {name} is not a usable proxy URL (http://, "
                    "https://, or socks5:// with the socksio package installed)"
                )
    return f"the HTTP client could not be set up from the environment ({problem})"
