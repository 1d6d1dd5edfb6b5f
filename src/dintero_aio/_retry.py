"""When to retry, how long to wait, and the one retry loop every call runs in.

Two classes of call exist. A call that is safe to repeat (Get Token, list, get, delete) is
retried after any transient failure. A call that creates something (create, rotate-secret; Dintero
has no idempotency key) is retried only when the failed attempt provably never reached the server
— a connect-phase error, or a 429/503 refusal — because a retry after an ambiguous failure could
make a second client, or a second rotation, whose secret nobody holds.

The loop is written here rather than taken from stamina, which the SDK used before: every wait
has to be known before it starts (it is checked against the call's deadline, and `Retry-After` is
honoured exactly), so a library would only contribute the loop itself — and stamina's retry
instrumentation is process-wide and logs each retry at WARNING, which reaches the stderr of any
app that has not configured logging. A library must not change another library's global settings
to silence that, so the loop is these few lines, logging at INFO to `dintero_aio`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import httpx

from . import _inputs
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    DinteroError,
    InvalidInputError,
)
from ._timeouts import Deadlines

log = logging.getLogger("dintero_aio")
T = TypeVar("T")

#: Failures that happen before the request is handed to the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Statuses that say "not processed, try again"; and those that leave the outcome open.
_REFUSED = frozenset({429, 503})
#: Any other 5xx (599 and the 52x of proxies included) may come after the request was processed,
#: except 501 and 505, which say the request was not understood.
_AMBIGUOUS = frozenset(range(500, 1000)) - _REFUSED - {501, 505}
_MAX_RETRIES = 100


@attrs.frozen
class RetryPolicy:
    """How a call is retried. `max_retries=0` disables retries.

    Waits grow exponentially from `initial_delay` (with jitter) up to `max_delay`, or follow the
    server's `Retry-After`. `total_timeout` bounds the whole call, attempts and waits together:
    each attempt's timeout is cut to the time left, and no wait runs past the deadline.
    Invalid values raise `InvalidInputError`.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    total_timeout: float = 60.0

    def __attrs_post_init__(self) -> None:
        retries = self.max_retries
        if not isinstance(retries, int) or isinstance(retries, bool):
            raise InvalidInputError("RetryPolicy.max_retries must be a whole number")
        if not 0 <= retries <= _MAX_RETRIES:
            raise InvalidInputError(f"RetryPolicy.max_retries must be from 0 to {_MAX_RETRIES}")
        for name in ("initial_delay", "max_delay", "total_timeout"):
            seconds = _inputs.seconds(
                f"RetryPolicy.{name}", getattr(self, name), zero_ok=name != "total_timeout"
            )
            object.__setattr__(self, name, seconds)
        if self.initial_delay > self.max_delay:
            raise InvalidInputError("RetryPolicy.initial_delay must not exceed max_delay")

    def delay(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (0-based): exponential, "equal jitter", capped."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0 ** min(retry_number, 64))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


def policy(value: object) -> RetryPolicy:
    """The `retry=` argument: None for the default policy, or a `RetryPolicy`."""
    if value is None:
        return RetryPolicy()
    if not isinstance(value, RetryPolicy):
        raise InvalidInputError(f"retry must be a RetryPolicy, got {type(value).__name__}")
    return value


class Retryable(Exception):
    """Raised by an attempt for a failure that another attempt might not have."""

    def __init__(self, error: DinteroError, *, maybe_processed: bool, wait: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.maybe_processed = maybe_processed
        self.wait = wait  # the server's Retry-After, if it sent one


def classify(error: DinteroError, wait: float | None = None) -> Exception:
    """`error` wrapped as `Retryable` when a retry could help, else `error` itself."""
    if isinstance(error, APIStatusError):
        if error.status_code in _REFUSED:
            return Retryable(error, maybe_processed=False, wait=wait)
        if error.status_code in _AMBIGUOUS:
            return Retryable(error, maybe_processed=True, wait=None)
        return error
    if isinstance(error, APIConnectionError):
        sent = not isinstance(error.__cause__, _NOT_SENT)
        return Retryable(error, maybe_processed=sent, wait=None)
    return error


@attrs.define
class Attempts:
    """What an attempt needs to know about the call it belongs to, and what the call's
    boundary needs to know about the attempt under way when the call ends."""

    deadline: float
    #: The call's task and event loop.
    task: asyncio.Task[object]
    loop: asyncio.AbstractEventLoop
    retries: int = 0
    #: True once an earlier attempt failed in a way that may have been processed by the server.
    maybe_processed_before: bool = False
    #: The request of the attempt under way, until its response has been read.
    request: httpx.Request | None = None

    def time_left(self) -> float:
        return self.deadline - self.loop.time()

    def in_flight(self) -> bool:
        """Whether the attempt under way may have reached the server: its credentials are on
        it (a call still waiting for its token has sent nothing)."""
        return self.request is not None and "authorization" in self.request.headers


async def run(
    attempt: Callable[[Attempts], Awaitable[T]],
    state: Attempts,
    *,
    policy: RetryPolicy,
    deadlines: Deadlines,
    name: str,
    duplicate_risk: str | None,
) -> T:
    """Run `attempt` under `policy`, all of it by `state.deadline`. `duplicate_risk` is None for
    a call that is safe to repeat, else what a retry after an ambiguous failure could do (it goes
    into the error message)."""
    try:
        with deadlines.at(state.deadline, state.task, state.loop):
            while True:
                try:
                    return await attempt(state)
                except Retryable as exc:
                    wait = _wait(exc, state, policy, duplicate_risk)
                    if wait is None:
                        raise
                    state.retries += 1
                    state.maybe_processed_before |= exc.maybe_processed
                    log.info(
                        "retry %d of %d in %.2fs after %s",
                        state.retries,
                        policy.max_retries,
                        wait,
                        exc.error,
                    )
                await asyncio.sleep(wait)
    except Retryable as exc:
        if exc.maybe_processed and duplicate_risk:
            exc.error.mark_outcome_unknown(f"not retried, because {duplicate_risk}.")
        log.info("giving up after %d %s: %s", state.retries, _retries(state.retries), exc.error)
        raise exc.error from exc.error.__cause__
    except TimeoutError as exc:
        error = APITimeoutError(f"{name}: total_timeout of {policy.total_timeout}s ran out")
        if duplicate_risk and state.in_flight():
            error.mark_outcome_unknown(f"a request may have been in flight; {duplicate_risk}.")
        raise error from exc


def _wait(
    exc: Retryable, state: Attempts, policy: RetryPolicy, duplicate_risk: str | None
) -> float | None:
    """The wait before the next attempt, or None when there is to be no next attempt."""
    if (exc.maybe_processed and duplicate_risk) or state.retries >= policy.max_retries:
        return None
    wait = policy.delay(state.retries) if exc.wait is None else exc.wait
    if wait >= state.time_left():
        log.info("not retrying: a %.2fs wait would pass the deadline; %s", wait, exc)
        return None
    return wait


def _retries(count: int) -> str:
    return "retry" if count == 1 else "retries"
