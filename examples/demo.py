"""`make demo`: the SDK's main job, end to end, against the bundled emulator on loopback.

Starts the emulator on a free port, then runs the `dintero-aio` command line as a user would:
create a client (the emulator answers the first attempt with a 503, which is retried), rotate its
secret and delete it. Secrets stay masked. No credentials and no network are needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from dintero_aio.testing import Emulator, serve


def run_cli(env: dict[str, str], *args: str) -> str:
    print(f"\n$ dintero-aio {' '.join(args)}", flush=True)
    done = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "dintero_aio", *args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        timeout=60,
    )
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"demo failed: exit status {done.returncode}")
    return done.stdout


def main() -> None:
    emulator = Emulator()
    with serve(emulator) as running:
        print(f"Dintero emulator on {running.base_url}, account {emulator.account_id}")
        env = {
            **os.environ,
            "DINTERO_ACCOUNT_ID": emulator.account_id,
            "DINTERO_CLIENT_ID": emulator.client_id,
            "DINTERO_CLIENT_SECRET": emulator.client_secret,
            "DINTERO_BASE_URL": running.base_url,
        }
        emulator.fail_next("create", status=503)
        print("The emulator will answer the first create with 503 Service Unavailable.")
        created = json.loads(
            run_cli(
                env,
                "--verbose",
                "clients",
                "create",
                "--name",
                "pos",
                "--client-id",
                "pos-1",
                "--callback",
                "https://example.com/callback",
            )
        )
        run_cli(env, "--verbose", "clients", "rotate-secret", created["id"])
        run_cli(env, "clients", "delete", created["id"])
        run_cli(env, "clients", "list")

        print("\nWhat the emulator saw (one token per command: each command is a new process):")
        for operation in ("token", "create", "rotate", "delete", "list"):
            received, processed = emulator.received(operation), emulator.processed(operation)
            print(f"  {operation:<7} requests received {received}, processed {processed}")
        if (emulator.received("create"), emulator.processed("create")) != (
            2,
            1,
        ) or emulator.clients:
            raise SystemExit("demo failed: the emulator did not see what the demo expects")
    print("\nDemo finished: one client created (the 503 was retried), rotated and deleted.")


if __name__ == "__main__":
    main()
