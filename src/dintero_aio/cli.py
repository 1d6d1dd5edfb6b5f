"""`dintero-aio`: the SDK from the shell, printing JSON on stdout and one-line errors on stderr.

Credentials come from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET (the first
two may be given as flags). The secret has no flag on purpose: a flag would leave it in the shell
history and in every process listing. A partner acts on one of its merchant accounts with
`--account T…` (through an exchange token).
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
from .clients import ClientWithGrants
from .errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    DinteroError,
    GrantFailedError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    PermissionDeniedError,
)
from .grants import GrantSpec
from .inputs import GRANT_TYPES
from .partners import MerchantAccount

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
    parser.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        help="act on this merchant account of the partner you log in as (exchange token)",
    )
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
    create.add_argument(
        "--grant",
        action="append",
        dest="grants",
        metavar="AUDIENCE=SCOPE[,SCOPE]",
        help="then grant it tokens for AUDIENCE with these scopes (type any); repeatable",
    )
    create.add_argument("--show-secret", action="store_true", help="print the new secret")
    clients.add_parser("list", help="list the clients")
    for name, text in [("get", "show a client"), ("delete", "delete a client")]:
        clients.add_parser(name, help=text).add_argument("id", help="the client's id (uuid)")
    rotate = clients.add_parser("rotate-secret", help="give a client a new secret")
    rotate.add_argument("id", help="the client's id (uuid)")
    rotate.add_argument("--show-secret", action="store_true", help="print the new secret")

    grants = groups.add_parser("grants", help="client grants").add_subparsers(
        dest="command", required=True
    )
    listing = grants.add_parser("list", help="list the grants")
    listing.add_argument("--client-id", dest="grant_client_id", help="only this client's (uuid)")
    listing.add_argument("--audience", help="only those for this audience")
    grant = grants.add_parser("create", help="let a client get tokens for an audience")
    grant.add_argument(
        "--client-id", dest="grant_client_id", required=True, help="the client's id (uuid)"
    )
    grant.add_argument("--audience", required=True, metavar="URL")
    grant.add_argument("--scope", action="append", dest="scopes", required=True, metavar="SCOPE")
    grant.add_argument("--type", dest="grant_type", choices=GRANT_TYPES, default="any")
    grants.add_parser("delete", help="delete a grant").add_argument("id", help="the grant's id")
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
        target = dintero if args.account is None else dintero.for_account(args.account)
        if args.group == "token":
            return {"ok": True, "expires_in": await target.verify_credentials()}
        if args.group == "grants":
            return await _grants(target, args)
        clients = target.clients
        if args.command == "create":
            specs = None if args.grants is None else [_grant_spec(g) for g in args.grants]
            created = await clients.create(
                name=args.name,
                description=args.description,
                client_id=args.new_client_id,
                callbacks=args.callbacks,
                grants=specs,
            )
            if isinstance(created, ClientWithGrants):
                return _with_grants(created.client, created.grants, args.show_secret)
            return _with_secret(created, args.show_secret)
        if args.command == "list":
            return [client.to_dict() for client in await clients.list()]
        if args.command == "get":
            return (await clients.get(args.id)).to_dict()
        if args.command == "delete":
            await clients.delete(args.id)
            return {"deleted": args.id}
        return _with_secret(await clients.rotate_secret(args.id), args.show_secret)


async def _grants(target: Dintero | MerchantAccount, args: argparse.Namespace) -> Any:
    grants = target.grants
    if args.command == "list":
        listed = await grants.list(client_id=args.grant_client_id, audience=args.audience)
        return [grant.to_dict() for grant in listed]
    if args.command == "create":
        made = await grants.create(
            client_id=args.grant_client_id,
            audience=args.audience,
            scopes=args.scopes,
            type=args.grant_type,
        )
        return made.to_dict()
    await grants.delete(args.id)
    return {"deleted": args.id}


def _grant_spec(text: str) -> GrantSpec:
    """`AUDIENCE=SCOPE[,SCOPE]`: split at the last `=` (scopes have none; a URL might)."""
    audience, equals, scopes = text.rpartition("=")
    if not equals:
        raise InvalidInputError("--grant must be AUDIENCE=SCOPE[,SCOPE], e.g. URL=admin:accounts")
    return GrantSpec(audience=audience, scopes=scopes.split(","))


def _with_grants(client: ClientWithSecret, grants: Sequence[Any], show: bool) -> dict[str, Any]:
    return {**_with_secret(client, show), "grants": [grant.to_dict() for grant in grants]}


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
    if isinstance(error, GrantFailedError) and isinstance(error.__cause__, DinteroError):
        return _exit_status(error.__cause__)  # the client exists; the grant's failure decides
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
        if isinstance(error, GrantFailedError):  # the client exists: print it, so it is not lost
            _print(_with_grants(error.client, error.grants, args.show_secret))
        print(f"error: {error}", file=sys.stderr)
        return _exit_status(error)
    except KeyboardInterrupt:
        return 130
    _print(result)
    return 0


def _print(result: Any) -> None:
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
