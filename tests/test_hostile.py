"""Every public operation against a hostile server whose every answer hypothesis draws.

For each example (see `tests/hostile.py` for what the server can do) the invariants are:

- the call returns the spec's model (verify_credentials: an int; delete: None) or raises a
  `DinteroError`; a pristine 200 answer returns the model;
- no secret (client secret, Basic credentials, any token or client secret the server sent, and
  their base64 forms) is in `str`/`repr` of the error, in any log record at DEBUG, or anywhere
  reachable from the error through `args`, `__cause__`, `__context__` and attributes;
- after `aclose()`: no task of ours is left, no socket to the server is open, no ResourceWarning;
- the call ends within `total_timeout` (plus slack for a loaded machine);
- a create or rotate is sent again only if every earlier attempt was provably not processed: the
  server did not read it whole, or its status line said 401/429/503;
- on a create/rotate error, `outcome_unknown` is True when the server read a whole request and
  the client could not read its status, or read 2xx/500/502/504 (the README's list, plus an
  unusable 2xx); False when every attempt that reached the server was cleanly answered with a
  4xx or 503 (or none reached it); 1xx, 3xx, 501 and 505-999 are left open, as in the README;
- a body that inflates past `BOMB_SIZE` never becomes a model and is not kept by the error.

Each violated invariant raises its own AssertionError subclass, so hypothesis reports each kind
of failure separately. Every test runs on both backends (httpx's own transport, and aiohttp's).
DINTERO_FUZZ_EXAMPLES sets the examples per test (6 tests per backend; by default 50 on httpcore
and 20 on aiohttp, which shares everything above the transport, to keep `make test` short).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dintero_aio
from dintero_aio import ClientInfo, ClientWithSecret, Dintero, DinteroError, RetryPolicy
from dintero_aio._http_client import BACKENDS
from dintero_aio._responses import _checker

from .hostile import (
    BOMB_SIZE,
    NON_IDEMPOTENT,
    OPERATIONS,
    REFUSALS,
    Behaviour,
    HostileServer,
    Received,
    client_sockets,
    find_secrets,
    largest_bytes,
    new_secret,
    scripts,
)

EXAMPLES = int(os.environ.get("DINTERO_FUZZ_EXAMPLES", "50"))
EXAMPLES_ON = {"httpcore": EXAMPLES, "aiohttp": int(os.environ.get("DINTERO_FUZZ_EXAMPLES", "20"))}
ACCOUNT = "T12345678"
CLIENT_ID = "hostile-client"
CLIENT_SECRET = new_secret("hostile-secret-")
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
TIMEOUT = 0.2  # per attempt
POLICY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, total_timeout=1.0)
SLACK = 1.5  # a loaded 2-core machine; a call past total_timeout + SLACK is a failure
HARD_LIMIT = 10.0  # the harness gives up on a call (and fails the example) after this long
FIGURES: Counter[str] = Counter()
#: The SDK's "an exception nobody anticipated" error, where it has one.
UNEXPECTED: tuple[type[BaseException], ...] = tuple(
    cls for cls in [getattr(dintero_aio, "UnexpectedError", None)] if cls is not None
)

HOSTILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


# --- one AssertionError subclass per invariant, so hypothesis keeps them apart ---------------


class Violation(AssertionError):
    """An invariant of the SDK did not hold."""


class UntypedException(Violation):
    pass


class WrongResult(Violation):
    pass


class ValidAnswerRejected(Violation):
    pass


class DeadlineOverrun(Violation):
    pass


class SecretInMessage(Violation):
    pass


class SecretInLog(Violation):
    pass


class SecretReachable(Violation):
    pass


class LeakedTask(Violation):
    pass


class LeakedSocket(Violation):
    pass


class DuplicateRequest(Violation):
    pass


class OutcomeUnknownMissing(Violation):
    pass


class OutcomeUnknownSpurious(Violation):
    pass


class UnboundedBody(Violation):
    pass


# --- running one example ---------------------------------------------------------------------


@dataclass
class Outcome:
    operation: str
    target: str
    script: list[Behaviour]
    backend: str
    result: Any = None
    error: BaseException | None = None
    elapsed: float = 0.0
    close_error: BaseException | None = None
    leaked_tasks: list[str] = field(default_factory=list)
    open_sockets: list[str] = field(default_factory=list)
    resource_warnings: list[str] = field(default_factory=list)
    records: list[logging.LogRecord] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.error is None:
            return "model" if self.operation != "delete" else "deleted"
        suffix = " (outcome unknown)" if getattr(self.error, "outcome_unknown", False) else ""
        return type(self.error).__name__ + suffix


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        self.records.append(record)


async def _call(dintero: Dintero, operation: str) -> Any:
    some_id = uuid.uuid4()
    if operation == "token":
        return await dintero.verify_credentials()
    if operation == "create":
        return await dintero.clients.create(name="pos", client_id="pos-1")
    if operation == "list":
        return await dintero.clients.list()
    if operation == "get":
        return await dintero.clients.get(some_id)
    if operation == "delete":
        return await dintero.clients.delete(some_id)
    return await dintero.clients.rotate_secret(some_id)


async def _example(outcome: Outcome) -> None:
    loop = asyncio.get_running_loop()
    before = asyncio.all_tasks()
    async with HostileServer(outcome.target, outcome.script) as server:
        dintero = Dintero(
            account_id=ACCOUNT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            base_url=server.base_url,
            retry=POLICY,
            timeout=TIMEOUT,
            backend=outcome.backend,
        )
        started = loop.time()
        try:
            async with asyncio.timeout(HARD_LIMIT):
                outcome.result = await _call(dintero, outcome.operation)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            outcome.error = exc
        outcome.elapsed = loop.time() - started
        try:
            async with asyncio.timeout(HARD_LIMIT):
                await dintero.aclose()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            outcome.close_error = exc
        leftover = {
            task
            for task in asyncio.all_tasks() - before - server.tasks
            # asyncio's own accept of a connection the client gave up on: the server's side
            if "_accept_connection" not in task.get_coro().__qualname__  # type: ignore[union-attr]
        }
        outcome.leaked_tasks = [repr(task)[:200] for task in leftover]
    for _ in range(3):  # a closed transport lets go of its socket on the next loop iteration
        await asyncio.sleep(0)
    outcome.open_sockets = client_sockets(server.port)
    outcome.received = server.received
    outcome.issued = server.issued


def run_example(operation: str, target: str, script: list[Behaviour], backend: str) -> Outcome:
    outcome = Outcome(operation, target, script, backend)
    handler = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        # The direct check is the count of open sockets (`client_sockets`); warnings are only
        # recorded here (not turned into errors by pytest's filterwarnings) and reported with
        # it. A full gc.collect() per example would cost more than the example itself.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(_example(outcome))
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    outcome.records = handler.records
    outcome.resource_warnings = [
        str(w.message)[:200] for w in caught if issubclass(w.category, ResourceWarning)
    ]
    return outcome


# --- the invariants --------------------------------------------------------------------------


def _expected_type_ok(operation: str, result: Any) -> bool:
    if operation == "token":
        return isinstance(result, int) and not isinstance(result, bool)
    if operation == "delete":
        return result is None
    if operation == "list":
        return isinstance(result, list) and _checker(list[ClientInfo])(result)
    if operation in NON_IDEMPOTENT:
        return isinstance(result, ClientWithSecret) and _checker(ClientWithSecret)(result)
    return isinstance(result, ClientInfo) and _checker(ClientInfo)(result)


def refusal_announced(attempt: Received) -> bool:
    """The status line of the answer said "not processed" and reached the client in time."""
    b = attempt.behaviour
    return b is not None and b.status_delivered and b.status in REFUSALS


def maybe_processed(attempt: Received) -> bool:
    """The server read the whole request and did not announce that it refused it."""
    return attempt.fully_read and not refusal_announced(attempt)


def said_not_done(attempt: Received) -> bool:
    """The answer's status line said the request was not carried out (any 4xx, or 503)."""
    b = attempt.behaviour
    return b is not None and b.status_delivered and (400 <= b.status < 500 or b.status == 503)


#: Statuses after which the README promises `outcome_unknown`: a 2xx whose body is unusable (the
#: server accepted the request), and every 5xx but 501, 503 and 505 (which say it was not carried
#: out). 1xx and 3xx are not Dintero's answers and do not say either way.
AMBIGUOUS_STATUSES = frozenset({*range(200, 300), *(set(range(500, 1000)) - {501, 503, 505})})


def left_unknown(attempt: Received) -> bool:
    """The server read the whole request and the client cannot know whether it was carried out:
    no status reached the client (close, reset, timeout, garbage), or an ambiguous one did."""
    b = attempt.behaviour
    if not attempt.fully_read:
        return False
    if b is None:  # answered validly; an error means the client could not use the answer
        return True
    return not b.status_delivered or b.status in AMBIGUOUS_STATUSES


def cleanly_not_done(attempt: Received) -> bool:
    """As `said_not_done`, in a well-formed answer any client reads as sent."""
    b = attempt.behaviour
    return attempt.fully_read and said_not_done(attempt) and b is not None and b.clean


def describe(outcome: Outcome) -> str:
    lines = [
        f"operation {outcome.operation} on {outcome.backend}, hostile answers to {outcome.target}:"
    ]
    lines += [f"  {i}: {b.describe()}" for i, b in enumerate(outcome.script)]
    lines.append(f"  -> {outcome.kind}: {outcome.error!r:.300}" if outcome.error else "  -> ok")
    seen = [f"{r.operation}{'' if r.fully_read else ' (partly read)'}" for r in outcome.received]
    lines.append(f"  server saw: {', '.join(seen)}")
    return "\n".join(lines)


def violations(outcome: Outcome) -> Iterator[Violation]:
    """Every invariant the outcome breaks, the most fundamental first (a secret reachable from
    the error is checked last, so that it does not hide the other kinds while it is unfixed)."""
    error, op = outcome.error, outcome.operation
    story = describe(outcome)
    forbidden = [CLIENT_SECRET, f"{CLIENT_ID}:{CLIENT_SECRET}", *outcome.issued]

    if outcome.error is not None and not isinstance(error, DinteroError):
        untyped = UntypedException(f"{type(error).__name__} escaped\n{story}")
        untyped.__context__ = error  # hypothesis tells failures apart by where this was raised
        yield untyped
    # The SDK's boundary turns an exception it did not anticipate into `UnexpectedError` and
    # logs it at ERROR: typed for the caller, but a bug all the same.
    bug = [r for r in outcome.records if r.name == "dintero_aio" and r.levelno >= logging.ERROR]
    if isinstance(error, UNEXPECTED) or bug:
        cause = error.__cause__ if error is not None and error.__cause__ else error
        what = bug[0].getMessage() if bug else repr(error)
        untyped = UntypedException(f"the SDK reports a bug of its own: {what:.300}\n{story}")
        untyped.__context__ = cause
        yield untyped
    if outcome.close_error is not None:
        untyped = UntypedException(f"aclose() raised {outcome.close_error!r:.200}\n{story}")
        untyped.__context__ = outcome.close_error
        yield untyped
    if error is None and not _expected_type_ok(op, outcome.result):
        yield WrongResult(f"returned {outcome.result!r:.200}\n{story}")
    if outcome.script[0].pristine and error is not None:
        yield ValidAnswerRejected(f"a well-formed valid 200 was rejected\n{story}")

    if op in NON_IDEMPOTENT:
        attempts = [r for r in outcome.received if r.operation == op]
        for i in range(1, len(attempts)):
            if any(maybe_processed(a) for a in attempts[:i]):
                yield DuplicateRequest(f"{op} sent again after a maybe-processed attempt\n{story}")
                break
        if isinstance(error, DinteroError):
            must = any(left_unknown(a) for a in attempts)
            must_not = all(cleanly_not_done(a) for a in attempts)
            if must and not error.outcome_unknown:
                yield OutcomeUnknownMissing(f"outcome_unknown is False\n{story}")
            if must_not and error.outcome_unknown:
                yield OutcomeUnknownSpurious(f"outcome_unknown is True\n{story}")

    if outcome.elapsed > POLICY.total_timeout + SLACK:
        yield DeadlineOverrun(f"the call took {outcome.elapsed:.2f}s\n{story}")
    if outcome.leaked_tasks:
        yield LeakedTask(f"tasks left after aclose(): {outcome.leaked_tasks}\n{story}")
    if outcome.open_sockets:
        where = f"{outcome.open_sockets} {outcome.resource_warnings}"
        yield LeakedSocket(f"after aclose(): {where}\n{story}")

    attempts = [r for r in outcome.received if r.operation == outcome.target]
    last = attempts[-1].behaviour if attempts else None
    if last is not None and last.decoded_size >= BOMB_SIZE and error is None:
        yield UnboundedBody(f"a {BOMB_SIZE >> 20} MiB body became a model\n{story}")
    if error is not None and largest_bytes(error) >= BOMB_SIZE // 2:
        yield UnboundedBody(f"the error keeps a body of >= {BOMB_SIZE >> 21} MiB\n{story}")

    if error is not None and find_secrets(f"{error} {error!r}", forbidden):
        yield SecretInMessage(f"a secret is in the error's message\n{story}")
    if error is None and find_secrets(repr(outcome.result), forbidden):
        yield SecretInMessage(f"a secret is in the repr of the result\n{story}")
    for record in outcome.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        extras = " ".join(f"{value!r}" for value in vars(record).values())  # incl. `extra=`
        leaked = find_secrets(text, forbidden) + find_secrets(extras, forbidden)
        if leaked:
            yield SecretInLog(f"log record {record.name}: {record.msg!r:.120}: {leaked}\n{story}")
            break
    if error is not None:
        leaked = find_secrets(error, forbidden)
        if leaked:
            yield SecretReachable(f"reachable from the error: {leaked[:3]}\n{story}")


def check(outcome: Outcome) -> None:
    """Raise the first violation (each kind is its own exception type, see `violations`)."""
    found = list(violations(outcome))
    for violation in found:
        FIGURES[f"hostile violation: {type(violation).__name__}"] += 1
    if found:
        if found[0].__context__ is None and outcome.error is not None:
            raise found[0] from outcome.error
        raise found[0]


def record_figures(outcome: Outcome) -> None:
    FIGURES["hostile cases"] += 1
    FIGURES[f"hostile: {outcome.kind}"] += 1
    FIGURES[f"hostile: {outcome.target}->{outcome.operation}: {outcome.kind}"] += 1
    FIGURES["hostile: requests served"] += len(outcome.received)


def run_and_check(operation: str, target: str, script: list[Behaviour], backend: str) -> None:
    outcome = run_example(operation, target, script, backend)
    record_figures(outcome)
    check(outcome)


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Merge the counts into DINTERO_RELIABILITY_REPORT (if set) under "figures" ("hostile"
    keys) and "hostile_server", keeping whatever tests/test_reliability.py wrote there."""
    started = time.monotonic()
    yield
    path = os.environ.get("DINTERO_RELIABILITY_REPORT")
    if not path:
        return
    report: dict[str, Any] = {}
    if Path(path).exists():
        try:
            report = json.loads(Path(path).read_text())
        except ValueError:
            report = {}
    figures = report.setdefault("figures", {})
    for key in [k for k in figures if k.startswith("hostile")]:
        del figures[key]
    figures.update(FIGURES)
    report["hostile_server"] = {
        "examples_per_test": EXAMPLES,
        "cases": FIGURES["hostile cases"],
        "outcomes": {k[9:]: v for k, v in FIGURES.items() if k.startswith("hostile: ")},
        "violations": {k[19:]: v for k, v in FIGURES.items() if k.startswith("hostile violation")},
        "seconds": round(time.monotonic() - started, 1),
    }
    Path(path).write_text(json.dumps(report, indent=2, sort_keys=True))


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op != "token"])
def test_hostile_api_answers(operation: str, backend: str) -> None:
    """The API operation gets the hostile answers; the token endpoint behaves."""

    @settings(HOSTILE, max_examples=EXAMPLES_ON[backend])
    @given(script=scripts(operation))
    def run(script: list[Behaviour]) -> None:
        run_and_check(operation, operation, script, backend)

    run()


@pytest.mark.parametrize("backend", BACKENDS)
def test_hostile_token_answers(backend: str) -> None:
    """The token endpoint gets the hostile answers, under every operation that needs a token."""

    @settings(HOSTILE, max_examples=EXAMPLES_ON[backend])
    @given(data=st.data(), operation=st.sampled_from(OPERATIONS))
    def run(data: st.DataObject, operation: str) -> None:
        script = data.draw(scripts("token"), label="script")
        run_and_check(operation, "token", script, backend)

    run()
