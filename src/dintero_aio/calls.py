"""Sending one generated operation, and the boundary every public call passes through.

The request is built by the operation's own `_get_kwargs` and the body parsed by its own
`_parse_response`, so the spec stays the single source of truth for paths and models. The SDK
sends the request itself rather than calling `asyncio_detailed`, which would hide the
`httpx.Response` (needed for headers and error bodies) and crash on statuses such as 599.

`Caller.guard` is where the README's promises are kept for every call: it ends with the spec's
model or a `DinteroError`; an error carries no credential (`redact.chain`); a call stopped by
`aclose()` ends with `ClientClosedError`; and any other exception — a bug — becomes an
`UnexpectedError`, logged at ERROR so that the test suite fails on it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import dintero_aio_api
import httpx

from . import bodies, redact, responses, retry
from .errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    DinteroError,
    MalformedResponseError,
    NotFoundError,
    UnexpectedError,
)
from .lifecycle import Lifecycle
from .responses import Operation
from .retry import Attempts, RetryPolicy

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
    #: The auth of this view's API calls; None for the client's own (the account's token flow).
    auth: httpx.Auth | None = None

    async def call(
        self,
        operation: Operation,
        returns: type[T],
        *args: Any,
        duplicate_risk: str | None = None,
        gone_means_done: bool = False,
        auth: httpx.Auth | None = None,
        check: Callable[[Any], str | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """Send `operation(*args, **kwargs)` and return its checked 2xx model.

        `duplicate_risk`: see `retry.run`. `gone_means_done`: a 404 after an earlier attempt that
        may have been processed means that attempt succeeded (delete); the result is then None.
        `auth` overrides the token flow (Get Token uses HTTP Basic). `check` is an extra check of
        the model (see `responses.parse`).
        """
        request = operation._get_kwargs(*args, **kwargs)
        method, url, name = _target(self.base_url, request.pop("method"), request.pop("url"))

        async def attempt(state: Attempts) -> Any:
            error: DinteroError
            timeout = _cut(self.timeout, state.time_left())
            sent = self.http.build_request(method, url, timeout=timeout, **request)
            state.request = sent
            try:
                response = await self.http.send(
                    sent, auth=auth or self.auth or httpx.USE_CLIENT_DEFAULT
                )
            except httpx.TimeoutException as exc:
                raise retry.classify(_wrap(APITimeoutError, name, exc)) from exc
            except httpx.LocalProtocolError:
                # Its message quotes the offending header, which may be a credential: no text,
                # no chain. (A token that could cause it is refused when it is fetched.)
                error = APIConnectionError(f"{name}: the request could not be sent")
            except httpx.RequestError as exc:
                raise retry.classify(_wrap(APIConnectionError, name, exc)) from exc
            except bodies.Rejected as rejected:
                error = rejected.error()
            else:
                state.request = None
                if not response.is_success:
                    status = responses.status_error(response)
                    if gone_means_done and _gone(status, state):
                        return None
                    raise retry.classify(status, responses.retry_after(response))
                try:
                    return responses.parse(operation, response, returns, self.generated, check)
                except MalformedResponseError as malformed:
                    error = malformed
            if isinstance(error, MalformedResponseError) and duplicate_risk:
                error.mark_outcome_unknown(
                    "Dintero accepted the request, but its answer could not be read; "
                    f"{duplicate_risk}."
                )
            if isinstance(error, APIConnectionError):
                raise retry.classify(error)
            raise error

        async def run(state: Attempts) -> T:
            result: T = await retry.run(
                attempt, state, policy=self.policy, name=name, duplicate_risk=duplicate_risk
            )
            return result

        return await self.guard(name, run, duplicate_risk=duplicate_risk)

    async def guard(
        self,
        name: str,
        run: Callable[[Attempts], Awaitable[T]],
        *,
        duplicate_risk: str | None = None,
    ) -> T:
        """Run one public call (`run`) inside the boundary described in the module docstring."""
        task = self.lifecycle.enter()
        state = Attempts(deadline=asyncio.get_running_loop().time() + self.policy.total_timeout)
        try:
            return await run(state)
        except DinteroError as exc:
            redact.chain(exc)
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


@functools.lru_cache(maxsize=512)
def _target(base_url: str, method: str, path: str) -> tuple[str, httpx.URL, str]:
    """The parsed URL of `path` (already percent-quoted by the generated code) under `base_url`,
    and the call's name for messages, e.g. "POST /v1/accounts/T12345678/auth/clients".

    httpx parses a relative URL and merges it with the client's base URL on every request, which
    costs about a third of a request on a fast network; a parsed absolute URL skips both steps.
    """
    url = httpx.URL(base_url + path)
    return method.upper(), url, f"{method.upper()} {url.path}"


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


def _cut(timeout: httpx.Timeout, left: float) -> httpx.Timeout:
    """`timeout` with no phase allowed to outlast the call's deadline."""
    phases = (timeout.connect, timeout.read, timeout.write, timeout.pool)
    if all(phase is not None and phase <= left for phase in phases):
        return timeout  # the common case: the deadline is further away than any phase
    left = max(left, 0.001)
    connect, read, write, pool = (left if p is None else min(p, left) for p in phases)
    return httpx.Timeout(connect=connect, read=read, write=write, pool=pool)
