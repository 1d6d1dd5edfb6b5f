"""`http2=True`: the SDK speaks HTTP/2 to a server that offers it, HTTP/1.1 when left off (on
either backend), and without the `h2` package it refuses at construction, naming the extra.

The server is the emulator under hypercorn over TLS on loopback (tests/tls_server.py), which
offers h2 and http/1.1 through ALPN and records the HTTP version of every request it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hpack
import pytest

from dintero_aio import AuthenticationError, Dintero, InvalidInputError, NotFoundError, RetryPolicy
from dintero_aio._http_client import BACKENDS
from dintero_aio.testing import OPERATIONS, Emulator

from .tls_server import TLSServer, serve_tls

QUICK = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, total_timeout=10)
BURST = 20


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def server(emulator: Emulator, tmp_path: Path) -> Iterator[TLSServer]:
    with serve_tls(emulator, tmp_path) as server:
        yield server


@pytest.fixture
def connect(
    server: TLSServer, emulator: Emulator, make_dintero: Callable[..., Dintero]
) -> Callable[..., Dintero]:
    def connect(**overrides: Any) -> Dintero:
        settings: dict[str, Any] = {
            "account_id": emulator.account_id,
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "base_url": server.base_url,
            "retry": QUICK,
            "ssl_context": server.client_context(),  # trusts the test CA
        }
        return make_dintero(**{**settings, **overrides})

    return connect


def received(emulator: Emulator) -> int:
    return sum(emulator.received(op) for op in OPERATIONS)


async def test_http2_true_speaks_http2_through_the_whole_lifecycle(
    connect: Callable[..., Dintero], server: TLSServer, emulator: Emulator
) -> None:
    dintero = connect(http2=True)
    # A cold burst: one token request, then every call multiplexed on that one connection.
    assert await asyncio.gather(*(dintero.clients.list() for _ in range(BURST))) == [[]] * BURST

    created = await dintero.clients.create(name="pos", client_id="pos-1")
    emulator.add_grant(str(created.id))  # without a grant the new client cannot log in
    assert [c.id for c in await dintero.clients.list()] == [created.id]
    assert (await dintero.clients.get(created.id)).name == "pos"
    rotated = await dintero.clients.rotate_secret(created.id)
    assert rotated.client_secret != created.client_secret
    own = connect(client_id="pos-1", client_secret=rotated.client_secret, http2=True)
    assert [c.id for c in await own.clients.list()] == [created.id]  # its own token, over h2
    await dintero.clients.delete(created.id)
    with pytest.raises(NotFoundError):
        await dintero.clients.get(created.id)
    assert await dintero.clients.list() == []

    seen = server.recorder.seen()
    assert len(seen) == received(emulator) == 1 + BURST + 7 + 2
    assert emulator.processed("token") == 2
    assert Counter(version for version, _ in seen) == {"2": len(seen)}
    # One connection per instance: HTTP/2 multiplexed the burst instead of opening 20.
    per_connection = Counter(port for _, port in seen)
    assert sorted(per_connection.values()) == [2, len(seen) - 2]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_http2_left_off_speaks_http1_to_the_same_server(
    connect: Callable[..., Dintero], server: TLSServer, emulator: Emulator, backend: str
) -> None:
    """On either backend (aiohttp speaks HTTP/1.1 only), over TLS with the given context."""
    dintero = connect(backend=backend)
    assert await asyncio.gather(*(dintero.clients.list() for _ in range(BURST))) == [[]] * BURST
    created = await dintero.clients.create(name="pos")
    assert (await dintero.clients.get(created.id)).name == "pos"
    await dintero.clients.delete(created.id)
    with pytest.raises(AuthenticationError):  # an error status, over HTTP/1.1 too
        await connect(client_secret="wrong", backend=backend).clients.list()

    seen = server.recorder.seen()
    assert len(seen) == received(emulator) == 1 + BURST + 3 + 1
    assert Counter(version for version, _ in seen) == {"1.1": len(seen)}
    # HTTP/1.1 cannot multiplex: concurrent calls needed connections of their own.
    assert len({port for _, port in seen}) > 2


def test_http2_without_h2_names_the_extra_and_sends_nothing(
    connect: Callable[..., Dintero], server: TLSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # `import h2` fails, find_spec finds nothing
    with pytest.raises(InvalidInputError, match=r"pip install 'dintero-aio\[http2\]'") as info:
        connect(http2=True)
    assert "h2 package" in str(info.value)
    with pytest.raises(InvalidInputError, match="http2"):
        Dintero.from_env(account_id="T12345678", client_id="c", client_secret="s", http2=True)
    assert server.recorder.seen() == []
    connect()  # HTTP/1.1 does not need it


@pytest.mark.parametrize("value", ["yes", "no", 1, None])
def test_http2_must_be_a_bool(make_dintero: Callable[..., Dintero], value: object) -> None:
    with pytest.raises(InvalidInputError, match="http2 must be True or False"):
        make_dintero(http2=value)


async def test_debug_logs_of_http2_hold_no_credentials(
    connect: Callable[..., Dintero], emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """hpack logs every encoded request header block at DEBUG; the Authorization header in it is
    Huffman-coded, which a scan for the literal secret misses but hpack reads back."""
    caplog.set_level(logging.DEBUG)
    dintero = connect(http2=True)
    await dintero.clients.create(name="pos")
    secrets = (emulator.client_secret, *emulator._state._tokens)
    ours = [r for r in caplog.records if r.thread == threading.get_ident()]  # not the server's
    blocks = [r for r in ours if r.msg == "Encoded header block to %s"]
    assert len(blocks) == 2  # the token request and the create, on one connection
    decoder = hpack.Decoder()  # reads the blocks in order, as the server did
    for record in blocks:
        assert record.args is not None
        (block,) = record.args
        shown = repr(decoder.decode(block)) if isinstance(block, bytes) else str(block)
        assert not [secret for secret in secrets if secret in shown]
    for record in ours:
        assert not [secret for secret in secrets if secret in record.getMessage()]


def test_ssl_context_must_be_an_ssl_context(make_dintero: Callable[..., Dintero]) -> None:
    with pytest.raises(InvalidInputError, match=r"ssl_context must be an ssl\.SSLContext"):
        make_dintero(ssl_context=False)


def _connected_to(port: int) -> list[socket.socket]:
    """The sockets of this process still open and connected to `port` on loopback."""
    gc.collect()
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.family == socket.AF_INET and obj.fileno() != -1:
            with contextlib.suppress(OSError):  # not connected
                if obj.getpeername()[1] == port:
                    found.append(obj)
    return found


@pytest.mark.parametrize("backend", BACKENDS)
async def test_aclose_leaves_no_tls_socket_open(
    connect: Callable[..., Dintero], server: TLSServer, backend: str
) -> None:
    """`aclose()` closes every TLS connection it opened before it returns (a graceful TLS
    shutdown left running would keep the socket until the event loop closes it, or leak it when
    the loop closes first: aiohttp 3.12.2 and 3.12.3 did that)."""
    dintero = connect(backend=backend)
    assert await asyncio.gather(*(dintero.clients.list() for _ in range(BURST))) == [[]] * BURST
    assert _connected_to(server.port)  # the burst opened connections, still pooled
    await dintero.aclose()
    await asyncio.sleep(0)  # a transport closes its socket on the loop's next turn
    assert _connected_to(server.port) == []
