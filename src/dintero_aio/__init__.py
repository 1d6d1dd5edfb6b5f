"""dintero-aio: an async SDK for Dintero's management-auth API.

async with Dintero.from_env() as dintero:
    created = await dintero.clients.create(
        name="pos", grants=[GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])]
    )
"""

from typing import TYPE_CHECKING, Any

from ._dintero import Dintero, Settings
from ._errors import (
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
from ._version import __version__

if TYPE_CHECKING:
    from dintero_aio_api.models import ClientInfo, ClientWithSecret, Grant, GrantOidc, GrantType
    from dintero_aio_api.types import UNSET, Unset

    from ._clients import ClientWithGrants
    from ._grants import GrantSpec
    from ._merchants import MerchantAccount
    from ._redis_cache import RedisTokenCache
    from ._retry import RetryPolicy
    from ._token_cache import TokenCache

#: Names imported on first use (PEP 562), with the modules they come from: they load asyncio,
#: attrs or the generated client, which `import dintero_aio` does not (see client.py).
_LAZY = {
    **dict.fromkeys(
        ("ClientInfo", "ClientWithSecret", "Grant", "GrantOidc", "GrantType"),
        "dintero_aio_api.models",
    ),
    **dict.fromkeys(("UNSET", "Unset"), "dintero_aio_api.types"),
    "ClientWithGrants": "dintero_aio._clients",
    "GrantSpec": "dintero_aio._grants",
    "MerchantAccount": "dintero_aio._merchants",
    "RetryPolicy": "dintero_aio._retry",
    "RedisTokenCache": "dintero_aio._redis_cache",
    "TokenCache": "dintero_aio._token_cache",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


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
    "RedisTokenCache",
    "ResponseTooLargeError",
    "RetryPolicy",
    "Settings",
    "TokenCache",
    "UnexpectedError",
    "Unset",
    "__version__",
]
