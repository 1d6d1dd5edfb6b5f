from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.client_info import ClientInfo
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    oid: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/accounts/{oid}/auth/clients".format(
            oid=quote(str(oid), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | list[ClientInfo] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = ClientInfo.from_dict(response_200_item_data)

            response_200.append(response_200_item)

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
    oid: str,
) -> dict[str, Any]:
    """dintero-aio: the request's method, url, body, query and header parameters."""
    return _get_kwargs(
        oid=oid,
    )


#: dintero-aio: the status of a successful answer.
SUCCESS_STATUS = 200


def parse_success(response: httpx.Response) -> list[ClientInfo]:
    """dintero-aio: the model of a 200 answer (raises on a body that is not one)."""
    response_200 = []
    _response_200 = response.json()
    for response_200_item_data in _response_200:
        response_200_item = ClientInfo.from_dict(response_200_item_data)

        response_200.append(response_200_item)

    return response_200


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | list[ClientInfo]]:
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
) -> Response[Error | list[ClientInfo]]:
    """List clients

     The auth clients of the account, without their secrets. Not paginated.

    Args:
        oid (str):  Example: T12345678.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | list[ClientInfo]]
    """

    kwargs = _get_kwargs(
        oid=oid,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    oid: str,
    *,
    client: AuthenticatedClient,
) -> Error | list[ClientInfo] | None:
    """List clients

     The auth clients of the account, without their secrets. Not paginated.

    Args:
        oid (str):  Example: T12345678.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | list[ClientInfo]
    """

    return sync_detailed(
        oid=oid,
        client=client,
    ).parsed


async def asyncio_detailed(
    oid: str,
    *,
    client: AuthenticatedClient,
) -> Response[Error | list[ClientInfo]]:
    """List clients

     The auth clients of the account, without their secrets. Not paginated.

    Args:
        oid (str):  Example: T12345678.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | list[ClientInfo]]
    """

    kwargs = _get_kwargs(
        oid=oid,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    oid: str,
    *,
    client: AuthenticatedClient,
) -> Error | list[ClientInfo] | None:
    """List clients

     The auth clients of the account, without their secrets. Not paginated.

    Args:
        oid (str):  Example: T12345678.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | list[ClientInfo]
    """

    return (
        await asyncio_detailed(
            oid=oid,
            client=client,
        )
    ).parsed
