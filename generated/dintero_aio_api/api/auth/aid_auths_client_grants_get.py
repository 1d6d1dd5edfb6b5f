from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.grant import Grant
from ...types import UNSET, Response, Unset


def _get_kwargs(
    oid: str,
    *,
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    params["audience"] = audience

    params["client_id"] = client_id

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/accounts/{oid}/auth/client-grants".format(
            oid=quote(str(oid), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | list[Grant] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = Grant.from_dict(response_200_item_data)

            response_200.append(response_200_item)

        return response_200

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
    *,
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> dict[str, Any]:
    """dintero-aio: the request's method, url, body, query and header parameters."""
    return _get_kwargs(
        oid=oid,
        audience=audience,
        client_id=client_id,
    )


#: dintero-aio: the status of a successful answer.
SUCCESS_STATUS = 200


def parse_success(response: httpx.Response) -> list[Grant]:
    """dintero-aio: the model of a 200 answer (raises on a body that is not one)."""
    response_200 = []
    _response_200 = response.json()
    for response_200_item_data in _response_200:
        response_200_item = Grant.from_dict(response_200_item_data)

        response_200.append(response_200_item)

    return response_200


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | list[Grant]]:
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
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> Response[Error | list[Grant]]:
    """List client grants

     The live client grants of the account, optionally filtered. Not paginated.
    Scopes: `admin:accounts` or `read:accounts`.

    Args:
        oid (str):  Example: T12345678.
        audience (str | Unset):
        client_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | list[Grant]]
    """

    kwargs = _get_kwargs(
        oid=oid,
        audience=audience,
        client_id=client_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    oid: str,
    *,
    client: AuthenticatedClient,
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> Error | list[Grant] | None:
    """List client grants

     The live client grants of the account, optionally filtered. Not paginated.
    Scopes: `admin:accounts` or `read:accounts`.

    Args:
        oid (str):  Example: T12345678.
        audience (str | Unset):
        client_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | list[Grant]
    """

    return sync_detailed(
        oid=oid,
        client=client,
        audience=audience,
        client_id=client_id,
    ).parsed


async def asyncio_detailed(
    oid: str,
    *,
    client: AuthenticatedClient,
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> Response[Error | list[Grant]]:
    """List client grants

     The live client grants of the account, optionally filtered. Not paginated.
    Scopes: `admin:accounts` or `read:accounts`.

    Args:
        oid (str):  Example: T12345678.
        audience (str | Unset):
        client_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | list[Grant]]
    """

    kwargs = _get_kwargs(
        oid=oid,
        audience=audience,
        client_id=client_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    oid: str,
    *,
    client: AuthenticatedClient,
    audience: str | Unset = UNSET,
    client_id: str | Unset = UNSET,
) -> Error | list[Grant] | None:
    """List client grants

     The live client grants of the account, optionally filtered. Not paginated.
    Scopes: `admin:accounts` or `read:accounts`.

    Args:
        oid (str):  Example: T12345678.
        audience (str | Unset):
        client_id (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | list[Grant]
    """

    return (
        await asyncio_detailed(
            oid=oid,
            client=client,
            audience=audience,
            client_id=client_id,
        )
    ).parsed
