"""Run an Emulator under uvicorn on a loopback port, for tests that need a real socket.

In-process (`Emulator.transport()`) is faster, but only a real socket shows what a client does
on a closed or reset connection, or when its read timeout fires (ASGITransport has no timeouts).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from .emulator import Emulator

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 - not a bind
"""Addresses that mean "every interface" when bound, and the loopback address of their family
that a client on this machine connects to instead (a client cannot connect to 0.0.0.0)."""


@dataclass(frozen=True)
class RunningEmulator:
    """Where a served Emulator listens: `host` as bound, `port` the real one."""

    emulator: Emulator
    host: str
    port: int

    @property
    def listens_on_all_interfaces(self) -> bool:
        """Whether `host` is a wildcard address (0.0.0.0 or ::): reachable from other machines."""
        return self.host in _WILDCARDS

    @property
    def base_url(self) -> str:
        """The SDK's base URL for a client on this machine, e.g. `http://127.0.0.1:54321/v1`.

        For a wildcard `host` (0.0.0.0, ::) it names the loopback address instead: a wildcard
        is not an address to connect to, and the SDK takes plain http only to a loopback host.
        """
        host = _WILDCARDS.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/v1"


@contextmanager
def serve(
    emulator: Emulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    quiet: bool = True,
    timeout: float = 5.0,
) -> Iterator[RunningEmulator]:
    """Serve `emulator` on `host:port` (0: an ephemeral port) until the block exits.

    uvicorn runs in a daemon thread with its own event loop. We bind the socket ourselves, so
    the port is known before uvicorn starts and nothing else can take it in between. On exit the
    server stops accepting, closes its connections and the thread is joined: within `timeout`
    gracefully, then forcibly; RuntimeError if it still runs. `quiet` turns the access log off
    and keeps uvicorn's own messages to warnings.
    """
    config = uvicorn.Config(
        emulator,
        interface="asgi3",
        http="h11",  # pinned, not "auto": the connection-drop hack in _faults.py relies on
        loop="asyncio",  # uvicorn's own protocol classes on an asyncio loop
        ws="none",
        lifespan="off",
        log_config=None,  # leave the process's logging configuration alone
        log_level="warning" if quiet else "info",
        access_log=not quiet,
        timeout_graceful_shutdown=max(1, int(timeout / 2)),
    )
    server = uvicorn.Server(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family)
    # Without TCP_NODELAY every response waits ~40 ms for Nagle and the client's delayed ACK: a
    # test suite would measure that timer. asyncio sets it only on sockets made with
    # proto=IPPROTO_TCP, which create_server's are not; accepted sockets inherit it from here.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="dintero-emulator", daemon=True
    )
    try:
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.005)
        yield RunningEmulator(emulator, host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the emulator server did not stop")
