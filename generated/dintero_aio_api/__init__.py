"""A client library for accessing Dintero management-auth API (dintero-aio fragment)"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)
