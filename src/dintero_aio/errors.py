"""The SDK's exception tree: every failure a caller can see is a `DinteroError`.

Status errors carry the `httpx.Response` (the evidence) and Dintero's error `code` and `message`;
connection errors are chained to the httpx exception that caused them. No message ever contains a
credential: messages are built from the status, the request path and Dintero's error body only.
"""

from __future__ import annotations

import httpx


class DinteroError(Exception):
    """Base class of every error raised by dintero-aio."""

    #: True when the request may have been processed although the call failed (a create or
    #: rotate-secret that was deliberately not retried); check the server's state before acting.
    outcome_unknown: bool = False

    def mark_outcome_unknown(self, why: str) -> None:
        """Record, in the flag and in the message, that the server may have acted on the call."""
        self.outcome_unknown = True
        self.args = (f"{self.args[0]} The outcome is unknown: {why}",)


class InvalidInputError(DinteroError, ValueError):
    """An argument or setting was rejected before any request was sent."""


class APIConnectionError(DinteroError):
    """The request could not be completed: no HTTP response arrived."""


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout, or the call's `total_timeout`, ran out."""


class MalformedResponseError(DinteroError):
    """A 2xx response that does not match the spec (not JSON, missing or mistyped fields)."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


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

    retry_after: float | None = None


class InternalServerError(APIStatusError):
    """Any 5xx status, 599 included."""
