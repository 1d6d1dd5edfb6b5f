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

from . import _timeouts
from ._errors import APIConnectionError, APIStatusError, DinteroError, InvalidInputError
from ._wire import AMBIGUOUS, REFUSED, CallState, Stage, maybe_processed

log = logging.getLogger("dintero_aio")
T = TypeVar("T")

_MAX_RETRIES = 100
#: Statuses worth another attempt: refused (not processed) or ambiguous (maybe processed).
_TRANSIENT = REFUSED | AMBIGUOUS


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
            seconds = _timeouts.seconds(
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


async def run(
    attempt: Callable[[CallState], Awaitable[T]],
    state: CallState,
    *,
    policy: RetryPolicy,
    duplicate_risk: str | None,
) -> T:
    """Run `attempt` under `policy` until it succeeds or its failure is final. `duplicate_risk`
    is None for a call that is safe to repeat, else what a repeat could do; such a call is
    retried only after failures that provably left it unprocessed. The call's deadline is kept
    by its boundary (`_calls.Caller.guard`); no wait here is allowed to pass it."""
    while True:
        try:
            return await attempt(state)
        except DinteroError as error:
            if not _transient(error):
                raise
            wait = _wait(error, state, policy, duplicate_risk)
            if wait is None:
                done = state.retries_so_far()
                log.info("giving up after %d %s: %s", done, _retries(done), error)
                raise
            number = state.retries_so_far() + 1
            state.observed.retrying(error, wait, state.stage is Stage.TOKEN)  # before it resets
            state.retrying(error)
            log.info(
                "retry %d of %d in %.2fs after %s",
                number,
                policy.max_retries,
                wait,
                error,
            )
        await asyncio.sleep(wait)


def _wait(
    error: DinteroError, state: CallState, policy: RetryPolicy, duplicate_risk: str | None
) -> float | None:
    """The wait before a new attempt after a transient `error`, or None for no new attempt."""
    if duplicate_risk and maybe_processed(state, error):
        return None
    done = state.retries_so_far()
    if done >= policy.max_retries:
        return None
    # Retry-After means something on a refusal only (429, 503); an ambiguous 5xx's is ignored.
    retry_after = None
    if isinstance(error, APIStatusError) and error.status_code in REFUSED:
        retry_after = error.retry_after
    wait = policy.delay(done) if retry_after is None else retry_after
    if wait >= state.time_left():
        log.info("not retrying: a %.2fs wait would pass the deadline; %s", wait, error)
        return None
    return wait


def _transient(error: DinteroError) -> bool:
    """Whether another attempt might not fail the same way."""
    if isinstance(error, APIStatusError):
        return error.status_code in _TRANSIENT
    return isinstance(error, APIConnectionError)


def _retries(count: int) -> str:
    return "retry" if count == 1 else "retries"
