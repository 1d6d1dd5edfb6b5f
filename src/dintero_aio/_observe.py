"""The seam through which telemetry sees calls: an `Observer` is told when a call starts, each
attempt, each retry and wait, and how the call ended. Nobody listens by default (`NO_OBSERVER`:
a few no-op method calls per call); `_telemetry` implements it with OpenTelemetry.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

    from ._errors import DinteroError
    from ._wire import CallState


class CallObservation(Protocol):
    """What is told about one call."""

    def attempt(self, request: httpx.Request) -> AbstractContextManager[None]:
        """Entered around sending one attempt's request (its span is the parent of the HTTP
        client's own)."""
        ...

    def retrying(self, error: DinteroError, wait: float) -> None: ...

    def waited(self, what: str, seconds: float) -> None:
        """The call waited `seconds` for `what`: "token" or "queue"."""
        ...

    def ended(
        self, state: CallState, error: DinteroError | None, *, cancelled: bool = False
    ) -> None: ...


class Observer(Protocol):
    def call(self, name: str, account_id: str) -> CallObservation:
        """A public call starts (its own requests, or a token's request, which runs as a call
        of its own in a fresh context: it serves every waiter)."""
        ...

    def token_fetched(
        self, what: str, source: str | None, seconds: float, error: BaseException | None
    ) -> None:
        """A token fetch ended: `what` token ("access token of T12345678", "exchange token of
        T87654321"), where it came from ("dintero", "shared"; None if it failed)."""
        ...


class _Nobody:
    """The observer, observation and attempt context of nobody listening: one shared object."""

    __slots__ = ()

    def call(self, name: str, account_id: str) -> _Nobody:
        return self

    def token_fetched(
        self, what: str, source: str | None, seconds: float, error: BaseException | None
    ) -> None:
        return None

    def attempt(self, request: httpx.Request) -> _Nobody:
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None

    def retrying(self, error: DinteroError, wait: float) -> None:
        return None

    def waited(self, what: str, seconds: float) -> None:
        return None

    def ended(
        self, state: CallState, error: DinteroError | None, *, cancelled: bool = False
    ) -> None:
        return None


NO_OBSERVER: Observer = _Nobody()
