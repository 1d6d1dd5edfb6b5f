"""Create an auth client that can log in, and keep its secret in a file only you can read.

    python examples/create_client.py [--name pos] [--client-id pos-1] [--secret-file FILE]

With DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET set (DINTERO_BASE_URL
optional) it acts on that account. Without them it serves the bundled emulator on a loopback
port and points those variables at it (needs `dintero-aio[testing]`), so it runs out of the box.

Dintero shows a new client's secret once, in its answer to the create. So the secret file is
opened before anything is created (a new file, mode 0600: an existing file is never overwritten),
and if writing it fails all the same, the secret is printed rather than lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from dintero_aio import Dintero, GrantSpec

CREDENTIALS = ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET")


@contextlib.contextmanager
def emulator_unless_configured() -> Iterator[None]:
    """Serve an emulator and point DINTERO_* at it, unless credentials are already set."""
    if all(os.environ.get(name) for name in CREDENTIALS):
        yield
        return
    from dintero_aio.testing import Emulator, serve

    emulator = Emulator()
    with serve(emulator) as running:
        print(f"No DINTERO_* credentials: using an emulator on {running.base_url}")
        os.environ.update(
            DINTERO_ACCOUNT_ID=emulator.account_id,
            DINTERO_CLIENT_ID=emulator.client_id,
            DINTERO_CLIENT_SECRET=emulator.client_secret,
            DINTERO_BASE_URL=running.base_url,
        )
        yield
        print(f"The emulator saw: {emulator!r}")


def keep_secret(fd: int, secret: str, path: Path) -> None:
    """Write the secret to the file opened for it; print it if that fails, so it is not lost."""
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret)  # exactly the secret: read_text() gives it back as it is
    except OSError as error:
        print(f"warning: cannot write {path} ({error}): the secret follows", file=sys.stderr)
        print(secret)


async def main(name: str, client_id: str, secret_file: Path) -> None:
    # O_EXCL: fail now, before a client exists, rather than lose or overwrite a secret later.
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    async with Dintero.from_env() as dintero:
        try:
            created = await dintero.clients.create(
                name=name,
                client_id=client_id,
                grants=[GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])],
            )
        except BaseException:
            os.close(fd)
            os.unlink(secret_file)  # nothing to keep: the file is empty
            raise
        client = created.client
        keep_secret(fd, client.client_secret, secret_file)
        print(f"Created {client.client_id} (id {client.id}), its secret is in {secret_file}")
        print(f"It may get tokens for {created.grants[0].audience}")

    # The new client logs in with its secret: the grant made that possible.
    secret = client.client_secret
    async with Dintero.from_env(client_id=client_id, client_secret=secret) as as_client:
        lifetime = await as_client.verify_credentials()
        print(f"Logged in as {client_id}: a token valid for {lifetime} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="pos")
    parser.add_argument("--client-id", default="pos-1")
    parser.add_argument("--secret-file", type=Path, default=None, help="default: CLIENT_ID.secret")
    args = parser.parse_args()
    path = args.secret_file or Path(f"{args.client_id}.secret")
    if path.exists():
        parser.error(f"{path} exists; a secret file is never overwritten")
    with emulator_unless_configured():
        asyncio.run(main(args.name, args.client_id, path))
