from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.access_token import AccessToken
from ...models.error import Error
from ...models.exchange import Exchange
from ...types import Response


def _get_kwargs(
    partner_id: str,
    *,
    body: Exchange,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/accounts/{partner_id}/auth/exchange_token".format(
            partner_id=quote(str(partner_id), safe=""),
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

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def build_request(
    partner_id: str,
    *,
    body: Exchange,
) -> dict[str, Any]:
    """dintero-aio: the request's method, url, body, query and header parameters."""
    return _get_kwargs(
        partner_id=partner_id,
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
    partner_id: str,
    *,
    client: AuthenticatedClient,
    body: Exchange,
) -> Response[AccessToken | Error]:
    """Exchange Token

     Exchange the partner's access token for an access token to one of its merchant accounts
    (sub-accounts). The returned token acts on the merchant account; exchange again when it
    is about to expire. Scopes: `admin:accounts` or `read:accounts`.

    Args:
        partner_id (str):  Example: P00000000.
        body (Exchange):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessToken | Error]
    """

    kwargs = _get_kwargs(
        partner_id=partner_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    partner_id: str,
    *,
    client: AuthenticatedClient,
    body: Exchange,
) -> AccessToken | Error | None:
    """Exchange Token

     Exchange the partner's access token for an access token to one of its merchant accounts
    (sub-accounts). The returned token acts on the merchant account; exchange again when it
    is about to expire. Scopes: `admin:accounts` or `read:accounts`.

    Args:
        partner_id (str):  Example: P00000000.
        body (Exchange):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessToken | Error
    """

    return sync_detailed(
        partner_id=partner_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    partner_id: str,
    *,
    client: AuthenticatedClient,
    body: Exchange,
) -> Response[AccessToken | Error]:
    """Exchange Token

     Exchange the partner's access token for an access token to one of its merchant accounts
    (sub-accounts). The returned token acts on the merchant account; exchange again when it
    is about to expire. Scopes: `admin:accounts` or `read:accounts`.

    Args:
        partner_id (str):  Example: P00000000.
        body (Exchange):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AccessToken | Error]
    """

    kwargs = _get_kwargs(
        partner_id=partner_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    partner_id: str,
    *,
    client: AuthenticatedClient,
    body: Exchange,
) -> AccessToken | Error | None:
    """Exchange Token

     Exchange the partner's access token for an access token to one of its merchant accounts
    (sub-accounts). The returned token acts on the merchant account; exchange again when it
    is about to expire. Scopes: `admin:accounts` or `read:accounts`.

    Args:
        partner_id (str):  Example: P00000000.
        body (Exchange):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AccessToken | Error
    """

    return (
        await asyncio_detailed(
            partner_id=partner_id,
            client=client,
            body=body,
        )
    ).parsed
