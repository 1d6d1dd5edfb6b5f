"""The seam through which telemetry sees calls: an `Observer` is told when a call starts, each
attempt and its answer, each retry and wait, how the call ended, and each token fetch. Nobody
listens by default (`NO_OBSERVER`: a few no-op method calls per call); `_telemetry` implements it
with OpenTelemetry, and `chosen` picks one for a `Dintero` instance.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from ._errors import InvalidInputError

if TYPE_CHECKING:
    from types import TracebackType

    import httpx

    from ._errors import DinteroError


class CallObservation(Protocol):
    """What is told about one call."""

    def attempt(self, request: httpx.Request) -> AbstractContextManager[None]:
        """Entered around sending one attempt's request (its span is the parent of the HTTP
        client's own, and of the token fetch the attempt starts, if any)."""
        ...

    def answered(self, status: int) -> None:
        """The current attempt was answered with `status` (2xx or not)."""
        ...

    def retrying(self, error: DinteroError, wait: float, token: bool) -> None:
        """The attempt failed with `error` and another follows after `wait` seconds; `token`: it
        was the token that attempt waited for that failed, not its own request."""
        ...

    def waited(self, what: str, seconds: float) -> None:
        """The call waited `seconds` for `what`: "token" or "queue"."""
        ...

    def token(self, source: str) -> None:
        """The current attempt carries a token from `source`: "memory" (this process had it),
        "shared" (a fleet's cache) or "dintero" (fetched for it)."""
        ...

    def ended(self, error: DinteroError | None, *, cancelled: bool = False) -> None:
        """The call ended: with its model (`error` None), with `error`, or `cancelled` by its
        caller."""
        ...


class TokenFetch(Protocol):
    """One token fetch, entered around it (in the fetch's own fresh context)."""

    def __enter__(self) -> None: ...
    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def fetched(self, source: str) -> None:
        """The token came from `source`: "dintero" or "shared" (a fleet's cache)."""
        ...


class Observer(Protocol):
    def call(self, name: str, account_id: str) -> CallObservation:
        """A public call starts (its own requests, or a token's request, which runs as a call
        of its own in a fresh context: it serves every waiter). `name` is the generated
        operation's name ("aid_auth_clients_post") or the name of a call made of several
        ("create client with grants", "token check")."""
        ...

    def token_fetch(self, what: str) -> TokenFetch:
        """A fetch of `what` token ("access token of T12345678", "exchange token of
        T87654321") is about to start; called in the context of the call that starts it."""
        ...


class _Nobody:
    """The observer, observation, attempt context and token fetch of nobody listening: one
    shared object."""

    __slots__ = ()

    def call(self, name: str, account_id: str) -> _Nobody:
        return self

    def token_fetch(self, what: str) -> _Nobody:
        return self

    def fetched(self, source: str) -> None:
        return None

    def attempt(self, request: httpx.Request) -> _Nobody:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None

    def answered(self, status: int) -> None:
        return None

    def retrying(self, error: DinteroError, wait: float, token: bool) -> None:
        return None

    def waited(self, what: str, seconds: float) -> None:
        return None

    def token(self, source: str) -> None:
        return None

    def ended(self, error: DinteroError | None, *, cancelled: bool = False) -> None:
        return None


NO_OBSERVER: Observer = _Nobody()
#: Whether `opentelemetry` can be imported: looked up once per process, on first need.
_importable: bool | None = None


def chosen(telemetry: bool, tracer_provider: object, meter_provider: object) -> Observer:
    """The observer of a `Dintero` instance: OpenTelemetry's when `telemetry` is on and the
    `opentelemetry-api` package is installed (the `otel` extra), else nobody. Without the
    package nothing of it is imported; a provider passed without it is an error, not ignored."""
    global _importable
    if not telemetry:
        return NO_OBSERVER
    if _importable is None:
        import importlib.util

        try:
            _importable = importlib.util.find_spec("opentelemetry.trace") is not None
        except ModuleNotFoundError:  # no `opentelemetry` package at all
            _importable = False
    if not _importable:
        if tracer_provider is not None or meter_provider is not None:
            raise InvalidInputError(
                "tracer_provider and meter_provider need the opentelemetry-api package: "
                "pip install 'dintero-aio[otel]'"
            )
        return NO_OBSERVER
    from ._telemetry import observer

    return observer(tracer_provider, meter_provider)
