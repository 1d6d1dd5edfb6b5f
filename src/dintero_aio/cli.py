"""`dintero-aio`: the SDK from the shell, printing JSON on stdout and one-line errors on stderr.

Credentials come from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET (the first
two may be given as flags). The secret has no flag on purpose: a flag would leave it in the shell
history and in every process listing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from dintero_api.models import ClientInfo, ClientWithSecret

from .client import Dintero
from .errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    DinteroError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    PermissionDeniedError,
)

#: Exit statuses, one per class of failure.
EXIT_INPUT = 2  # bad arguments or settings (argparse uses 2 as well)
EXIT_AUTH = 3  # credentials, audience or permissions rejected
EXIT_NETWORK = 4  # no response: connection failure or timeout
EXIT_SERVER = 5  # 5xx or a response that does not match the spec
EXIT_REJECTED = 6  # any other error status (400, 404, 429, ...)

MASK = "**********"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dintero-aio", description=__doc__.splitlines()[0])
    parser.add_argument("--account-id", help="the account (oid); default $DINTERO_ACCOUNT_ID")
    parser.add_argument("--auth-client-id", help="client to log in as; default $DINTERO_CLIENT_ID")
    parser.add_argument("--base-url", help="API base URL; default $DINTERO_BASE_URL or Dintero's")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt")
    parser.add_argument("-v", "--verbose", action="store_true", help="log token fetches, retries")
    groups = parser.add_subparsers(dest="group", required=True)

    token = groups.add_parser("token", help="access tokens").add_subparsers(
        dest="command", required=True
    )
    token.add_parser("check", help="fetch a token: checks the credentials and the audience")

    clients = groups.add_parser("clients", help="auth clients").add_subparsers(
        dest="command", required=True
    )
    create = clients.add_parser("create", help="create a client (its secret is shown only once)")
    create.add_argument("--name")
    create.add_argument("--description")
    create.add_argument("--client-id", dest="new_client_id", help="the new client's client_id")
    create.add_argument("--callback", action="append", dest="callbacks", metavar="URL")
    create.add_argument("--show-secret", action="store_true", help="print the new secret")
    clients.add_parser("list", help="list the clients")
    for name, text in [("get", "show a client"), ("delete", "delete a client")]:
        clients.add_parser(name, help=text).add_argument("id", help="the client's id (uuid)")
    rotate = clients.add_parser("rotate-secret", help="give a client a new secret")
    rotate.add_argument("id", help="the client's id (uuid)")
    rotate.add_argument("--show-secret", action="store_true", help="print the new secret")
    return parser


async def _run(args: argparse.Namespace) -> Any:
    overrides: dict[str, Any] = {"timeout": args.timeout}
    for key, value in [
        ("account_id", args.account_id),
        ("client_id", args.auth_client_id),
        ("base_url", args.base_url),
    ]:
        if value is not None:
            overrides[key] = value
    async with Dintero.from_env(**overrides) as dintero:
        if args.group == "token":
            return {"ok": True, "expires_in": await dintero.verify_credentials()}
        clients = dintero.clients
        if args.command == "create":
            created = await clients.create(
                name=args.name,
                description=args.description,
                client_id=args.new_client_id,
                callbacks=args.callbacks,
            )
            return _with_secret(created, args.show_secret)
        if args.command == "list":
            return [client.to_dict() for client in await clients.list()]
        if args.command == "get":
            return (await clients.get(args.id)).to_dict()
        if args.command == "delete":
            await clients.delete(args.id)
            return {"deleted": args.id}
        return _with_secret(await clients.rotate_secret(args.id), args.show_secret)


def _with_secret(client: ClientWithSecret | ClientInfo, show: bool) -> dict[str, Any]:
    body = client.to_dict()
    if not show and "client_secret" in body:
        body["client_secret"] = MASK
        print(
            "note: the client secret is masked; Dintero shows it only in this response and it "
            "can never be read again (use --show-secret to print it)",
            file=sys.stderr,
        )
    return body


def _exit_status(error: DinteroError) -> int:
    if isinstance(error, InvalidInputError):
        return EXIT_INPUT
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if isinstance(error, APIConnectionError):
        return EXIT_NETWORK
    if isinstance(error, (InternalServerError, MalformedResponseError)):
        return EXIT_SERVER
    if isinstance(error, APIStatusError):
        return EXIT_REJECTED
    return EXIT_SERVER


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="dintero-aio: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = asyncio.run(_run(args))
    except DinteroError as error:
        print(f"error: {error}", file=sys.stderr)
        return _exit_status(error)
    except KeyboardInterrupt:
        return 130
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
    return 0
