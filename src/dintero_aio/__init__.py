"""dintero-aio: an async SDK for Dintero's management-auth API.

async with Dintero.from_env() as dintero:
    created = await dintero.clients.create(
        name="pos", grants=[GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])]
    )
"""

from dintero_aio_api.models import ClientInfo, ClientWithSecret, Grant, GrantOidc, GrantType
from dintero_aio_api.types import UNSET, Unset

from ._version import __version__
from .client import Dintero, Settings
from .clients import ClientWithGrants
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DinteroError,
    EventLoopError,
    GrantFailedError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    UnexpectedError,
)
from .grants import GrantSpec
from .partners import MerchantAccount
from .retry import RetryPolicy

__all__ = [
    "UNSET",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ClientInfo",
    "ClientWithGrants",
    "ClientWithSecret",
    "Dintero",
    "DinteroError",
    "EventLoopError",
    "Grant",
    "GrantFailedError",
    "GrantOidc",
    "GrantSpec",
    "GrantType",
    "InternalServerError",
    "InvalidInputError",
    "MalformedResponseError",
    "MerchantAccount",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Settings",
    "UnexpectedError",
    "Unset",
    "__version__",
]
