from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.access_token import AccessToken
from ...models.client_credentials_grant import ClientCredentialsGrant
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    oid: str,
    *,
    body: ClientCredentialsGrant,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/accounts/{oid}/auth/token".format(
            oid=quote(str(oid), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AccessToken | Error | None:
    if response.status_code == 200:
        response_200 = AccessToken.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Error.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def build_request(
    oid: str,
    *,
    body: ClientCredentialsGrant,
) -> dict[str, Any]:
    """dintero-aio: the request's method, url, body, query and header parameters."""
    return _get_kwargs(
        oid=oid,
        body=body,
    )


#: dintero-aio: the status of a successful answer.
SUCCESS_STATUS = 200


def parse_success(response: httpx.Response) -> AccessToken:
    """dintero-aio: the model of a 200 answer (raises on a body that is not one)."""
    response_200 = AccessToken.from_dict(response.json())

    return response_200


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AccessToken | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    oid: str,
    *,
    client: AuthenticatedClient,
    body: ClientCredentialsGrant,
) -> Response[AccessToken | Error]:
    """Get Token

     Exchange client credentials (HTTP Basic, `client_id:client_secret`) for an access token.
    Cache the token and request a new one only when it is about to expire.

    Args:
        oid (str):  Example: T12345678.
        body (ClientCredentialsGrant):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessToken | Error]
    """

    kwargs = _get_kwargs(
        oid=oid,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    oid: str,
    *,
    client: AuthenticatedClient,
    body: ClientCredentialsGrant,
) -> AccessToken | Error | None:
    """Get Token

     Exchange client credentials (HTTP Basic, `client_id:client_secret`) for an access token.
    Cache the token and request a new one only when it is about to expire.

    Args:
        oid (str):  Example: T12345678.
        body (ClientCredentialsGrant):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessToken | Error
    """

    return sync_detailed(
        oid=oid,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    oid: str,
    *,
    client: AuthenticatedClient,
    body: ClientCredentialsGrant,
) -> Response[AccessToken | Error]:
    """Get Token

     Exchange client credentials (HTTP Basic, `client_id:client_secret`) for an access token.
    Cache the token and request a new one only when it is about to expire.

    Args:
        oid (str):  Example: T12345678.
        body (ClientCredentialsGrant):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessToken | Error]
    """

    kwargs = _get_kwargs(
        oid=oid,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    oid: str,
    *,
    client: AuthenticatedClient,
    body: ClientCredentialsGrant,
) -> AccessToken | Error | None:
    """Get Token

     Exchange client credentials (HTTP Basic, `client_id:client_secret`) for an access token.
    Cache the token and request a new one only when it is about to expire.

    Args:
        oid (str):  Example: T12345678.
        body (ClientCredentialsGrant):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessToken | Error
    """

    return (
        await asyncio_detailed(
            oid=oid,
            client=client,
            body=body,
        )
    ).parsed
