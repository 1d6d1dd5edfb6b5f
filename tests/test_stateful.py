"""A model-based test of one `Dintero` partner instance and its merchant view over a real socket:
hypothesis chooses the interleaving (calls of every operation started, cancelled, tokens expired,
faults injected, time advanced, `aclose()` once or several times at once) and the invariants are
checked after every step. The invariants are listed in docs/reliability.md.

`make test` runs a short search; `make reliability` a long one (DINTERO_STATEFUL_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from dintero_aio import (
    ClientClosedError,
    Dintero,
    DinteroError,
    GrantSpec,
    RetryPolicy,
)
from dintero_aio.testing import Emulator
from dintero_aio.testing.server import serve

PARTNER = "P00000001"
MERCHANT = "T00000002"
EXAMPLES = int(os.environ.get("DINTERO_STATEFUL_EXAMPLES", "30"))
#: Short waits, so that retries happen within the steps.
POLICY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.01, total_timeout=2.0)
OPERATIONS = ("create", "list", "get", "delete", "rotate", "grants_list", "grants_create")
FAULTS = ("503", "500", "429", "401", "drop", "drop_after", "delay", "corrupt")


@dataclass
class Call:
    operation: str
    task: asyncio.Task[Any]
    name: str | None = None  # a create's unique name, to find it at the emulator
    target: str | None = None  # the client id a get, delete or rotate names
    cancelled: bool = False


class Lifecycle(RuleBasedStateMachine):
    backend = "httpcore"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.emulator = Emulator(account_id=PARTNER, merchants=[MERCHANT])
        self._serving = serve(self.emulator)
        self.running = self._serving.__enter__()
        self.dintero = Dintero(
            account_id=PARTNER,
            client_id=self.emulator.client_id,
            client_secret=self.emulator.client_secret,
            base_url=self.running.base_url,
            retry=POLICY,
            timeout=1.0,
            backend=self.backend,
        )
        self.calls: list[Call] = []
        self.closers: list[asyncio.Task[None]] = []
        self.created_ids: list[str] = []
        self.deleted: set[str] = set()
        #: Tokens that may rightly be fetched: the partner's and the merchant's first, and more
        #: after each event that ends or refuses one.
        self.token_events = 2

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        operation=st.sampled_from(("create", "rotate", "delete", "list")),
        merchant=st.booleans(),
        fault=st.sampled_from(("500", "drop", "drop_after", "corrupt", "503")),
    )
    def start_into_a_fault(self, operation: str, merchant: bool, fault: str) -> None:
        """Start a call with a fault waiting for its request: the calls at risk, and the faults
        that leave their outcome open, drawn more often than the rest."""
        self.inject(operation, fault)
        self.start(operation, merchant)

    @rule(operation=st.sampled_from(OPERATIONS), merchant=st.booleans())
    def start(self, operation: str, merchant: bool) -> None:
        view: Any = self.dintero.for_account(MERCHANT) if merchant else self.dintero
        name = target = None
        if operation == "create":
            name = f"c-{uuid.uuid4()}"
            coro: Awaitable[Any] = view.clients.create(name=name)
        elif operation == "list":
            coro = view.clients.list()
        elif operation in ("get", "delete", "rotate"):
            target = self.created_ids[-1] if self.created_ids else str(uuid.uuid4())
            if operation == "delete":
                self.deleted.add(target)
            method = {"get": "get", "delete": "delete", "rotate": "rotate_secret"}[operation]
            coro = getattr(view.clients, method)(target)
        elif operation == "grants_list":
            coro = view.grants.list()
        else:
            target = self.created_ids[-1] if self.created_ids else str(uuid.uuid4())
            spec = GrantSpec(audience=view.audience, scopes=["admin:accounts"])
            coro = view.grants.create(
                client_id=target, audience=spec.audience, scopes=list(spec.scopes)
            )
        self.calls.append(Call(operation, self.loop.create_task(_run(coro)), name, target))
        self._advance(0)

    # Which calls are still running depends on timing: the draw must not (hypothesis replays
    # draws), so it is a number, and the call is picked from those running when it is made.
    @rule(pick=st.integers(min_value=0, max_value=1000))
    def cancel(self, pick: int) -> None:
        running = [c for c in self.calls if not c.task.done()]
        if not running:
            return
        call = running[pick % len(running)]
        call.cancelled = True
        call.task.cancel()
        self._advance(0)

    @rule()
    def expire_tokens(self) -> None:
        self.emulator.expire_tokens()
        self.token_events += 2  # the partner's token and the merchant's exchange token

    @rule(
        operation=st.sampled_from(("token", "exchange", *OPERATIONS)), fault=st.sampled_from(FAULTS)
    )
    def inject(self, operation: str, fault: str) -> None:
        if fault in ("503", "500", "429", "401"):
            self.emulator.fail_next(operation, status=int(fault), retry_after=0)
        elif fault == "drop":
            self.emulator.drop_next(operation)
        elif fault == "drop_after":
            self.emulator.drop_next(operation, after_processing=True)
        elif fault == "delay":
            self.emulator.delay_next(operation, 0.05)
        else:
            self.emulator.corrupt_next(operation)
        if operation in ("token", "exchange") or fault == "401":
            self.token_events += 2

    @rule(seconds=st.sampled_from([0.0, 0.005, 0.02, 0.1]))
    def advance(self, seconds: float) -> None:
        self._advance(seconds)

    # Late in a run only: a closed instance refuses everything, so an early close would leave
    # nothing else to explore.
    @precondition(lambda self: len(self.calls) >= 12 and not self.closers)
    @rule(closers=st.integers(min_value=1, max_value=3))
    def close(self, closers: int) -> None:
        self.closers += [self.loop.create_task(self.dintero.aclose()) for _ in range(closers)]
        self._advance(0.01)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def every_finished_call_has_its_model_or_a_dintero_error(self) -> None:
        for call in self.calls:
            if not call.task.done():
                continue
            if call.task.cancelled():
                assert call.cancelled, f"{call.operation} was cancelled, by nobody"
                continue
            result = call.task.result()
            if isinstance(result, BaseException):
                assert isinstance(result, DinteroError), repr(result)
            if call.operation == "create" and not isinstance(result, BaseException):
                self.created_ids.append(str(result.id))

    @invariant()
    def a_create_is_processed_at_most_once_and_unknown_exactly_when_it_may_have_been(
        self,
    ) -> None:
        made = _names(self.emulator)
        for call in self.calls:
            if call.operation != "create" or call.name is None:
                continue
            assert made.get(call.name, 0) <= 1, "a create was processed twice"
            if not call.task.done() or call.task.cancelled():
                continue
            result = call.task.result()
            if isinstance(result, DinteroError) and not result.outcome_unknown:
                assert call.name not in made, f"processed, yet not unknown: {result}"
            if not isinstance(result, BaseException) and str(result.id) not in self.deleted:
                assert made.get(call.name) == 1

    @invariant()
    def at_most_one_token_per_account_per_expiry(self) -> None:
        issued = self.emulator.processed("token") + self.emulator.processed("exchange")
        assert issued <= self.token_events, (issued, self.token_events)

    @invariant()
    def closed_means_no_call_and_no_socket_left(self) -> None:
        if not self.closers or not all(c.done() for c in self.closers):
            return
        for closer in self.closers:
            assert closer.exception() is None
        assert all(c.task.done() for c in self.calls if c.task.get_loop() is self.loop)
        assert self.dintero._caller.http.is_closed
        assert _open_connections(self.dintero) == 0

    def teardown(self) -> None:
        try:
            self.loop.run_until_complete(self._finish())
        finally:
            self.loop.close()
            self._serving.__exit__(None, None, None)

    async def _finish(self) -> None:
        async with asyncio.timeout(10):
            await self.dintero.aclose()
            await asyncio.gather(*(c.task for c in self.calls), return_exceptions=True)
            await asyncio.gather(*self.closers)
        for call in self.calls:
            if not call.task.cancelled():
                result = call.task.result()
                assert not isinstance(result, BaseException) or isinstance(result, DinteroError)
        assert _open_connections(self.dintero) == 0
        left = asyncio.all_tasks() - {asyncio.current_task()}
        assert not left, left

    def _advance(self, seconds: float) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))


async def _run(call: Awaitable[Any]) -> Any:
    """The call's result, or the DinteroError (or other exception) it ended with."""
    try:
        return await call
    except ClientClosedError as exc:
        return exc
    except Exception as exc:
        return exc


def _names(emulator: Emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for account in (PARTNER, MERCHANT):
        for client in emulator.clients_of(account):
            if client.name is not None:
                counts[client.name] = counts.get(client.name, 0) + 1
    return counts


def _open_connections(dintero: Dintero) -> int:
    transport: Any = dintero._caller.http._transport
    pool = getattr(transport, "_pool", None)
    if pool is not None:  # httpcore
        return len(pool.connections)
    counted: Callable[[], int] | None = getattr(transport, "open_connections", None)
    return 0 if counted is None else counted()


TestLifecycle = Lifecycle.TestCase
TestLifecycle.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
