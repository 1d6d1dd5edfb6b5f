"""An ASGI app served by hypercorn over TLS on a loopback port, speaking HTTP/2 and HTTP/1.1.

uvicorn (`dintero_aio.testing.serve`) speaks HTTP/1.1 only; hypercorn offers both through ALPN,
so the client decides which one a connection uses. `Recorder` wraps the app and notes, for every
HTTP request, the version it arrived over and the client port (one port per connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass
class Recorder:
    """The app, with the HTTP version and client port of every request it received."""

    app: ASGIApp
    requests: list[tuple[str, int]] = field(default_factory=list)  # (http_version, client port)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            with self._lock:
                self.requests.append((scope["http_version"], scope["client"][1]))
        await self.app(scope, receive, send)

    def seen(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self.requests)


@dataclass(frozen=True)
class TLSServer:
    recorder: Recorder
    port: int
    ca: trustme.CA

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1"

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's CA (and nothing else)."""
        return ssl.create_default_context(cadata=self.ca.cert_pem.bytes().decode())


class _NotFromThread(logging.Filter):
    def __init__(self, thread_name: str) -> None:
        super().__init__()
        self.thread_name = thread_name

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != self.thread_name


@contextmanager
def serve_tls(app: ASGIApp, directory: Path, *, timeout: float = 5.0) -> Iterator[TLSServer]:
    """Serve `app` (wrapped in a Recorder) on https://127.0.0.1:<ephemeral port> until the block
    exits; hypercorn runs in a daemon thread with its own event loop and stops gracefully."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    certfile, keyfile = directory / "server.pem", directory / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(certfile))
    leaf.private_key_pem.write_to_path(str(keyfile))

    sock = socket.create_server(("127.0.0.1", 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns (and closes) the socket from here
    config.certfile, config.keyfile = str(certfile), str(keyfile)  # ALPN: h2, http/1.1
    config.errorlog = logging.getLogger("tests.tls_server")  # no handler of its own
    config.graceful_timeout = 1.0

    recorder = Recorder(app)
    ready = threading.Event()
    loop: asyncio.AbstractEventLoop | None = None
    stop: asyncio.Event | None = None
    failure: list[BaseException] = []

    async def main() -> None:
        nonlocal loop, stop
        loop, stop = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        await hypercorn_serve(recorder, config, shutdown_trigger=stop.wait, mode="asgi")

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by the test thread
            failure.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="tls-server", daemon=True)
    # The server's HPACK decoder logs every request header it decodes, Authorization included,
    # at DEBUG: those records are the server's, not the client's, so they are dropped here. The
    # client's stay scanned: its encoder logs `authorization` as SENSITIVE_REDACTED (but its
    # "Encoded header block" record holds the HPACK-coded header, which no literal scan sees).
    server_side = _NotFromThread(thread.name)
    hpack_logger = logging.getLogger("hpack.hpack")
    hpack_logger.addFilter(server_side)
    thread.start()
    try:
        # The socket listens already: connections wait in its backlog until hypercorn accepts.
        if not ready.wait(timeout) or failure:
            raise RuntimeError("the TLS server did not start") from (failure or [None])[0]
        yield TLSServer(recorder, port, ca)
    finally:
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        thread.join(timeout)
        hpack_logger.removeFilter(server_side)
        if thread.is_alive():
            raise RuntimeError("the TLS server did not stop")
        if failure:
            raise RuntimeError("the TLS server failed") from failure[0]
