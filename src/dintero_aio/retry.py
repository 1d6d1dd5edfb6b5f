"""When to retry, how long to wait, and the one retry loop every call runs in.

Two classes of call exist. A call that is safe to repeat (Get Token, list, get, delete) is
retried after any transient failure. A call that creates something (create, rotate-secret; Dintero
has no idempotency key) is retried only when the failed attempt provably never reached the server
— a connect-phase error, or a 429/503 refusal — because a retry after an ambiguous failure could
make a second client, or a second rotation, whose secret nobody holds.

The loop is stamina's. Waits are computed here, in the backoff hook, rather than by stamina,
because stamina adds its jitter after the hook has run: only a wait known in advance can be
checked against the call's deadline, and `Retry-After` has to be honoured exactly anyway.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import httpx
import stamina

from .errors import APIConnectionError, APIStatusError, APITimeoutError, DinteroError

log = logging.getLogger("dintero_aio")
T = TypeVar("T")

#: Failures that happen before the request is handed to the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Statuses that say "not processed, try again"; and those that leave the outcome open.
_REFUSED = frozenset({429, 503})
_AMBIGUOUS = frozenset({500, 502, 504})

_positive = attrs.validators.gt(0.0)
_not_negative = attrs.validators.ge(0.0)


@attrs.frozen
class RetryPolicy:
    """How a call is retried. `max_retries=0` disables retries.

    Waits grow exponentially from `initial_delay` (with jitter) up to `max_delay`, or follow the
    server's `Retry-After`. `total_timeout` bounds the whole call, attempts and waits together:
    each attempt's timeout is cut to the time left, and no wait runs past the deadline.
    """

    max_retries: int = attrs.field(
        default=2, validator=[attrs.validators.instance_of(int), attrs.validators.ge(0)]
    )
    initial_delay: float = attrs.field(default=0.5, converter=float, validator=_not_negative)
    max_delay: float = attrs.field(default=8.0, converter=float, validator=_not_negative)
    total_timeout: float = attrs.field(default=60.0, converter=float, validator=_positive)

    def delay(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (0-based): exponential, "equal jitter", capped."""
        ceiling = min(self.max_delay, self.initial_delay * 2.0**retry_number)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


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
    """What an attempt needs to know about the call it belongs to."""

    deadline: float
    retries: int = 0
    #: True once an earlier attempt failed in a way that may have been processed by the server.
    maybe_processed_before: bool = False

    def time_left(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()


async def run(
    attempt: Callable[[Attempts], Awaitable[T]],
    *,
    policy: RetryPolicy,
    name: str,
    duplicate_risk: str | None,
) -> T:
    """Run `attempt` under `policy`. `duplicate_risk` is None for a call that is safe to repeat,
    else what a retry after an ambiguous failure could do (it goes into the error message)."""
    state = Attempts(deadline=asyncio.get_running_loop().time() + policy.total_timeout)

    def backoff(exc: Exception) -> bool | float:
        if not isinstance(exc, Retryable) or (exc.maybe_processed and duplicate_risk):
            return False
        if state.retries >= policy.max_retries:
            return False
        wait = policy.delay(state.retries) if exc.wait is None else exc.wait
        if wait >= state.time_left():
            log.info("not retrying: a %.2fs wait would pass the deadline; %s", wait, exc)
            return False
        state.retries += 1
        state.maybe_processed_before |= exc.maybe_processed
        log.info("retry %d of %d in %.2fs after %s", state.retries, policy.max_retries, wait, exc)
        return wait

    first_failure: Retryable | None = None
    try:
        async with asyncio.timeout_at(state.deadline):
            # Nearly every call succeeds at once, so the first attempt runs before stamina is set
            # up: its per-call setup costs about a sixth of a whole request on a fast network.
            try:
                return await attempt(state)
            except Retryable as exc:
                first_failure = exc
            async for try_ in stamina.retry_context(
                on=backoff, attempts=policy.max_retries + 1, timeout=None
            ):
                with try_:
                    if first_failure is not None:  # stamina's first round replays that failure,
                        replay, first_failure = first_failure, None  # so stamina schedules
                        raise replay  # every retry, the first one included
                    return await attempt(state)
    except Retryable as exc:
        if exc.maybe_processed and duplicate_risk:
            exc.error.mark_outcome_unknown(f"not retried, because {duplicate_risk}.")
        log.info("giving up after %d retries: %s", state.retries, exc.error)
        raise exc.error from exc.error.__cause__
    except TimeoutError as exc:
        error = APITimeoutError(f"{name}: total_timeout of {policy.total_timeout}s ran out")
        if duplicate_risk:
            error.mark_outcome_unknown(f"a request may have been in flight; {duplicate_risk}.")
        raise error from exc
    raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover
