"""What happened on the wire: how far a call's request got, its transport failures as SDK
errors, and whether the server may have acted on it.

This is the one home of "was it sent". An attempt moves through stages that the code sending it
records in its `CallState` (`Stage`): it waits (for a queue slot, a connection), then for its
token, then it is on the wire, then it is answered. Everything the SDK decides about a failure's
consequences reads the stage and the error here: whether a retry could make a duplicate
(`maybe_processed`, used by `_retry`) and whether the caller must be told the outcome is unknown
(`unknown_because`, used once, at the call's boundary).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import httpx

from . import _bodies
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    DinteroError,
    MalformedResponseError,
)

if TYPE_CHECKING:
    from ._observe import CallObservation

#: The extension under which a request carries its `CallState` to the auth flow.
STATE = "dintero_aio.call"
#: Statuses that say "not processed, try again".
REFUSED = frozenset({429, 503})
#: Any other 5xx (599 and the 52x of proxies included) may come after the request was processed,
#: except 501 and 505, which say the request was not understood.
AMBIGUOUS = frozenset(range(500, 1000)) - REFUSED - {501, 505}


class Stage(enum.Enum):
    WAITING = "waiting for a slot or a connection"
    TOKEN = "waiting for its token"  # noqa: S105 - a stage's name, not a credential
    SENT = "on the wire"
    ANSWERED = "answered"


class CallState:
    """One call's progress: its deadline, its retries, and how far its current attempt got."""

    __slots__ = (
        "deadline",
        "loop",
        "maybe_processed_before",
        "observed",
        "retries",
        "stage",
        "token_retries",
    )

    def __init__(
        self,
        deadline: float,
        loop: asyncio.AbstractEventLoop,
        observed: CallObservation,
    ) -> None:
        self.deadline = deadline
        self.loop = loop
        #: What telemetry knows of the call (`_observe`).
        self.observed = observed
        #: Retries after failures of the call's own request, and of the token it waited for: each
        #: has the policy's whole budget, as if the token had been retried on its own.
        self.retries = 0
        self.token_retries = 0
        #: True once an earlier attempt failed in a way the server may have processed.
        self.maybe_processed_before = False
        self.stage = Stage.WAITING

    def retries_so_far(self) -> int:
        """The retries that count against the failure at hand (see `retries`)."""
        return self.token_retries if self.stage is Stage.TOKEN else self.retries

    def time_left(self) -> float:
        return self.deadline - self.loop.time()

    def retrying(self, error: DinteroError) -> None:
        """The attempt that failed with `error` is to be followed by another."""
        if self.stage is Stage.TOKEN:
            self.token_retries += 1
        else:
            self.retries += 1
        self.maybe_processed_before |= maybe_processed(self, error)
        self.stage = Stage.WAITING


def at(request: httpx.Request, stage: Stage) -> None:
    """Record that `request`'s attempt reached `stage` (called by the auth flows)."""
    state = request.extensions.get(STATE)
    if state is not None:
        state.stage = stage


def maybe_processed(state: CallState, error: DinteroError) -> bool:
    """Whether the attempt that ended with `error` may have been acted on by the server."""
    if state.stage is Stage.TOKEN:  # the token's own request failed: this one never left
        return False
    if isinstance(error, MalformedResponseError):  # a 2xx: it was processed
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in AMBIGUOUS
    # No answer, or one whose body never arrived whole: the request may have been processed.
    return state.stage is Stage.SENT or state.stage is Stage.ANSWERED


def unknown_because(state: CallState, error: DinteroError, risk: str) -> str | None:
    """Why the outcome of a call that could duplicate something (`risk` says what) is unknown
    after `error`, or None when it is known not to have been processed."""
    if maybe_processed(state, error):
        if isinstance(error, MalformedResponseError):
            return f"Dintero accepted the request, but its answer could not be read; {risk}."
        if isinstance(error, ClientClosedError):
            return f"the request may have been sent; {risk}."
        if isinstance(error, APITimeoutError) and state.time_left() <= 0:
            return f"a request may have been in flight; {risk}."
        return f"not retried, because {risk}."
    if state.maybe_processed_before:
        return f"an earlier attempt may have been processed; {risk}."
    return None


async def sent(name: str, state: CallState, sending: Awaitable[httpx.Response]) -> httpx.Response:
    """Await `sending`, turning the transport's failures into SDK errors (as httpx's own
    `map_httpcore_exceptions` does one level down), trimming what could quote a credential, and
    recording a failure that happened before the request left."""
    error: DinteroError
    try:
        return await sending
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        state.stage = Stage.WAITING  # nothing left: connecting, or waiting for a connection
        error = _wrap(name, exc)
    except httpx.LocalProtocolError:
        # Its message quotes the offending header, which may be a credential: no text, no
        # chain. (A token that could cause it is refused when it is fetched.)
        error = APIConnectionError(f"{name}: the request could not be sent")
    except httpx.RemoteProtocolError as exc:
        # Its message can quote the server's bytes (an illegal status or header line), and
        # after a mis-framed answer those are the rest of an earlier body, a new client's
        # secret included: only its first words are kept, here and in the chained error.
        words = httpx.RemoteProtocolError(str(exc).split(":", 1)[0])
        with contextlib.suppress(RuntimeError):  # raised before a request existed
            words.request = exc.request
        error = _wrap(name, words)
    except httpx.RequestError as exc:
        error = _wrap(name, exc)
    except _bodies.Rejected as rejected:  # a 2xx body the size limit or its decoding refused
        error = rejected.error()
    # Raised here, outside the handlers: the exception caught above must not be chained to it
    # as its __context__ (its text can quote a credential); `_wrap` chains a safe one as cause.
    raise error


def _wrap(name: str, exc: httpx.RequestError) -> APIConnectionError:
    """The SDK error for `exc`, naming the call, the failure and the server that was tried (a
    wrong base URL shows at once), chained to `exc`."""
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    where = ""
    with contextlib.suppress(RuntimeError):  # raised before a request existed
        where = f" ({exc.request.url.scheme}://{exc.request.url.netloc.decode('ascii')})"
    error = cls(f"{name}: {type(exc).__name__}{where}: {str(exc) or 'no detail'}")
    error.__cause__ = exc
    return error
