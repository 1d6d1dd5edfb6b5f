"""Sending one generated operation, and the boundary every public call passes through.

The request is built by the operation's own `build_request` and the body parsed by its own
`parse_success` (the contract our endpoint template adds to the generated code), so the spec stays
the single source of truth for paths and models. The SDK sends the request itself rather than
calling `asyncio_detailed`, which would hide the `httpx.Response` (needed for headers and error
bodies) and crash on statuses such as 599.

`Caller.guard` is where the README's promises are kept for every call: it ends with the spec's
model or a `DinteroError`; it decides, once, whether the outcome is unknown (`_wire`); an error
carries no credential (`_redact.error`); a call stopped by `aclose()` ends with
`ClientClosedError`, one that ran out of `total_timeout` with `APITimeoutError`; and any other
exception (a bug) becomes an `UnexpectedError`, logged at ERROR so that the test suite fails on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import attrs
import httpx

from . import _redact, _responses, _retry, _wire
from ._errors import (
    APITimeoutError,
    ClientClosedError,
    DinteroError,
    NotFoundError,
    UnexpectedError,
)
from ._lifecycle import Lifecycle
from ._observe import NO_OBSERVER, Observer
from ._queue import RequestQueue
from ._responses import Operation
from ._retry import RetryPolicy
from ._timeouts import Deadlines, PerAttempt
from ._wire import CallState, Stage

T = TypeVar("T")
log = logging.getLogger("dintero_aio")


@attrs.frozen
class Caller:
    """Shared connection pool and lifecycle, with this view's retry policy and timeouts."""

    base_url: str
    http: httpx.AsyncClient
    lifecycle: Lifecycle
    policy: RetryPolicy
    timeouts: PerAttempt
    deadlines: Deadlines
    #: The account the calls act for (telemetry).
    account_id: str
    #: The auth of this view's API calls; None for the client's own (the account's token flow).
    auth: httpx.Auth | None = None
    #: The queue in front of the connection pool (`_queue`); None with the user's transport.
    queue: RequestQueue | None = None
    #: Who is told about calls, attempts, retries and waits (telemetry); no one by default.
    observer: Observer = NO_OBSERVER
    #: Every request's headers but its body's and credentials', Host included: what httpx's
    #: `build_request` would merge and normalize again for every request (see `_Call`). Built
    #: once and shared by every view (`attrs.evolve` passes it on): a partner has one per
    #: merchant account.
    headers: httpx.Headers = attrs.field(
        default=attrs.Factory(lambda self: _headers(self.http), takes_self=True), kw_only=True
    )

    def call(
        self,
        operation: Operation,
        returns: type[T],
        *args: Any,
        duplicate_risk: str | None = None,
        gone_means_done: bool = False,
        auth: httpx.Auth | None = None,
        check: Callable[[Any], str | None] | None = None,
        token_request: bool = False,
        once: bool = False,
        **kwargs: Any,
    ) -> Awaitable[T]:
        """Send `operation(*args, **kwargs)`; await the result for its checked 2xx model.

        `duplicate_risk`: what a repeat could do (create, rotate), None if it is safe to repeat.
        `gone_means_done`: a 404 after an earlier attempt that may have been processed means that
        attempt succeeded (delete); the result is then None. `auth` overrides the token flow (Get
        Token uses HTTP Basic). `check` is an extra check of the model (`_responses.parse`).
        `token_request`: a token's own request, which skips the queue. `once`: make one attempt
        (the calls waiting for a token retry it under their own policies).
        """
        return self.guard(
            _Call(
                self,
                operation,
                args,
                kwargs,
                returns,
                auth,
                check,
                token_request=token_request,
                once=once,
                duplicate_risk=duplicate_risk,
                gone_means_done=gone_means_done,
            )
        )

    def run(
        self, name: str, run: Callable[[CallState], Awaitable[T]], *, retried: bool = False
    ) -> Awaitable[T]:
        """Run `run` as one call named `name` inside the boundary; `retried`: under this view's
        retry policy (only for what is safe to repeat)."""
        return self.guard(_Job(self, name, run, retried))

    async def guard(self, job: _Job[T] | _Call) -> T:
        """Run one public call inside the boundary described in the module docstring."""
        task = self.lifecycle.enter()
        loop = task.get_loop()
        policy = self.policy
        observed = self.observer.call(job.name, self.account_id)
        state = CallState(loop.time() + policy.total_timeout, loop, observed)
        deadline = self.deadlines.at(state.deadline, task, loop)
        try:
            with deadline:
                result: T = await job.run(state)
            observed.ended(None)
            return result
        except DinteroError as exc:
            error = exc
            if job.gone_means_done and _gone(error, state):
                observed.ended(None)
                return None  # type: ignore[return-value]  # a delete's result is None
        except TimeoutError as exc:
            if deadline.expired:
                error = APITimeoutError(
                    f"{job.name}: total_timeout of {policy.total_timeout}s ran out"
                )
                error.__cause__ = exc
            else:
                error = _unexpected(job.name, exc)
        except asyncio.CancelledError:
            if not self.lifecycle.stopped_by_close(task):
                observed.ended(None, cancelled=True)
                raise
            error = ClientClosedError(f"{job.name}: the client was closed during the call")
        except Exception as exc:
            error = _unexpected(job.name, exc)
        finally:
            self.lifecycle.leave(task)
        if job.duplicate_risk:
            why = _wire.unknown_because(state, error, job.duplicate_risk)
            if why is not None:
                error.mark_outcome_unknown(why)
        _redact.error(error)
        observed.ended(error)
        # Raised here, outside the handlers, so that the exception caught above (whose text or
        # request may hold a credential) is not chained to it as __context__.
        raise error


class _Job(Generic[T]):
    """A call that is not one request (a token check, a create with its grants)."""

    __slots__ = ("_caller", "_retried", "_run", "name")
    #: Never retried when it may have been processed (`retried` is for what is safe to repeat),
    #: so its outcome is never unknown; and it is no delete.
    duplicate_risk: str | None = None
    gone_means_done = False

    def __init__(
        self, caller: Caller, name: str, run: Callable[[CallState], Awaitable[T]], retried: bool
    ) -> None:
        self._caller = caller
        self.name = name
        self._run = run
        self._retried = retried

    def run(self, state: CallState) -> Awaitable[T]:
        if not self._retried:
            return self._run(state)
        return _retry.run(self._run, state, policy=self._caller.policy, duplicate_risk=None)


class _Call:
    """One call of one operation: the request each attempt sends and how its answer is read.

    An object rather than closures in `Caller.call`: with many calls under way, every closure
    cell is one more object for the garbage collector to visit again and again."""

    __slots__ = (
        "args",
        "caller",
        "check",
        "duplicate_risk",
        "flow",
        "gone_means_done",
        "headers",
        "kwargs",
        "method",
        "name",
        "once",
        "operation",
        "queue",
        "request",
        "returns",
        "url",
    )

    def __init__(
        self,
        caller: Caller,
        operation: Operation,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        returns: Any,
        auth: httpx.Auth | None,
        check: Callable[[Any], str | None] | None,
        *,
        token_request: bool,
        once: bool,
        duplicate_risk: str | None,
        gone_means_done: bool,
    ) -> None:
        self.caller = caller
        self.operation = operation
        self.args = args
        self.kwargs = kwargs
        self.returns = returns
        self.check = check
        self.flow = auth or caller.auth or caller.http.auth
        self.queue = None if token_request else caller.queue
        self.once = once
        self.duplicate_risk = duplicate_risk
        self.gone_means_done = gone_means_done
        self.name = operation.__name__.rpartition(".")[2]  # until the request is built

    def run(self, state: CallState) -> Awaitable[Any]:
        self._build()  # here, inside the boundary: a broken contract is an UnexpectedError
        if self.once:
            return self.attempt(state)
        policy, risk = self.caller.policy, self.duplicate_risk
        return _retry.run(self.attempt, state, policy=policy, duplicate_risk=risk)

    def _build(self) -> None:
        request = self.operation.build_request(*self.args, **self.kwargs)
        self.method, self.url, self.name = _target(
            self.caller.base_url, request.pop("method"), request.pop("url")
        )
        self.headers = self.caller.headers
        extra = request.pop("headers", None)  # the operation's header parameters, if any
        if extra:
            self.headers = httpx.Headers(self.headers)
            self.headers.update(extra)
        self.request = request  # what is left: the body, the query parameters

    async def attempt(self, state: CallState) -> Any:
        caller = self.caller
        # Built here, not by `http.build_request`, which would copy, merge and re-encode the
        # client's headers and cookies for every request: a tenth of a call. Its headers are the
        # same (tests/test_requests.py); no cookies are kept.
        request = httpx.Request(
            self.method,
            self.url,
            headers=self.headers,
            extensions={"timeout": caller.timeouts.within(state.time_left()), _wire.STATE: state},
            **self.request,
        )
        state.stage = Stage.WAITING
        sending = (
            caller.http.send(request, auth=self.flow)
            if self.queue is None
            else self.queue.send(caller.http, request, self.flow)
        )
        with state.observed.attempt(request):
            response = await _wire.sent(self.name, state, sending)
            state.observed.answered(response.status_code)
        if not response.is_success:
            raise _responses.status_error(response)
        return _responses.parse(self.operation, response, self.returns, self.check)


@functools.lru_cache(maxsize=512)
def _target(base_url: str, method: str, path: str) -> tuple[str, httpx.URL, str]:
    """The parsed URL of `path` (already percent-quoted by the generated code) under `base_url`,
    and the call's name for messages, e.g. "POST /v1/accounts/T12345678/auth/clients".

    httpx parses a relative URL and merges it with the client's base URL on every request, which
    costs about a third of a request on a fast network; a parsed absolute URL skips both steps.
    """
    url = httpx.URL(base_url + path)
    return method.upper(), url, f"{method.upper()} {url.path}"


def _headers(http: httpx.AsyncClient) -> httpx.Headers:
    """The client's headers with Host first, as httpx would put it (its value comes from each
    request's URL; every URL here is under the one base URL)."""
    host = http.base_url.netloc.decode("ascii")
    return httpx.Headers([("Host", host), *http.headers.multi_items()])


def _gone(error: DinteroError, state: CallState) -> bool:
    """A 404 to a delete whose earlier attempt may have been processed: that one deleted it."""
    return isinstance(error, NotFoundError) and state.maybe_processed_before


def _unexpected(name: str, exc: BaseException) -> UnexpectedError:
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "unknown"
    log.error("bug in dintero-aio: %s: unexpected %s at %s", name, type(exc).__name__, where)
    return UnexpectedError(
        f"{name}: unexpected {type(exc).__name__} at {where} "
        "(a bug in dintero-aio: please report it)"
    )
