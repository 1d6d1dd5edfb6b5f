"""Rotate an auth client's secret, keep the new one in a file only you can read, and check it.

    python examples/rotate_secret.py CLIENT_UUID [--secret-file FILE]

With DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET set (DINTERO_BASE_URL
optional) it acts on that account, on the client whose `id` (uuid) is given. Without them it
serves the bundled emulator on a loopback port (needs `dintero-aio[testing]`), creates a client
there to rotate, and shows that the old secret stops working.

A rotation ends the old secret at once and Dintero shows the new one only in its answer: the
file for it is opened before the rotation (a new file, mode 0600, never an existing one). A
rotation whose answer was lost (`error.outcome_unknown`) may have taken effect: rotate again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from dintero_aio import AuthenticationError, Dintero, DinteroError, GrantSpec

CREDENTIALS = ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET")


@contextlib.asynccontextmanager
async def emulated_client() -> AsyncIterator[tuple[str, str, str]]:
    """Serve an emulator, point DINTERO_* at it, and make a client there: its id, client_id
    and first secret."""
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
        async with Dintero.from_env() as dintero:
            grant = GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])
            made = await dintero.clients.create(name="pos", client_id="pos-1", grants=[grant])
        print(f"Made client pos-1 (id {made.client.id}) to rotate")
        yield str(made.client.id), "pos-1", made.client.client_secret
        print(f"The emulator saw: {emulator!r}, {emulator.processed('rotate')} rotation(s)")


async def can_log_in(client_id: str, secret: str) -> str:
    """Whether `client_id` gets a token with `secret`, in words."""
    try:
        async with Dintero.from_env(client_id=client_id, client_secret=secret) as as_client:
            await as_client.verify_credentials()
    except AuthenticationError:
        return "rejected"
    except DinteroError as error:  # e.g. no grant for this audience: not about the secret
        return f"not checked ({type(error).__name__})"
    return "logs in"


async def rotate(client_uuid: str, secret_file: Path) -> tuple[str, str]:
    """Rotate and keep the new secret in `secret_file`; the client's client_id and secret."""
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        async with Dintero.from_env() as dintero:
            rotated = await dintero.clients.rotate_secret(client_uuid)
    except BaseException:
        os.close(fd)
        os.unlink(secret_file)  # nothing to keep: the file is empty
        raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(rotated.client_secret)  # exactly the secret, no newline
        print(f"Rotated the secret of {client_uuid}; the new one is in {secret_file}")
    except OSError as error:  # the old secret is dead already: never lose the new one
        print(f"warning: cannot write {secret_file} ({error}): the secret follows", file=sys.stderr)
        print(rotated.client_secret)
    client_id = rotated.client_id if isinstance(rotated.client_id, str) else client_uuid
    return client_id, rotated.client_secret


async def main(client_uuid: str | None, secret_file: Path | None) -> None:
    if all(os.environ.get(name) for name in CREDENTIALS):
        if client_uuid is None:
            sys.exit("usage: rotate_secret.py CLIENT_UUID (the client's id) [--secret-file FILE]")
        client_id, new = await rotate(client_uuid, secret_file or Path(f"{client_uuid}.secret"))
        print(f"New secret: {await can_log_in(client_id, new)}")
        return
    async with emulated_client() as (made_uuid, client_id, old):
        _, new = await rotate(made_uuid, secret_file or Path(f"{client_id}.secret"))
        print(f"New secret: {await can_log_in(client_id, new)}")
        print(f"Old secret: {await can_log_in(client_id, old)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("client_uuid", nargs="?", help="the client's id (a uuid)")
    parser.add_argument("--secret-file", type=Path, help="default: CLIENT_ID.secret (new file)")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.client_uuid, args.secret_file))
    except FileExistsError as error:  # raised before anything was rotated
        sys.exit(f"{error.filename} exists; a secret file is never overwritten")
