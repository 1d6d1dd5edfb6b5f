"""The dintero-aio command: the SDK from the shell, printing JSON on stdout and one-line errors
on stderr.

Credentials come from DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID and DINTERO_CLIENT_SECRET (the first
two may be given as options), the API from DINTERO_BASE_URL (or an option), the transport from
DINTERO_BACKEND (or --backend) and a fleet token cache from DINTERO_REDIS_URL. The secret and the
Redis URL have no option on purpose: an option would leave them in the shell history and in
every process listing. A value read from the environment is never echoed in an error, only the
variable's name: a secret pasted into the wrong variable must not end up in a terminal or a CI
log. Options go before or after the command (`clients list --account T...`). A partner acts on
one of its merchant accounts with --account (through an exchange token). Plain http is allowed
only to a loopback host, or to any host with --allow-insecure-http.

A command that makes a client secret (clients create, clients rotate-secret) runs only when the
secret has somewhere to go, checked before anything is sent: --show-secret (printed on stdout) or
--secret-file PATH (a new file, mode 0600, never overwritten, holding exactly the secret, written
and synced before anything is printed). The secret is delivered the moment Dintero's answer is
read, before any grant of `clients create --grant` is requested; SIGINT and SIGTERM wait for
that answer (a second signal stops at once). If the file cannot be written, the secret is printed
on stdout rather than lost, with a warning, and the exit status is 7; if stdout fails too, stderr
names the new client so that it can be rotated or deleted (exit 7).

Exit statuses: 0 success; 1 stdout could not be written; 2 bad input (also argparse's usage
errors, and a command that makes a secret without --show-secret or --secret-file); 3 credentials
or permission rejected; 4 network; 5 server error or malformed response; 6 any other error
status; 7 the new secret could not be written where asked (printed on stdout instead, or lost
with the client named on stderr); 130 SIGINT; 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from dintero_aio_api.models import ClientWithSecret, Grant

from . import _inputs
from ._dintero import Dintero
from ._errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    DinteroError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    PermissionDeniedError,
)
from ._grants import GrantSpec
from ._merchants import MerchantAccount
from ._version import __version__

#: Exit statuses, one per class of failure.
EXIT_OUTPUT = 1  # stdout could not be written (closed, full, a broken pipe)
EXIT_INPUT = 2  # bad arguments or settings (argparse uses 2 as well)
EXIT_AUTH = 3  # credentials, audience or permissions rejected
EXIT_NETWORK = 4  # no response: connection failure or timeout
EXIT_SERVER = 5  # 5xx or a response that does not match the spec
EXIT_REJECTED = 6  # any other error status (400, 404, 429, ...)
EXIT_SECRET_ON_STDOUT = 7  # the secret did not go where asked: on stdout instead, or lost
#: 128 + the signal's number, as shells report a process a signal ended.
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}

MASK = "**********"
SECRET_COMMANDS = ("create", "rotate-secret")  # of the clients group: they make a secret
BACKENDS = ("httpcore", "aiohttp")
_MAX_SECONDS = 7 * 24 * 3600.0

_DESCRIPTION = """\
Manage Dintero auth clients and their grants from the shell:
JSON on stdout, one-line errors on stderr."""
_CREDENTIALS = """\
settings (read from the environment; the options go before or after the command):
  DINTERO_ACCOUNT_ID     the account to log in to (or: --account-id ...)
  DINTERO_CLIENT_ID      the client to log in as (or: --auth-client-id ...)
  DINTERO_CLIENT_SECRET  its secret: from the environment only, never an option (options end
                         up in shell history and process listings)
  DINTERO_BASE_URL       optional API base URL, default https://api.dintero.com/v1
                         (or: --base-url ...)
  DINTERO_BACKEND        optional transport, httpcore (default) or aiohttp (or: --backend ...)
  DINTERO_REDIS_URL      optional Redis that shares one token among processes; from the
                         environment only (it may hold a password)
An invalid value is never echoed in an error, only the variable's name."""
_EXIT_STATUSES = """\
exit statuses:
  0 success, 1 stdout could not be written, 2 bad input, 3 credentials or permission rejected,
  4 network, 5 server error or malformed response, 6 any other error status, 7 the new secret
  did not go where asked (printed on stdout instead, or lost: stderr names the client),
  130 interrupted (SIGINT), 143 terminated (SIGTERM)"""
_SHOWN_ONCE_NOTE = """\
the new client secret is shown only once: give --show-secret (printed in the JSON on stdout)
or --secret-file PATH (a new file with mode 0600 holding exactly the secret, no newline, written
before anything is printed or granted; the JSON then shows it masked and names the file).
Without either, nothing is sent. If the file cannot be written once the secret exists, the
secret is printed on stdout instead, with exit status 7."""


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


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options of every command, on the top parser with their defaults and on each
    subcommand with none (argparse.SUPPRESS), so that one given after the command is taken and
    one not given there leaves the top parser's value alone."""

    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    parser.add_argument(
        "--account-id", default=default(None), help="the account (oid); default $DINTERO_ACCOUNT_ID"
    )
    parser.add_argument(
        "--auth-client-id",
        default=default(None),
        help="client to log in as; default $DINTERO_CLIENT_ID",
    )
    parser.add_argument(
        "--base-url",
        default=default(None),
        help="API base URL; default $DINTERO_BASE_URL or Dintero's",
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=default(None),
        help="how requests are sent; default $DINTERO_BACKEND or httpcore (aiohttp needs the "
        "aiohttp extra)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        default=default(False),
        help="allow a plain http:// base URL to a host that is not loopback, e.g. an emulator in "
        "another container (credentials then cross the network unencrypted)",
    )
    parser.add_argument(
        "--account",
        metavar="ACCOUNT_ID",
        default=default(None),
        help="act on this merchant account of the partner you log in as (exchange token)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=default(30.0),
        metavar="SECONDS",
        help="seconds per attempt (default 30)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log token fetches and retries on stderr",
    )


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
        _global_options(made, top=False)
        made.set_defaults(usage=made.format_help)
        return made

    parser = argparse.ArgumentParser(
        prog="dintero-aio",
        description=_DESCRIPTION,
        epilog=f"{_CREDENTIALS}\n\n{_EXIT_STATUSES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _global_options(parser, top=True)
    parser.set_defaults(usage=parser.format_help)
    groups = parser.add_subparsers(dest="group", metavar="{token,clients,grants}")

    token = sub(groups, "token", "access tokens").add_subparsers(dest="command", metavar="COMMAND")
    sub(token, "check", "fetch a token: checks the credentials and the audience")

    clients = sub(groups, "clients", "auth clients").add_subparsers(
        dest="command", metavar="COMMAND"
    )
    create = sub(clients, "create", "create a client (its secret is shown only once)", secret=True)
    create.add_argument("--name", help="the new client's name")
    create.add_argument("--description", help="what the new client is for")
    create.add_argument(
        "--client-id",
        dest="new_client_id",
        help="the new client's client_id (default: Dintero picks one)",
    )
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
    grant.add_argument("--audience", required=True, metavar="URL", help="the API it may use")
    grant.add_argument(
        "--scope",
        action="append",
        dest="scopes",
        required=True,
        metavar="SCOPE",
        help="a scope its tokens carry, e.g. admin:accounts; repeatable",
    )
    grant.add_argument(
        "--type",
        dest="grant_type",
        choices=_inputs.grant_types(),
        default="any",
        help="the grant_type it may be used with (default any)",
    )
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


# Checks before anything is sent.


def _from_environment(flag_value: str | None, variable: str) -> bool:
    """Whether a setting comes from the environment (no option given, the variable set)."""
    return flag_value is None and bool(os.environ.get(variable))


def _check_settings(args: argparse.Namespace) -> str | None:
    """What is wrong with a setting, naming where it came from; never a value that came from
    the environment (it may be a secret set in the wrong variable)."""
    account_id = args.account_id or os.environ.get("DINTERO_ACCOUNT_ID")
    if account_id:
        try:
            _inputs.account_id(account_id)
        except InvalidInputError:
            shape = "must be P or T followed by 3 or 8 digits, e.g. T12345678"
            if args.account_id is None:
                return f"DINTERO_ACCOUNT_ID {shape} (its value is not shown)"
            return f"--account-id {shape}; got {account_id!r}"
    backend = os.environ.get("DINTERO_BACKEND")
    if _from_environment(args.backend, "DINTERO_BACKEND") and backend not in BACKENDS:
        return f"DINTERO_BACKEND must be {' or '.join(BACKENDS)} (its value is not shown)"
    base_url = args.base_url if args.base_url is not None else os.environ.get("DINTERO_BASE_URL")
    if base_url and not args.allow_insecure_http:
        try:
            url = httpx.URL(base_url)
            insecure = url.scheme == "http" and bool(url.host) and not _inputs.is_loopback(url.host)
        except (httpx.InvalidURL, ValueError):
            insecure = False  # the SDK says what is wrong with it
        if insecure:
            return (
                "the base URL (--base-url or DINTERO_BASE_URL) is plain http:// to a host that "
                "is not loopback, so credentials would cross the network unencrypted; to allow "
                "it (e.g. an emulator in another container), pass --allow-insecure-http"
            )
    return None


def _check_secret_destination(args: argparse.Namespace) -> str | None:
    """What stops a command that makes a secret from delivering it, if anything: checked
    before anything is sent, since Dintero shows the secret once."""
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
    if not path or path.endswith(("/", os.sep)):
        return f"--secret-file must name a file, got {path!r}"
    absolute = os.path.abspath(path)
    directory, name = os.path.split(absolute)
    if os.path.lexists(path):
        return f"--secret-file {path} already exists and is never overwritten: name a new file"
    if not os.path.isdir(directory):
        return f"--secret-file {path}: the directory {directory} does not exist"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"--secret-file {path}: the directory {directory} is not writable"
    name_max = _limit(directory, "PC_NAME_MAX", 255)
    if len(os.fsencode(name)) > name_max:
        return (
            f"--secret-file: the file name is {len(os.fsencode(name))} bytes long, and this file "
            f"system allows at most {name_max}: name a shorter file"
        )
    path_max = _limit(directory, "PC_PATH_MAX", 4096)
    if len(os.fsencode(absolute)) >= path_max:
        return f"--secret-file: the path is longer than this system allows ({path_max} bytes)"
    return None


def _limit(directory: str, name: str, default: int) -> int:
    try:
        value = os.pathconf(directory, name)
    except (OSError, ValueError):  # not known here: the usual Linux limit
        return default
    return value if value > 0 else default


def _grant_spec(text: str) -> GrantSpec:
    """`AUDIENCE=SCOPE[,SCOPE]`: split at the last `=` (scopes have none; a URL might)."""
    audience, equals, scopes = text.rpartition("=")
    if not equals:
        raise InvalidInputError("--grant must be AUDIENCE=SCOPE[,SCOPE], e.g. URL=admin:accounts")
    return GrantSpec(audience=audience, scopes=scopes.split(","))


def _check_client_uuid(text: str) -> None:
    try:
        uuid.UUID(text)
    except ValueError:
        raise InvalidInputError(
            f"--client-id must be the client's id (a UUID, the id that clients create and "
            f"clients list print), not its client_id; got {text!r}"
        ) from None


# Where output goes.


class Stdout:
    """stdout, written a whole piece at a time and flushed, remembering why it failed.

    A closed stdout (`>&-`: Python then has no sys.stdout), a full disk (`>/dev/full`) or a
    reader that went away (a broken pipe) must not end the command with a traceback: the
    command decides what the failure means (for a secret printed nowhere else, exit 7)."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def write(self, text: str) -> bool:
        stream = sys.stdout
        if self.failure is None and stream is None:
            self.failure = "stdout is closed"
        if self.failure is not None or stream is None:
            return False
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.failure = getattr(exc, "strerror", None) or type(exc).__name__
            _discard_stdout(stream)
            return False
        return True


def _discard_stdout(stream: Any) -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's own flush at exit finds
    somewhere to put what is still buffered instead of printing "Exception ignored"."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


def _json(value: Any) -> str:
    """JSON as the command prints it: indented, ASCII only (so a lone surrogate in a name is an
    escape, never an encoding error), UUIDs and datetimes as text."""
    return json.dumps(value, indent=2, default=str)


_HOLE = "\x00grants\x00"  # where a client's grants go in its JSON, once they are made


def _split_around_grants(body: dict[str, Any]) -> tuple[str, str]:
    """The JSON of `body` with a `grants` member, cut where that member's list goes: the head
    can be printed before the grants are made, and head + grants + tail is the whole."""
    head, _, tail = _json({**body, "grants": _HOLE}).partition(_json(_HOLE))
    return head, tail


def _grants_json(grants: Sequence[Grant]) -> str:
    """The grants list as it reads one level down in the client's JSON."""
    return _json([grant.to_dict() for grant in grants]).replace("\n", "\n  ")


# Secrets: delivered first, then anything else.


def _write_new_file(path: str, text: str) -> None:
    """Create `path` (mode 0600, never over an existing file or through a symlink), write
    exactly `text` and sync it to disk; on any failure, remove what was created and raise."""
    data = text.encode()  # before the file exists: an unencodable text leaves no file behind
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    flags |= getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
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


def _valid_text(secret: str) -> bool:
    try:
        secret.encode()
    except UnicodeEncodeError:
        return False
    return True


class Session:
    """One run of a command: its arguments, its output, and the signals it received.

    SIGINT and SIGTERM cancel the command, except while a call that makes a secret is waiting
    for Dintero's answer: that answer holds a secret Dintero never shows again, so the signal
    is honoured once it is delivered (a second signal stops at once)."""

    def __init__(self, args: argparse.Namespace, task: asyncio.Task[int]) -> None:
        self.args = args
        self.stdout = Stdout()
        self.signal: signal.Signals | None = None
        self._task = task
        self._holding = False

    def on_signal(self, signum: signal.Signals) -> None:
        first = self.signal is None
        if first:
            self.signal = signum
        if self._holding and first:
            print(
                f"dintero-aio: {signum.name}: stopping once Dintero's answer, which holds the "
                "new secret, is stored (a second signal stops now, and the secret may be lost)",
                file=sys.stderr,
                flush=True,
            )
            return
        self._task.cancel()

    @contextlib.contextmanager
    def holding_signals(self) -> Iterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def stop_if_signalled(self) -> None:
        """Where a held signal takes effect: raise as the cancellation would have."""
        if self.signal is not None:
            raise asyncio.CancelledError

    def stopped(self) -> bool:
        """After a CancelledError: whether it was this session's signal (then absorbed)."""
        if self.signal is None:
            return False
        self._task.uncancel()
        return True

    @property
    def signal_status(self) -> int:
        assert self.signal is not None
        return EXIT_SIGNAL[self.signal]

    def rotate_hint(self, client_id: str) -> str:
        account = "" if self.args.account is None else f" --account {self.args.account}"
        return (
            f"rotate its secret (dintero-aio{account} clients rotate-secret {client_id} "
            f"--secret-file PATH) or delete it (dintero-aio{account} clients delete {client_id})"
        )


class Delivery:
    """Where a new secret went: the client's JSON (masked when the file holds the secret)."""

    def __init__(self, client: ClientWithSecret, session: Session) -> None:
        self.client_id = str(client.id)
        self.body = client.to_dict()
        self.in_file: str | None = None
        args = session.args
        if args.secret_file is None:
            return  # --show-secret: the body carries it to stdout
        path = os.path.abspath(args.secret_file)
        try:
            _write_new_file(path, client.client_secret)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            print(
                f"warning: the new client secret could not be written to {path} ({reason}); it "
                "is printed on stdout instead: store it now, Dintero never shows it again",
                file=sys.stderr,
                flush=True,
            )
            return
        self.in_file = path
        self.body["client_secret"] = MASK
        self.body["client_secret_file"] = path

    def lost(self, session: Session, what: str) -> int:
        """stdout failed while it was the secret's only destination."""
        _error(
            f"the new client secret could not be printed on stdout ({session.stdout.failure}) "
            f"and is lost: {what}; {session.rotate_hint(self.client_id)}"
        )
        return EXIT_SECRET_ON_STDOUT

    def output_failed(self, session: Session, what: str) -> int:
        """stdout failed: the secret is lost unless the file holds it."""
        if self.in_file is None:
            return self.lost(session, what)
        _error(
            f"stdout could not be written ({session.stdout.failure}): {what}; its secret is in "
            f"{self.in_file}"
        )
        return EXIT_OUTPUT


async def _secret_call(
    target: Dintero | MerchantAccount, args: argparse.Namespace
) -> ClientWithSecret:
    """The call that makes a secret: a create (its grants come after the secret is stored) or
    a rotation."""
    if args.command == "create":
        return await target.clients.create(
            name=args.name,
            description=args.description,
            client_id=args.new_client_id,
            callbacks=args.callbacks,
        )
    return await target.clients.rotate_secret(args.id)


async def _make_secret(
    session: Session, target: Dintero | MerchantAccount, specs: Sequence[GrantSpec]
) -> int:
    """clients create / rotate-secret: the secret goes where asked the moment it exists, then
    the grants are made, each after checking for a signal."""
    args = session.args
    with session.holding_signals():
        client = await _secret_call(target, args)
    what = (
        f"client {client.id} was created"
        if args.command == "create"
        else (f"the secret of client {client.id} was rotated")
    )
    if not _valid_text(client.client_secret):
        _error(
            f"Dintero's answer holds a client secret that is not valid text (it cannot be "
            f"encoded as UTF-8), so it can be neither stored nor used to log in: {what}, no "
            f"grant was made; {session.rotate_hint(str(client.id))}"
        )
        return EXIT_SERVER
    delivery = Delivery(client, session)
    went_where_asked = delivery.in_file is not None or args.show_secret
    status = 0 if went_where_asked else EXIT_SECRET_ON_STDOUT
    if args.command != "create" or args.grants is None:
        if not session.stdout.write(_json(delivery.body) + "\n"):
            return delivery.output_failed(session, what)
        return status
    head, tail = _split_around_grants(delivery.body)
    if not session.stdout.write(head):  # the secret is on disk or on stdout: now the grants
        return delivery.output_failed(session, f"{what}, no grant was made")
    made: list[Grant] = []
    failure: DinteroError | None = None
    try:
        for spec in specs:
            session.stop_if_signalled()
            made.append(
                await target.grants.create(
                    client_id=client, audience=spec.audience, scopes=spec.scopes, type=spec.type
                )
            )
    except DinteroError as error:
        failure = error
    except asyncio.CancelledError:
        if not session.stopped():
            raise
    if not session.stdout.write(_grants_json(made) + tail + "\n"):
        return delivery.output_failed(session, f"{what}, {len(made)} of {len(specs)} grants made")
    if failure is not None:
        _error(
            f"client {client.id} was created, but its grant for {specs[len(made)].audience} "
            f"failed ({len(made)} of {len(specs)} grants made): {_for_shell(failure)}"
        )
        return status or _exit_status(failure)
    if session.signal is not None:
        where = (
            f"its secret is in {delivery.in_file}"
            if delivery.in_file
            else ("its secret is printed above")
        )
        _error(
            f"stopped by {session.signal.name}: client {client.id} was created and {where}; "
            f"{len(made)} of {len(specs)} grants made (one under way when stopped may have "
            f"been made too: dintero-aio grants list --client-id {client.id})"
        )
        return status or session.signal_status
    return status


async def _command(session: Session) -> int:
    args = session.args
    specs = [] if getattr(args, "grants", None) is None else [_grant_spec(g) for g in args.grants]
    if getattr(args, "grant_client_id", None) is not None:  # grants list and create
        _check_client_uuid(args.grant_client_id)
    overrides: dict[str, Any] = {"timeout": args.timeout}
    for key, value in [
        ("account_id", args.account_id),
        ("client_id", args.auth_client_id),
        ("base_url", args.base_url),
        ("backend", args.backend),
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
        if args.group == "clients" and args.command in SECRET_COMMANDS:
            return await _make_secret(session, target, specs)
        result = await _call(target, args)
        if not session.stdout.write(_json(result) + "\n"):
            _error(f"stdout could not be written ({session.stdout.failure})")
            return EXIT_OUTPUT
        return 0


async def _call(target: Dintero | MerchantAccount, args: argparse.Namespace) -> Any:
    """The commands that make no secret: their JSON result."""
    if args.group == "token":
        return {"ok": True, "expires_in": await target.verify_credentials()}
    if args.group == "clients":
        if args.command == "list":
            return [client.to_dict() for client in await target.clients.list()]
        if args.command == "get":
            return (await target.clients.get(args.id)).to_dict()
        await target.clients.delete(args.id)
        return {"deleted": args.id}
    if args.command == "list":
        listed = await target.grants.list(client_id=args.grant_client_id, audience=args.audience)
        return [grant.to_dict() for grant in listed]
    if args.command == "create":
        made = await target.grants.create(
            client_id=args.grant_client_id,
            audience=args.audience,
            scopes=args.scopes,
            type=args.grant_type,
        )
        return made.to_dict()
    await target.grants.delete(args.id)
    return {"deleted": args.id}


async def _session(args: argparse.Namespace) -> int:
    """Run the command with SIGINT and SIGTERM routed through its `Session`."""
    task = asyncio.current_task()
    assert task is not None
    session = Session(args, task)
    loop = asyncio.get_running_loop()
    for signum in EXIT_SIGNAL:
        loop.add_signal_handler(signum, session.on_signal, signum)
    try:
        return await _command(session)
    except DinteroError as error:
        _error(_for_shell(error))
        return _exit_status(error)
    except asyncio.CancelledError:
        if not session.stopped():
            raise
        _error(f"stopped by {session.signal.name if session.signal else 'a signal'}")
        return session.signal_status
    finally:
        for signum in EXIT_SIGNAL:
            loop.remove_signal_handler(signum)


# Errors, in words for a shell.


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

#: Settings that are secrets whatever their shape: an error that quotes any part of one is
#: replaced by one that names the variable.
_SECRET_VARIABLES = ("DINTERO_CLIENT_SECRET", "DINTERO_REDIS_URL")
_QUOTED = 8  # this many characters of a secret in a message count as quoting it


def _quotes(message: str, value: str) -> bool:
    if len(value) < _QUOTED:
        return value in message
    return any(value[i : i + _QUOTED] in message for i in range(len(value) - _QUOTED + 1))


def _for_shell(error: DinteroError) -> str:
    message = str(error)
    for variable in _SECRET_VARIABLES:
        value = os.environ.get(variable)
        if value and _quotes(message, value):
            return f"the setting from {variable} is not valid (its value is not shown)"
    for python, shell in _SHELL_WORDING:
        message = message.replace(python, shell)
    return " ".join(message.split())  # one line


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.group is None or getattr(args, "command", None) is None:  # no command: its usage
        print(args.usage(), end="", file=sys.stderr)
        return EXIT_INPUT
    problem = _check_settings(args) or _check_secret_destination(args)
    if problem is not None:
        _error(problem)
        return EXIT_INPUT
    with _verbose(args.verbose):
        try:
            return asyncio.run(_session(args))
        except KeyboardInterrupt:  # before the command's own handler was in place
            return EXIT_SIGNAL[signal.SIGINT]


@contextlib.contextmanager
def _verbose(on: bool) -> Iterator[None]:
    """-v: the SDK's log (token fetches, retries) on stderr, for this command only; the
    process's logging configuration is left as it was (main() may run inside another program)."""
    if not on:
        yield
        return
    logger = logging.getLogger("dintero_aio")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dintero-aio: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
