"""The dintero-aio command: the SDK from the shell, printing JSON on stdout and one-line errors
on stderr.

Credentials come from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET (the first
two may be given as flags), the API from DINTERO_BASE_URL (or a flag). The secret has no flag on
purpose: a flag would leave it in the shell history and in every process listing. A partner acts
on one of its merchant accounts with --account (through an exchange token). Plain http is allowed
only to a loopback host, or to any host with --allow-insecure-http.

A command that makes a client secret (clients create, clients rotate-secret) runs only when the
secret has somewhere to go, checked before anything is sent: --show-secret (printed on stdout) or
--secret-file PATH (a new file, mode 0600, never overwritten, written and synced before anything
is printed). If that file cannot be written once Dintero has made the secret, the secret is
printed on stdout rather than lost, with a warning, and the exit status is 7.

Exit statuses: 0 success; 2 bad input (also argparse's usage errors, and a command that makes a
secret without --show-secret or --secret-file); 3 credentials or permission rejected; 4 network;
5 server error or malformed response; 6 any other error status; 7 the new secret could not be
written to --secret-file and was printed on stdout instead; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from dintero_aio_api.models import ClientWithSecret

from ._clients import ClientWithGrants
from ._dintero import Dintero
from ._errors import (
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
from ._grants import GrantSpec
from ._inputs import grant_types, is_loopback
from ._merchants import MerchantAccount
from ._version import __version__

#: Exit statuses, one per class of failure.
EXIT_INPUT = 2  # bad arguments or settings (argparse uses 2 as well)
EXIT_AUTH = 3  # credentials, audience or permissions rejected
EXIT_NETWORK = 4  # no response: connection failure or timeout
EXIT_SERVER = 5  # 5xx or a response that does not match the spec
EXIT_REJECTED = 6  # any other error status (400, 404, 429, ...)
EXIT_SECRET_ON_STDOUT = 7  # --secret-file could not be written: the secret went to stdout
EXIT_INTERRUPTED = 130

MASK = "**********"
SECRET_COMMANDS = ("create", "rotate-secret")  # of the clients group: they make a secret
_MAX_SECONDS = 7 * 24 * 3600.0

_DESCRIPTION = """\
Manage Dintero auth clients and their grants from the shell:
JSON on stdout, one-line errors on stderr."""
_CREDENTIALS = """\
credentials (read from the environment; the options go before the command):
  DINTERO_ACCOUNT_ID     the account to log in to (or: dintero-aio --account-id ...)
  DINTERO_CLIENT_ID      the client to log in as (or: dintero-aio --auth-client-id ...)
  DINTERO_CLIENT_SECRET  its secret: from the environment only, never an option (options end
                         up in shell history and process listings)
  DINTERO_BASE_URL       optional API base URL, default https://api.dintero.com/v1
                         (or: dintero-aio --base-url ...)"""
_EXIT_STATUSES = """\
exit statuses:
  0 success, 2 bad input, 3 credentials or permission rejected, 4 network,
  5 server error or malformed response, 6 any other error status, 7 the new secret could not
  be written to --secret-file and was printed on stdout instead, 130 interrupted"""
_SHOWN_ONCE_NOTE = """\
the new client secret is shown only once: give --show-secret (printed in the JSON on stdout)
or --secret-file PATH (written to a new file with mode 0600 before anything is printed; the JSON
then shows it masked and names the file). Without either, nothing is sent. If the file cannot be
written once the secret exists, the secret is printed on stdout instead, with exit status 7."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= _MAX_SECONDS:  # also rejects nan
        raise argparse.ArgumentTypeError(
            f"must be a positive number of seconds, at most one week (604800); got {text!r}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    def sub(group: Any, name: str, text: str, *, secret: bool = False) -> argparse.ArgumentParser:
        epilog = f"{_SHOWN_ONCE_NOTE}\n\n{_CREDENTIALS}" if secret else _CREDENTIALS
        made: argparse.ArgumentParser = group.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        made.set_defaults(usage=made.format_help)
        return made

    parser = argparse.ArgumentParser(
        prog="dintero-aio",
        description=_DESCRIPTION,
        epilog=f"{_CREDENTIALS}\n\n{_EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--account-id", help="the account (oid); default $DINTERO_ACCOUNT_ID")
    parser.add_argument("--auth-client-id", help="client to log in as; default $DINTERO_CLIENT_ID")
    parser.add_argument("--base-url", help="API base URL; default $DINTERO_BASE_URL or Dintero's")
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// base URL to a host that is not loopback, e.g. an emulator in "
        "another container (credentials then cross the network unencrypted)",
    )
    parser.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        help="act on this merchant account of the partner you log in as (exchange token)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="seconds per attempt (default 30)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log token fetches, retries")
    parser.set_defaults(usage=parser.format_help)
    groups = parser.add_subparsers(dest="group", metavar="{token,clients,grants}")

    token = sub(groups, "token", "access tokens").add_subparsers(dest="command", metavar="COMMAND")
    sub(token, "check", "fetch a token: checks the credentials and the audience")

    clients = sub(groups, "clients", "auth clients").add_subparsers(
        dest="command", metavar="COMMAND"
    )
    create = sub(clients, "create", "create a client (its secret is shown only once)", secret=True)
    create.add_argument("--name")
    create.add_argument("--description")
    create.add_argument("--client-id", dest="new_client_id", help="the new client's client_id")
    create.add_argument(
        "--callback",
        action="append",
        dest="callbacks",
        metavar="URL",
        help="a callback URL of the new client; repeatable",
    )
    create.add_argument(
        "--grant",
        action="append",
        dest="grants",
        metavar="AUDIENCE=SCOPE[,SCOPE]",
        help="then grant it tokens for AUDIENCE with these scopes (type any); repeatable",
    )
    _secret_options(create)
    sub(clients, "list", "list the clients")
    for name, text in [("get", "show a client"), ("delete", "delete a client")]:
        sub(clients, name, text).add_argument("id", help="the client's id (uuid)")
    rotate = sub(clients, "rotate-secret", "give a client a new secret", secret=True)
    rotate.add_argument("id", help="the client's id (uuid)")
    _secret_options(rotate)

    grants = sub(groups, "grants", "client grants").add_subparsers(
        dest="command", metavar="COMMAND"
    )
    listing = sub(grants, "list", "list the grants")
    listing.add_argument("--client-id", dest="grant_client_id", help="only this client's (uuid)")
    listing.add_argument("--audience", help="only those for this audience")
    grant = sub(grants, "create", "let a client get tokens for an audience")
    grant.add_argument(
        "--client-id", dest="grant_client_id", required=True, help="the client's id (uuid)"
    )
    grant.add_argument("--audience", required=True, metavar="URL")
    grant.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        required=True,
        metavar="SCOPE",
        help="a scope its tokens carry, e.g. admin:accounts; repeatable",
    )
    grant.add_argument("--type", dest="grant_type", choices=grant_types(), default="any")
    sub(grants, "delete", "delete a grant").add_argument("id", help="the grant's id")
    return parser


def _secret_options(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument(
        "--show-secret", action="store_true", help="print the new secret in the JSON on stdout"
    )
    where.add_argument(
        "--secret-file",
        metavar="PATH",
        help="write the new secret to PATH, a new file with mode 0600 (never overwritten)",
    )


async def _run(args: argparse.Namespace) -> Any:
    overrides: dict[str, Any] = {"timeout": args.timeout}
    for key, value in [
        ("account_id", args.account_id),
        ("client_id", args.auth_client_id),
        ("base_url", args.base_url),
    ]:
        if value is not None:
            overrides[key] = value
    if args.allow_insecure_http:
        overrides["allow_insecure_http"] = True
    async with Dintero.from_env(**overrides) as dintero:
        if args.account == dintero.account_id:
            raise InvalidInputError(
                f"--account {args.account} is the account you log in to: leave --account out"
            )
        target = dintero if args.account is None else dintero.for_account(args.account)
        if args.group == "token":
            return {"ok": True, "expires_in": await target.verify_credentials()}
        if args.group == "grants":
            return await _grants(target, args)
        clients = target.clients
        if args.command == "create":
            specs = None if args.grants is None else [_grant_spec(g) for g in args.grants]
            return await clients.create(
                name=args.name,
                description=args.description,
                client_id=args.new_client_id,
                callbacks=args.callbacks,
                grants=specs,
            )
        if args.command == "list":
            return [client.to_dict() for client in await clients.list()]
        if args.command == "get":
            return (await clients.get(args.id)).to_dict()
        if args.command == "delete":
            await clients.delete(args.id)
            return {"deleted": args.id}
        return await clients.rotate_secret(args.id)


async def _grants(target: Dintero | MerchantAccount, args: argparse.Namespace) -> Any:
    grants = target.grants
    if getattr(args, "grant_client_id", None) is not None:  # list and create
        _check_client_uuid(args.grant_client_id)
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


def _check_client_uuid(text: str) -> None:
    try:
        uuid.UUID(text)
    except ValueError:
        raise InvalidInputError(
            f"--client-id must be the client's id (a UUID, the id that clients create and "
            f"clients list print), not its client_id; got {text!r}"
        ) from None


def _grant_spec(text: str) -> GrantSpec:
    """`AUDIENCE=SCOPE[,SCOPE]`: split at the last `=` (scopes have none; a URL might)."""
    audience, equals, scopes = text.rpartition("=")
    if not equals:
        raise InvalidInputError("--grant must be AUDIENCE=SCOPE[,SCOPE], e.g. URL=admin:accounts")
    return GrantSpec(audience=audience, scopes=scopes.split(","))


def _check_before_sending(args: argparse.Namespace) -> str | None:
    """What is wrong with the settings that only the command line knows of, if anything."""
    base_url = args.base_url if args.base_url is not None else os.environ.get("DINTERO_BASE_URL")
    if base_url and not args.allow_insecure_http:
        try:
            url = httpx.URL(base_url)
            insecure = url.scheme == "http" and bool(url.host) and not is_loopback(url.host)
        except (httpx.InvalidURL, ValueError):
            insecure = False  # the SDK says what is wrong with it
        if insecure:
            return (
                "the base URL (--base-url or DINTERO_BASE_URL) is plain http:// to a host that "
                "is not loopback, so credentials would cross the network unencrypted; to allow "
                "it (e.g. an emulator in another container), pass --allow-insecure-http"
            )
    if args.group != "clients" or args.command not in SECRET_COMMANDS:
        return None
    if not args.show_secret and args.secret_file is None:
        return (
            f"clients {args.command} makes a new client secret that Dintero shows only once: "
            "say where it goes with --secret-file PATH (a new file, mode 0600) or --show-secret "
            "(printed on stdout); nothing was sent"
        )
    if args.secret_file is None:
        return None
    path = args.secret_file
    directory = os.path.dirname(os.path.abspath(path))
    if not path or path.endswith(("/", os.sep)):
        return f"--secret-file must name a file, got {path!r}"
    if os.path.lexists(path):
        return f"--secret-file {path} already exists and is never overwritten: name a new file"
    if not os.path.isdir(directory):
        return f"--secret-file {path}: the directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"--secret-file {path}: the directory {directory} is not writable"
    return None


def _write_new_file(path: str, text: str) -> None:
    """Create `path` (mode 0600, never over an existing file or through a symlink), write `text`
    and a newline, and sync it to disk; on any failure, remove what was created and raise."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        data = (text + "\n").encode()
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)  # no half-written or empty secret file left behind
        raise
    os.close(fd)
    with contextlib.suppress(OSError):  # make the new directory entry durable too (best effort)
        directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _secret_output(
    client: ClientWithSecret, grants: Sequence[Any] | None, args: argparse.Namespace
) -> tuple[dict[str, Any], bool]:
    """The JSON for a client with its new secret, which is first put where the user asked.

    Returns the body and whether the secret went where asked: if --secret-file could not be
    written, the secret stays in the body (it must not be lost) and a warning is printed."""
    body = client.to_dict()
    if grants is not None:
        body["grants"] = [grant.to_dict() for grant in grants]
    if args.secret_file is None:
        return body, True  # --show-secret: checked before anything was sent
    path = os.path.abspath(args.secret_file)
    try:
        _write_new_file(path, client.client_secret)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        print(
            f"warning: the new client secret could not be written to {path} ({reason}); it is "
            "printed on stdout instead: store it now, Dintero never shows it again",
            file=sys.stderr,
            flush=True,
        )
        return body, False
    body["client_secret"] = MASK
    body["client_secret_file"] = path
    return body, True


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


#: The SDK's messages speak Python; these say the same to someone at a shell.
_SHELL_WORDING = (
    ("account_id must", "the account id (--account-id or DINTERO_ACCOUNT_ID) must"),
    ("base_url must", "the base URL (--base-url or DINTERO_BASE_URL) must"),
    ("base_url is", "the base URL (--base-url or DINTERO_BASE_URL) is"),
    ("allow_insecure_http=True", "--allow-insecure-http"),
    ("total_timeout of ", "the overall time limit of "),
    (" (raise max_response_bytes if such answers are expected)", ""),
    ("(grants.list(client_id=...))", "(dintero-aio grants list --client-id ID)"),
    ("`", ""),
)


def _for_shell(error: DinteroError) -> str:
    if isinstance(error, GrantFailedError):
        made = len(error.grants)
        message = (
            f"client {error.client.id} was created, but its grant for "
            f"{error.not_made[0].audience} failed ({made} of {made + len(error.not_made)} "
            f"grants made): {error.__cause__}"
        )
    else:
        message = str(error)
    for python, shell in _SHELL_WORDING:
        message = message.replace(python, shell)
    return " ".join(message.split())  # one line


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.group is None or getattr(args, "command", None) is None:  # no command: its usage
        print(args.usage(), end="", file=sys.stderr)
        return EXIT_INPUT
    problem = _check_before_sending(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_INPUT
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="dintero-aio: %(message)s")
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        result = asyncio.run(_run(args))
    except DinteroError as error:
        status = _exit_status(error)
        if isinstance(error, GrantFailedError):  # the client exists: print it, so it is not lost
            body, delivered = _secret_output(error.client, error.grants, args)
            _print(body)
            status = status if delivered else EXIT_SECRET_ON_STDOUT
        print(f"error: {_for_shell(error)}", file=sys.stderr)
        return status
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    if isinstance(result, ClientWithGrants):
        result, delivered = _secret_output(result.client, result.grants, args)
    elif isinstance(result, ClientWithSecret):
        result, delivered = _secret_output(result, None, args)
    else:
        delivered = True
    _print(result)
    return 0 if delivered else EXIT_SECRET_ON_STDOUT


def _print(result: Any) -> None:
    json.dump(result, sys.stdout, indent=2, default=str)
    print()
