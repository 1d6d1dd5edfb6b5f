"""`python -m dintero_aio.testing serve`: the emulator as a standalone local server.

For demos and for trying an SDK by hand. It prints `key: value` lines, the audience last: the
base URL a client on this machine uses (the loopback address when it listens on all interfaces,
`--host 0.0.0.0`: a wildcard is not an address to connect to, and the SDK takes plain http only
to a loopback host), where it listens, and the test credentials it accepts (the emulator's own
test values, not secrets). It serves until SIGINT or SIGTERM, then exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from types import FrameType

from .emulator import DEFAULT_CLIENT_SECRET, Emulator
from .server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dintero_aio.testing", description="A local Dintero management-auth API."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve the emulator until SIGINT or SIGTERM")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=0, help="port to bind (default 0: any free one)")
    run.add_argument("--account-id", default="T12345678")
    run.add_argument("--client-id", default="emulator-client")
    run.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    run.add_argument(
        "--merchant",
        action="append",
        default=[],
        metavar="ACCOUNT_ID",
        help="a merchant account of the (partner) account, for the exchange token; repeatable",
    )
    run.add_argument(
        "--no-grants",
        action="store_true",
        help="let clients created through the API log in without a client grant",
    )
    run.add_argument("--expires-in", type=int, default=14400, help="token lifetime in seconds")
    run.add_argument(
        "--token-rate-limit",
        type=_positive,
        metavar="N",
        help="answer 429 with Retry-After beyond N token requests (Get Token and exchange) per "
        "account per rolling second (default: no limit)",
    )
    run.add_argument("--access-log", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    try:
        emulator = Emulator(
            account_id=args.account_id,
            client_id=args.client_id,
            client_secret=args.client_secret,
            expires_in=args.expires_in,
            merchants=args.merchant,
            require_grants=not args.no_grants,
            token_rate_limit=args.token_rate_limit,
        )
    except ValueError as exc:
        parser.error(str(exc))

    if args.access_log:  # uvicorn's loggers have no handlers of their own here (log_config=None)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Signal handlers only record the signal: the main thread polls, so nothing in a handler
    # can deadlock on a lock the interrupted code holds.
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        with serve(emulator, host=args.host, port=args.port, quiet=not args.access_log) as running:
            print(f"base_url: {running.base_url}")
            bound = running.host or "0.0.0.0"  # noqa: S104 - what "" means when binding
            bound = f"[{bound}]" if ":" in bound else bound
            everywhere = " (all interfaces)" if running.listens_on_all_interfaces else ""
            print(f"listening: {bound}:{running.port}{everywhere}")
            print(f"account_id: {emulator.account_id}")
            print(f"client_id: {emulator.client_id}")
            print(f"client_secret: {emulator.client_secret}")
            if emulator.merchants:
                print(f"merchants: {','.join(emulator.merchants)}")
            if emulator.token_rate_limit is not None:
                print(f"token_rate_limit: {emulator.token_rate_limit} per account per second")
            print(f"audience: {emulator.audience}", flush=True)
            while not received:
                time.sleep(0.1)
    except OSError as exc:  # the address is taken or not ours
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"stopped by {signal.Signals(received[0]).name}", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
