from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.client_with_secret import ClientWithSecret
from ...models.error import Error
from ...types import Response


def _get_kwargs(
    oid: str,
    id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/accounts/{oid}/auth/clients/{id}/rotate-secret".format(
            oid=quote(str(oid), safe=""),
            id=quote(str(id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ClientWithSecret | Error | None:
    if response.status_code == 200:
        response_200 = ClientWithSecret.from_dict(response.json())

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

    if response.status_code == 404:
        response_404 = Error.from_dict(response.json())

        return response_404

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def build_request(
    oid: str,
    id: UUID,
) -> dict[str, Any]:
    """dintero-aio: the request's method, url, body, query and header parameters."""
    return _get_kwargs(
        oid=oid,
        id=id,
    )


#: dintero-aio: the status of a successful answer.
SUCCESS_STATUS = 200


def parse_success(response: httpx.Response) -> ClientWithSecret:
    """dintero-aio: the model of a 200 answer (raises on a body that is not one)."""
    response_200 = ClientWithSecret.from_dict(response.json())

    return response_200


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ClientWithSecret | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    oid: str,
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[ClientWithSecret | Error]:
    """Rotate client secret

     Replace the client's secret. The old secret stops working; the new one is shown only in
    this response and can never be read again.

    Args:
        oid (str):  Example: T12345678.
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ClientWithSecret | Error]
    """

    kwargs = _get_kwargs(
        oid=oid,
        id=id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    oid: str,
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> ClientWithSecret | Error | None:
    """Rotate client secret

     Replace the client's secret. The old secret stops working; the new one is shown only in
    this response and can never be read again.

    Args:
        oid (str):  Example: T12345678.
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ClientWithSecret | Error
    """

    return sync_detailed(
        oid=oid,
        id=id,
        client=client,
    ).parsed


async def asyncio_detailed(
    oid: str,
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[ClientWithSecret | Error]:
    """Rotate client secret

     Replace the client's secret. The old secret stops working; the new one is shown only in
    this response and can never be read again.

    Args:
        oid (str):  Example: T12345678.
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ClientWithSecret | Error]
    """

    kwargs = _get_kwargs(
        oid=oid,
        id=id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    oid: str,
    id: UUID,
    *,
    client: AuthenticatedClient,
) -> ClientWithSecret | Error | None:
    """Rotate client secret

     Replace the client's secret. The old secret stops working; the new one is shown only in
    this response and can never be read again.

    Args:
        oid (str):  Example: T12345678.
        id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ClientWithSecret | Error
    """

    return (
        await asyncio_detailed(
            oid=oid,
            id=id,
            client=client,
        )
    ).parsed
