"""Contains all the data models used in inputs/outputs"""

from .access_token import AccessToken
from .access_token_token_type import AccessTokenTokenType
from .client_create import ClientCreate
from .client_credentials_grant import ClientCredentialsGrant
from .client_credentials_grant_grant_type import ClientCredentialsGrantGrantType
from .client_info import ClientInfo
from .client_with_secret import ClientWithSecret
from .error import Error
from .error_error import ErrorError
from .error_error_errors_item import ErrorErrorErrorsItem
from .exchange import Exchange
from .grant import Grant
from .grant_create import GrantCreate
from .grant_oidc import GrantOidc
from .grant_type import GrantType

__all__ = (
    "AccessToken",
    "AccessTokenTokenType",
    "ClientCreate",
    "ClientCredentialsGrant",
    "ClientCredentialsGrantGrantType",
    "ClientInfo",
    "ClientWithSecret",
    "Error",
    "ErrorError",
    "ErrorErrorErrorsItem",
    "Exchange",
    "Grant",
    "GrantCreate",
    "GrantOidc",
    "GrantType",
)
