"""The SDK's exception tree: every failure a caller can see is a `DinteroError`.

Status errors carry the response as evidence (status, headers, body, method and URL) and
Dintero's error `code` and `message`; connection errors are chained to the httpx exception that
caused them. What an error carries is a detached copy with every credential taken out, because
error trackers serialise exactly these attributes: the call's boundary does that (`_redact.error`)
before the error reaches the caller, so the constructors here only store. No message ever
contains a credential: messages are built from the status, the request path and Dintero's error
body only.

Every error pickles and copies with its type, message and attributes (task queues and process
pools pickle exceptions; `BaseException` would call the constructor again with the message alone,
which these keyword-only constructors refuse).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx
    from dintero_aio_api.models import ClientWithSecret, Grant


class DinteroError(Exception):
    """Base class of every error raised by dintero-aio."""

    #: True when the request may have reached Dintero and the caller does not know the result
    #: (a create or rotate-secret that was deliberately not retried, or whose 2xx answer could
    #: not be read); check the server's state before acting.
    outcome_unknown: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild, (type(self), self.args, self.__dict__)

    def mark_outcome_unknown(self, why: str) -> None:
        """Record, in the flag and in the message, that the server may have acted on the call."""
        if not self.outcome_unknown:
            self.outcome_unknown = True
            self.args = (f"{self.args[0]} The outcome is unknown: {why}",)


class InvalidInputError(DinteroError, ValueError):
    """An argument, setting or environment variable was rejected before any request was sent."""


class ClientClosedError(DinteroError):
    """The `Dintero` instance was closed (`aclose()`) before or while the call ran."""


class EventLoopError(DinteroError, RuntimeError):
    """A `Dintero` instance was used from an event loop other than the one it first ran on."""


class UnexpectedError(DinteroError):
    """An exception that dintero-aio did not anticipate: a bug, please report it.

    Its message names the exception type and where it was raised, never the exception's own text,
    which could quote a credential (a header value, a token)."""


class APIConnectionError(DinteroError):
    """The request could not be completed: no HTTP response arrived."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout, or the call's `total_timeout`, ran out."""


class MalformedResponseError(DinteroError):
    """A 2xx response that does not match the spec (not JSON, missing or mistyped fields)."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class ResponseTooLargeError(MalformedResponseError):
    """A 2xx body longer than `max_response_bytes` once decoded; the rest was not read."""


class APIStatusError(DinteroError):
    """Dintero answered with a non-2xx status."""

    def __init__(
        self, message: str, *, response: httpx.Response, code: str | None, api_message: str | None
    ) -> None:
        super().__init__(message)
        self.response = response
        self.status_code = response.status_code
        #: Dintero's `error.code`, e.g. "mfa_required", when the body has one.
        self.code = code
        #: Dintero's `error.message`, when the body has one.
        self.message = api_message
        #: The server's `Retry-After` in seconds, when it sent a usable one (429, 503).
        self.retry_after: float | None = None


class BadRequestError(APIStatusError):
    """400."""


class AuthenticationError(APIStatusError):
    """401, or the token endpoint rejected the client credentials or the audience."""


class PermissionDeniedError(APIStatusError):
    """403."""


class NotFoundError(APIStatusError):
    """404."""


class RateLimitError(APIStatusError):
    """429. `retry_after` is the server's `Retry-After` in seconds, when it sent one."""


class InternalServerError(APIStatusError):
    """Any 5xx status, 599 included."""


class GrantFailedError(DinteroError):
    """`clients.create(..., grants=[...])` created the client, then a grant failed.

    The client exists at Dintero and its secret can never be read again, so this error carries it:
    `client` (a `ClientWithSecret`, secret included, left out of every repr and message),
    `grants` (the grants made, in order) and `not_made` (the `GrantSpec`s not made, the failed
    one first). Finish with `grants.create(client_id=error.client, ...)` or clean up with
    `clients.delete(error.client.id)`. The failure itself is `__cause__`; `outcome_unknown` is
    the failed grant's (it may have been made: list the client's grants before trying again).
    """

    def __init__(
        self,
        cause: DinteroError,
        *,
        client: ClientWithSecret,
        grants: tuple[Grant, ...],
        not_made: tuple[_Spec, ...],
    ) -> None:
        made = len(grants)
        super().__init__(
            f"client {client.id} was created, but its grant for {not_made[0].audience} failed "
            f"({made} of {made + len(not_made)} grants made; this error's `client` holds the new "
            f"client and its secret): {cause}"
        )
        self.client = client
        self.grants = grants
        self.not_made = not_made
        self.outcome_unknown = cause.outcome_unknown
        self.__cause__ = cause


class _Spec(Protocol):
    """What the message needs of a `GrantSpec` (named structurally, so that this module imports
    nothing of the package)."""

    @property
    def audience(self) -> str: ...


def _rebuild(cls: type[DinteroError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error
