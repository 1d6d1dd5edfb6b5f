"""Reliability evidence: fuzzed bodies, every status, a cancellation storm, a fault matrix.

`make test` runs these with at least 2,000 fuzz examples; `make reliability` runs them deeper
(DINTERO_FUZZ_EXAMPLES) and writes the figures to docs/reliability.md
(DINTERO_RELIABILITY_REPORT names the JSON file the figures are collected in).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dintero_aio import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ClientWithSecret,
    Dintero,
    DinteroError,
    InternalServerError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
)
from dintero_aio._http_client import BACKENDS
from dintero_aio._responses import _checker
from dintero_aio.testing import Emulator, Operation, serve

from .conftest import ACCOUNT, CLIENT_ID, CLIENT_SECRET, SECRETS, token_body

FUZZ_EXAMPLES = int(os.environ.get("DINTERO_FUZZ_EXAMPLES", "1000"))
NO_RETRY = RetryPolicy(max_retries=0)
FIGURES: Counter[str] = Counter()
MATRIX: dict[str, list[tuple[str, str, int, int]]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    path = os.environ.get("DINTERO_RELIABILITY_REPORT")
    if path:
        report = {"figures": FIGURES, "fault_matrix": MATRIX, "fuzz_examples": FUZZ_EXAMPLES}
        Path(path).write_text(json.dumps(report, indent=2, sort_keys=True))


def sdk(handler: Callable[[httpx.Request], httpx.Response], **overrides: Any) -> Dintero:
    settings_: dict[str, Any] = {
        "account_id": ACCOUNT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "transport": httpx.MockTransport(handler),
        "retry": NO_RETRY,
    }
    settings_.update(overrides)
    return Dintero(**settings_)


def answer(
    token: tuple[int, bytes] = (200, json.dumps(token_body()).encode()),
    create: tuple[int, bytes] = (200, b"{}"),
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        status, body = token if request.url.path.endswith("/token") else create
        return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

    return handler


# --- property-based fuzzing of bodies -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
iso_datetimes = st.datetimes(timezones=st.none() | st.just(__import__("datetime").UTC)).map(
    lambda d: d.isoformat()
)
valid_clients = st.fixed_dictionaries(
    {"id": st.uuids().map(str), "client_secret": st.text(), "client_id": st.text()},
    optional={
        "name": st.text(),
        "description": st.text(),
        "callbacks": st.lists(st.text(), max_size=3),
        "created_at": iso_datetimes,
        "updated_at": iso_datetimes,
        "deleted_at": iso_datetimes,
        "created_by": st.text(),
        "deleted_by": st.text(),
    },
)
valid_tokens = st.fixed_dictionaries(
    {
        # What an Authorization header can carry: visible ASCII (a real one is a JWT).
        "access_token": st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1),
        "token_type": st.just("Bearer"),
        "expires_in": st.integers(min_value=1, max_value=10**9),
    },
    optional={"refresh_token": st.text()},
)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A valid body with one field removed, or replaced by any JSON value, or a huge string."""
    body = dict(draw(valid))
    key = draw(st.sampled_from(sorted(body)))
    how = draw(st.sampled_from(["drop", "replace", "huge"]))
    if how == "drop":
        del body[key]
    elif how == "replace":
        body[key] = draw(json_values)
    else:
        body[key] = "x" * draw(st.integers(min_value=10_000, max_value=1_000_000))
    return body


def bodies(valid: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[tuple[str, bytes]]:
    encode = json.dumps
    return st.one_of(
        valid.map(lambda b: ("valid", encode(b).encode())),
        mutated(valid).map(lambda b: ("mutated", encode(b).encode())),
        json_values.map(lambda v: ("any json", encode(v).encode())),
        st.binary(max_size=200).map(lambda b: ("bytes", b)),  # invalid UTF-8, not JSON
        valid.map(lambda b: ("truncated", encode(b).encode()[: len(encode(b)) // 2])),
    )


FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def fuzz_once(
    kind: str, call: Callable[[Dintero], Any], handler: Any, runner: asyncio.Runner
) -> None:
    async def go() -> None:
        dintero = sdk(handler)
        try:
            result = await call(dintero)
        except DinteroError as exc:
            assert kind != "valid", f"a valid body was rejected: {exc!r}"
            FIGURES[f"fuzz: typed error ({type(exc).__name__})"] += 1
        else:
            assert _checker(type(result))(result)
            FIGURES["fuzz: valid model returned"] += 1
        finally:
            await dintero.aclose()
        FIGURES["fuzz cases"] += 1

    runner.run(go())


def test_fuzz_create_success_bodies() -> None:
    with asyncio.Runner() as runner:

        @FUZZ
        @given(case=bodies(valid_clients))
        def check(case: tuple[str, bytes]) -> None:
            kind, body = case
            fuzz_once(
                kind, lambda d: d.clients.create(name="x"), answer(create=(200, body)), runner
            )

        check()


def test_fuzz_token_success_bodies() -> None:
    client = json.dumps({"id": str(uuid.uuid4()), "client_secret": "s", "client_id": "c"}).encode()
    with asyncio.Runner() as runner:

        @FUZZ
        @given(case=bodies(valid_tokens))
        def check(case: tuple[str, bytes]) -> None:
            kind, body = case
            handler = answer(token=(200, body), create=(200, client))
            fuzz_once(kind, lambda d: d.clients.create(), handler, runner)

        check()


def test_fuzz_error_bodies_and_statuses() -> None:
    with asyncio.Runner() as runner:

        @settings(FUZZ, max_examples=max(FUZZ_EXAMPLES // 2, 1))
        @given(
            status=st.integers(min_value=300, max_value=599),
            body=st.one_of(
                json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)
            ),
            on_token=st.booleans(),
        )
        def check(status: int, body: bytes, on_token: bool) -> None:
            handler = answer(token=(status, body)) if on_token else answer(create=(status, body))

            async def go() -> None:
                dintero = sdk(handler)
                with pytest.raises(APIStatusError) as info:
                    await dintero.clients.create()
                await dintero.aclose()
                assert info.value.status_code == status
                for secret in SECRETS:
                    assert secret not in str(info.value)
                FIGURES["fuzz cases"] += 1
                FIGURES["fuzz: typed error (status)"] += 1

            runner.run(go())

        check()


# --- every status on both operations --------------------------------------------------------


def expected_for(status: int, on_token: bool) -> type[Exception] | None:
    """The documented outcome of `status` (Get Token rejections are credential errors)."""
    if status == 200:
        return None
    if 200 <= status < 300:
        return MalformedResponseError
    if on_token and status in (400, 401):
        return AuthenticationError
    by_status = {
        400: BadRequestError,
        401: AuthenticationError,
        403: PermissionDeniedError,
        404: NotFoundError,
        429: RateLimitError,
    }
    return by_status.get(status) or (InternalServerError if status >= 500 else APIStatusError)


@pytest.mark.parametrize("on_token", [True, False], ids=["token", "create"])
async def test_status_sweep(on_token: bool) -> None:
    created = (
        200,
        json.dumps({"id": str(uuid.uuid4()), "client_secret": "s", "client_id": "c"}).encode(),
    )
    token = json.dumps(token_body()).encode()
    for status in range(100, 600):
        if on_token:
            handler = answer(token=(status, token if status == 200 else b"{}"), create=created)
        else:
            handler = answer(create=(status, created[1]))
        dintero = sdk(handler)
        expected = expected_for(status, on_token)
        try:
            result = await dintero.clients.create()
        except DinteroError as exc:
            assert type(exc) is expected, (status, exc)
        else:
            assert expected is None, status
            assert isinstance(result, ClientWithSecret)
        finally:
            await dintero.aclose()
        FIGURES["status sweep cases"] += 1


# --- cancellation storm ---------------------------------------------------------------------


async def test_cancellation_storm_leaves_nothing_behind() -> None:
    rng = random.Random(1234)
    tokens_issued = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal tokens_issued
        await asyncio.sleep(rng.uniform(0, 0.01))
        if request.url.path.endswith("/token"):
            if rng.random() < 0.3:
                return httpx.Response(503)
            tokens_issued += 1
            return httpx.Response(200, json=token_body(f"token-{tokens_issued}", expires_in=1))
        if rng.random() < 0.2:
            return httpx.Response(rng.choice([401, 429, 503]))
        return httpx.Response(
            200, json={"id": str(uuid.uuid4()), "client_secret": "s", "client_id": "c"}
        )

    policy = RetryPolicy(max_retries=3, initial_delay=0.001, max_delay=0.01, total_timeout=5)
    dintero = Dintero(
        account_id=ACCOUNT,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        transport=httpx.MockTransport(handler),
        retry=policy,
    )
    before = asyncio.all_tasks()
    tasks = [asyncio.create_task(dintero.clients.create()) for _ in range(500)]
    loop = asyncio.get_running_loop()
    for task in tasks:
        if rng.random() < 0.5:
            loop.call_later(rng.uniform(0, 0.05), task.cancel)
    outcomes = Counter()
    for done in await asyncio.gather(*tasks, return_exceptions=True):
        outcomes[type(done).__name__] += 1
    FIGURES["cancellation storm calls"] += 500
    FIGURES["cancellation storm: cancelled"] += outcomes["CancelledError"]

    assert outcomes["CancelledError"] > 50
    assert set(outcomes) <= {
        "ClientWithSecret",
        "CancelledError",
        "InternalServerError",
        "RateLimitError",
        "AuthenticationError",
    }
    await asyncio.sleep(0.05)  # let a shielded refresh whose waiters all left finish
    assert asyncio.all_tasks() - before == set()  # no task left pending
    assert dintero._tokens._refresh is None  # no refresh in flight or stuck
    assert isinstance(await dintero.with_options(retry=policy).clients.create(), ClientWithSecret)
    await dintero.aclose()


# --- the fault matrix over a real loopback socket -------------------------------------------

FAULTS: list[tuple[str, Callable[[Emulator, str], None]]] = [
    ("connection dropped before processing", lambda e, op: e.drop_next(op)),
    (
        "connection dropped after processing",
        lambda e, op: e.drop_next(op, after_processing=True),
    ),
    (
        "connection reset after processing",
        lambda e, op: e.drop_next(op, after_processing=True, reset=True),
    ),
    (
        "slow response past the timeout",
        lambda e, op: e.delay_next(op, 0.6, after_processing=True),
    ),
    ("429 with Retry-After: 0", lambda e, op: e.fail_next(op, status=429, retry_after=0)),
    ("503", lambda e, op: e.fail_next(op, status=503)),
    ("500", lambda e, op: e.fail_next(op, status=500)),
    ("truncated body", lambda e, op: e.corrupt_next(op, "truncated")),
    ("body not JSON", lambda e, op: e.corrupt_next(op, "not_json")),
]
OPERATIONS: list[Operation] = [
    "token",
    "create",
    "list",
    "get",
    "rotate",
    "delete",
    "grants_list",
    "grants_create",
    "grants_delete",
    "exchange",
]
#: Operations that make something, which must never take effect twice.
NOT_IDEMPOTENT = {"create", "rotate", "grants_create"}
PARTNER, MERCHANT = "P00000001", "T00000002"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_fault_matrix(operation: Operation, backend: str) -> None:
    """For each fault on `operation`: the outcome, the requests seen, and no duplicate ever,
    on each backend."""
    rows = []
    with serve(Emulator(account_id=PARTNER, merchants=(MERCHANT,))) as running:
        emulator = running.emulator
        policy = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.01, total_timeout=10)
        for label, inject in FAULTS:
            dintero = Dintero(
                account_id=emulator.account_id,
                client_id=emulator.client_id,
                client_secret=emulator.client_secret,
                base_url=running.base_url,
                retry=policy,
                timeout=0.3,
                backend=backend,
            )
            target = await _target(dintero, emulator, operation)
            made_before = len(emulator.clients) + len(emulator.grants)
            received_before = emulator.received(operation)
            processed_before = emulator.processed(operation)
            inject(emulator, operation)
            try:
                await _perform(dintero, operation, target)
                outcome = "ok"
            except DinteroError as exc:
                outcome = type(exc).__name__ + (" (outcome unknown)" if exc.outcome_unknown else "")
                for secret in (*SECRETS, emulator.client_secret):
                    assert secret not in str(exc)
            await dintero.aclose()
            received = emulator.received(operation) - received_before
            processed = emulator.processed(operation) - processed_before
            emulator.clear_faults()
            if operation in NOT_IDEMPOTENT:
                assert processed <= 1, (label, "a non-idempotent call took effect twice")
            if operation in ("create", "grants_create"):  # no duplicate client or grant
                assert len(emulator.clients) + len(emulator.grants) - made_before == processed
            rows.append((label, outcome, received, processed))
            FIGURES["fault matrix scenarios"] += 1
            FIGURES["fault matrix: survived with a typed outcome"] += 1
    MATRIX[operation if backend == "httpcore" else f"{operation} (aiohttp)"] = rows


async def _target(dintero: Dintero, emulator: Emulator, operation: str) -> str | None:
    """What the operation acts on, made before the fault is injected: a client, or a grant."""
    if operation in ("get", "rotate", "delete", "grants_create"):
        return str((await dintero.clients.create(name="target")).id)
    if operation == "grants_delete":
        client = await dintero.clients.create(name="target")
        return emulator.add_grant(str(client.id)).id
    return None


async def _perform(dintero: Dintero, operation: str, target: str | None) -> None:
    calls = {
        "token": dintero.verify_credentials,
        "create": lambda: dintero.clients.create(name="pos"),
        "list": dintero.clients.list,
        "get": lambda: dintero.clients.get(str(target)),
        "rotate": lambda: dintero.clients.rotate_secret(str(target)),
        "delete": lambda: dintero.clients.delete(str(target)),
        "grants_list": dintero.grants.list,
        "grants_create": lambda: dintero.grants.create(
            client_id=str(target), audience=dintero.audience, scopes=["admin:accounts"]
        ),
        "grants_delete": lambda: dintero.grants.delete(str(target)),
        "exchange": dintero.for_account(MERCHANT).verify_credentials,
    }
    await calls[operation]()
