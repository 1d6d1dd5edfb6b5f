"""dintero-aio: an async SDK for Dintero's management-auth API.

async with Dintero.from_env() as dintero:
    created = await dintero.clients.create(name="pos", client_id="pos-1")
"""

from dintero_api.models import ClientInfo, ClientWithSecret

from ._version import __version__
from .client import Dintero
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DinteroError,
    EventLoopError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    UnexpectedError,
)
from .retry import RetryPolicy

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientInfo",
    "ClientWithSecret",
    "Dintero",
    "DinteroError",
    "EventLoopError",
    "InternalServerError",
    "InvalidInputError",
    "MalformedResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "UnexpectedError",
    "__version__",
]
