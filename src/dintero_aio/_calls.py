"""Sending one generated operation, and the boundary every public call passes through.

The request is built by the operation's own `_get_kwargs` and the body parsed by its own
`_parse_response`, so the spec stays the single source of truth for paths and models. The SDK
sends the request itself rather than calling `asyncio_detailed`, which would hide the
`httpx.Response` (needed for headers and error bodies) and crash on statuses such as 599.

`Caller.guard` is where the README's promises are kept for every call: it ends with the spec's
model or a `DinteroError`; an error carries no credential (`_redact.chain`); a call stopped by
`aclose()` ends with `ClientClosedError`; and any other exception — a bug — becomes an
`UnexpectedError`, logged at ERROR so that the test suite fails on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import dintero_aio_api
import httpx

from . import _bodies, _redact, _responses, _retry
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    DinteroError,
    MalformedResponseError,
    NotFoundError,
    UnexpectedError,
)
from ._lifecycle import Lifecycle
from ._queue import Queue
from ._responses import Operation
from ._retry import Attempts, RetryPolicy
from ._timeouts import Deadlines

T = TypeVar("T")
log = logging.getLogger("dintero_aio")


@attrs.frozen
class Caller:
    """Shared connection pool, generated client and lifecycle, with this view's retry policy
    and timeout."""

    base_url: str
    http: httpx.AsyncClient
    generated: dintero_aio_api.Client
    lifecycle: Lifecycle
    policy: RetryPolicy
    timeout: httpx.Timeout
    deadlines: Deadlines
    #: The auth of this view's API calls; None for the client's own (the account's token flow).
    auth: httpx.Auth | None = None
    #: The queue in front of the connection pool (queueing.py); None with the user's transport.
    queue: Queue | None = None
    #: Every request's headers but its body's and credentials', Host included: what httpx's
    #: `build_request` would merge and normalize again for every request (see `_Call`). Built
    #: once and shared by every view (`attrs.evolve` passes it on): a partner has one per
    #: merchant account.
    headers: httpx.Headers = attrs.field(
        default=attrs.Factory(lambda self: _headers(self.http), takes_self=True), kw_only=True
    )
    #: The longest phase of `timeout`: a deadline further away than this cuts no phase.
    longest: float = attrs.field(
        init=False, default=attrs.Factory(lambda self: _longest(self.timeout), takes_self=True)
    )
    #: `timeout` as a request's `timeout` extension.
    timeouts: dict[str, float | None] = attrs.field(
        init=False, default=attrs.Factory(lambda self: self.timeout.as_dict(), takes_self=True)
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
        queued: bool = True,
        **kwargs: Any,
    ) -> Awaitable[T]:
        """Send `operation(*args, **kwargs)`; await the result for its checked 2xx model.

        `duplicate_risk`: see `_retry.run`. `gone_means_done`: a 404 after an earlier attempt that
        may have been processed means that attempt succeeded (delete); the result is then None.
        `auth` overrides the token flow (Get Token uses HTTP Basic). `check` is an extra check of
        the model (see `_responses.parse`). `queued=False`: skip the queue (token requests).
        """
        call = _Call(
            self,
            operation,
            operation._get_kwargs(*args, **kwargs),
            returns,
            auth=auth,
            queued=queued,
            duplicate_risk=duplicate_risk,
            gone_means_done=gone_means_done,
            check=check,
        )
        return self.guard(call.name, call.run, duplicate_risk=duplicate_risk)

    async def guard(
        self,
        name: str,
        run: Callable[[Attempts], Awaitable[T]],
        *,
        duplicate_risk: str | None = None,
    ) -> T:
        """Run one public call (`run`) inside the boundary described in the module docstring."""
        task = self.lifecycle.enter()
        loop = task.get_loop()
        state = Attempts(loop.time() + self.policy.total_timeout, task, loop)
        try:
            return await run(state)
        except DinteroError as exc:
            _redact.chain(exc)
            raise
        except asyncio.CancelledError:
            if not self.lifecycle.stopped_by_close(task):
                raise
            error: DinteroError = ClientClosedError(
                f"{name}: the client was closed during the call"
            )
            if duplicate_risk and state.in_flight():
                error.mark_outcome_unknown(f"the request may have been sent; {duplicate_risk}.")
        except Exception as exc:
            error = _unexpected(name, exc)
        finally:
            self.lifecycle.leave(task)
        # Raised here, outside the handlers, so that the exception caught above (whose text or
        # request may hold a credential) is not chained to it as __context__.
        raise error


class _Call:
    """One call: the request each attempt sends and how its answer is read.

    An object rather than closures in `Caller.call`: with many calls under way, every closure
    cell is one more object for the garbage collector to visit again and again."""

    __slots__ = (
        "caller",
        "check",
        "duplicate_risk",
        "flow",
        "gone_means_done",
        "headers",
        "method",
        "name",
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
        request: dict[str, Any],
        returns: Any,
        *,
        auth: httpx.Auth | None,
        queued: bool,
        duplicate_risk: str | None,
        gone_means_done: bool,
        check: Callable[[Any], str | None] | None,
    ) -> None:
        self.caller = caller
        self.operation = operation
        self.returns = returns
        self.duplicate_risk = duplicate_risk
        self.gone_means_done = gone_means_done
        self.check = check
        self.method, self.url, self.name = _target(
            caller.base_url, request.pop("method"), request.pop("url")
        )
        self.headers = caller.headers
        extra = request.pop("headers", None)  # the operation's header parameters, if any
        if extra:
            self.headers = httpx.Headers(self.headers)
            self.headers.update(extra)
        self.request = request  # what is left: the body, the query parameters
        self.flow = auth or caller.auth or caller.http.auth
        self.queue = caller.queue if queued else None

    def run(self, state: Attempts) -> Awaitable[Any]:
        caller = self.caller
        return _retry.run(
            self.attempt,
            state,
            policy=caller.policy,
            deadlines=caller.deadlines,
            name=self.name,
            duplicate_risk=self.duplicate_risk,
        )

    async def attempt(self, state: Attempts) -> Any:
        caller, name = self.caller, self.name
        error: DinteroError
        left = state.time_left()
        timeout = caller.timeout if left >= caller.longest else _cut(caller.timeout, left)
        # The request is built here, not by `http.build_request`, which would copy, merge and
        # re-encode the client's headers and cookies for every request: a tenth of a call. Its
        # headers are the same (tests/test_requests.py); no cookies are kept.
        sent = httpx.Request(
            self.method,
            self.url,
            headers=self.headers,
            extensions={
                "timeout": caller.timeouts if timeout is caller.timeout else timeout.as_dict()
            },
            **self.request,
        )
        state.request = sent
        try:
            if self.queue is None:
                response = await caller.http.send(sent, auth=self.flow)
            else:
                response = await self.queue.send(caller.http, sent, self.flow)
        except httpx.TimeoutException as exc:
            raise _retry.classify(_wrap(APITimeoutError, name, exc)) from exc
        except httpx.LocalProtocolError:
            # Its message quotes the offending header, which may be a credential: no text, no
            # chain. (A token that could cause it is refused when it is fetched.)
            error = APIConnectionError(f"{name}: the request could not be sent")
        except httpx.RemoteProtocolError as exc:
            # Its message can quote the server's bytes (an illegal status or header line), and
            # after a mis-framed answer those are the rest of an earlier body, a new client's
            # secret included: only its first words are kept, here and in the chained error.
            words = str(exc).split(":", 1)[0]
            error = _wrap(APIConnectionError, name, httpx.RemoteProtocolError(words, request=sent))
        except httpx.RequestError as exc:
            raise _retry.classify(_wrap(APIConnectionError, name, exc)) from exc
        except _bodies.Rejected as rejected:
            error = rejected.error()
        else:
            state.request = None
            if not response.is_success:
                status = _responses.status_error(response)
                if self.gone_means_done and _gone(status, state):
                    return None
                raise _retry.classify(status, _responses.retry_after(response))
            try:
                return _responses.parse(
                    self.operation, response, self.returns, caller.generated, self.check
                )
            except MalformedResponseError as malformed:
                error = malformed
        if isinstance(error, MalformedResponseError) and self.duplicate_risk:
            error.mark_outcome_unknown(
                "Dintero accepted the request, but its answer could not be read; "
                f"{self.duplicate_risk}."
            )
        if isinstance(error, APIConnectionError):
            raise _retry.classify(error)
        raise error


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


def _gone(error: DinteroError, state: Attempts) -> bool:
    return isinstance(error, NotFoundError) and state.maybe_processed_before


def _wrap(cls: type[APIConnectionError], name: str, exc: httpx.RequestError) -> APIConnectionError:
    error = cls(f"{name}: {type(exc).__name__}: {str(exc) or 'no detail'}")
    error.__cause__ = exc
    return error


def _unexpected(name: str, exc: Exception) -> UnexpectedError:
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "unknown"
    log.error("bug in dintero-aio: %s: unexpected %s at %s", name, type(exc).__name__, where)
    return UnexpectedError(
        f"{name}: unexpected {type(exc).__name__} at {where} "
        "(a bug in dintero-aio: please report it)"
    )


def _phases(timeout: httpx.Timeout) -> tuple[float | None, ...]:
    return (timeout.connect, timeout.read, timeout.write, timeout.pool)


def _longest(timeout: httpx.Timeout) -> float:
    phases = _phases(timeout)
    return math.inf if None in phases else max(p for p in phases if p is not None)


def _cut(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """`timeout` with no phase allowed to outlast the call's deadline, `left` seconds away."""
    phases = _phases(timeout)
    left = max(left, 0.001)
    connect, read, write, pool = (left if p is None else min(p, left) for p in phases)
    return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)
