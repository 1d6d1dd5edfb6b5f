"""Client grants: `dintero.grants` and `clients.create(..., grants=[...])`, on pytest-httpx (what
is sent, retry classes, input checks) and on the emulator (a client logs in only once granted)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    BadRequestError,
    ClientClosedError,
    ClientWithGrants,
    ClientWithSecret,
    Dintero,
    DinteroError,
    Grant,
    GrantFailedError,
    GrantSpec,
    GrantType,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from dintero_aio.testing import Emulator

from .conftest import (
    ACCOUNT,
    BASE_URL,
    CLIENTS_URL,
    CREATED_SECRET,
    TOKEN_URL,
    client_body,
    error_body,
    token_body,
)

GRANTS_URL = f"{BASE_URL}/accounts/{ACCOUNT}/auth/client-grants"
AUDIENCE = f"{BASE_URL}/accounts/{ACCOUNT}"
OIDC_SECRET = "oidc-secret-5e1d"
#: The emulator, reached in-process under a loopback URL (so `base_url` and audiences pass).
LOOPBACK = "http://127.0.0.1/v1"


def grant_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "client_id": str(uuid.uuid4()),
        "audience": AUDIENCE,
        "scope": ["admin:accounts"],
        "type": "any",
        "created_at": "2026-11-29T12:00:00Z",
    }
    body.update(fields)
    return body


def sent(httpx_mock: HTTPXMock, method: str, url: str = GRANTS_URL) -> list[httpx.Request]:
    return [r for r in httpx_mock.get_requests() if r.method == method and r.url == url]


@pytest.fixture
def authed(httpx_mock: HTTPXMock) -> HTTPXMock:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)
    return httpx_mock


# The three operations: what is sent, what comes back.


async def test_list_sends_the_filters_and_returns_grants(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    client = ClientWithSecret.from_dict(client_body())
    grant = grant_body(client_id=str(client.id))
    authed.add_response(
        method="GET",
        url=httpx.URL(GRANTS_URL, params={"client_id": str(client.id), "audience": AUDIENCE}),
        json=[grant],
    )

    listed = await dintero.grants.list(client_id=client, audience=AUDIENCE)

    assert [g.to_dict() for g in listed] == [Grant.from_dict(grant).to_dict()]
    assert listed[0].type_ is GrantType.ANY


async def test_list_without_filters_sends_no_query(authed: HTTPXMock, dintero: Dintero) -> None:
    authed.add_response(method="GET", url=GRANTS_URL, json=[])
    assert await dintero.grants.list() == []
    (request,) = sent(authed, "GET")
    assert request.url.query == b""


@pytest.mark.parametrize("how", ["object", "uuid", "str"])
async def test_create_sends_the_clients_uuid(authed: HTTPXMock, dintero: Dintero, how: str) -> None:
    client = ClientWithSecret.from_dict(client_body())
    ref: Any = {"object": client, "uuid": client.id, "str": str(client.id).upper()}[how]
    authed.add_response(method="POST", url=GRANTS_URL, json=grant_body(client_id=str(client.id)))

    made = await dintero.grants.create(
        client_id=ref, audience=AUDIENCE, scopes=["admin:accounts", "write:accounts"]
    )

    (request,) = sent(authed, "POST")
    assert json.loads(request.content) == {
        "client_id": str(client.id),
        "audience": AUDIENCE,
        "scope": ["admin:accounts", "write:accounts"],
        "type": "any",
    }
    assert made.client_id == client.id


@pytest.mark.parametrize("kind", [*GrantType, "client_credentials"])
async def test_create_sends_the_type(authed: HTTPXMock, dintero: Dintero, kind: Any) -> None:
    authed.add_response(method="POST", url=GRANTS_URL, json=grant_body(type=str(kind)))
    await dintero.grants.create(client_id=uuid.uuid4(), audience=AUDIENCE, scopes=["s"], type=kind)
    assert json.loads(sent(authed, "POST")[0].content)["type"] == str(kind)


async def test_delete_sends_the_grant_id(authed: HTTPXMock, dintero: Dintero) -> None:
    grant_id = uuid.uuid4()
    url = f"{GRANTS_URL}/{grant_id}"
    authed.add_response(method="DELETE", url=url, json=grant_body(id=str(grant_id)))
    assert await dintero.grants.delete(str(grant_id)) is None
    assert len(sent(authed, "DELETE", url)) == 1


async def test_an_oidc_secret_stays_out_of_the_repr(authed: HTTPXMock, dintero: Dintero) -> None:
    oidc = {"client_id": "idp", "client_secret": OIDC_SECRET, "authority": "https://idp"}
    authed.add_response(method="GET", url=GRANTS_URL, json=[grant_body(oidc=oidc)])
    (grant,) = await dintero.grants.list()
    assert OIDC_SECRET not in repr(grant)
    assert "authority='https://idp'" in repr(grant)


# Retry classes: list is a read, delete is idempotent in effect, create is not idempotent.


async def test_list_is_retried_after_an_ambiguous_failure(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    authed.add_response(method="GET", url=GRANTS_URL, status_code=500, json=error_body())
    authed.add_response(method="GET", url=GRANTS_URL, json=[])
    assert await dintero.grants.list() == []
    assert len(sent(authed, "GET")) == 2


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_create_is_not_retried_after_an_ambiguous_failure(
    authed: HTTPXMock, dintero: Dintero, status: int
) -> None:
    authed.add_response(method="POST", url=GRANTS_URL, status_code=status, json=error_body())
    with pytest.raises(InternalServerError) as info:
        await dintero.grants.create(client_id=uuid.uuid4(), audience=AUDIENCE, scopes=["s"])
    assert len(sent(authed, "POST")) == 1
    assert info.value.outcome_unknown
    assert "second, identical grant" in str(info.value)


async def test_create_is_retried_when_provably_not_processed(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    authed.add_response(method="POST", url=GRANTS_URL, status_code=503, json=error_body())
    authed.add_response(method="POST", url=GRANTS_URL, json=grant_body())
    await dintero.grants.create(client_id=uuid.uuid4(), audience=AUDIENCE, scopes=["s"])
    assert len(sent(authed, "POST")) == 2


async def test_delete_404_after_a_maybe_processed_attempt_means_deleted(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    grant_id = uuid.uuid4()
    url = f"{GRANTS_URL}/{grant_id}"
    authed.add_response(method="DELETE", url=url, status_code=502, json=error_body())
    authed.add_response(method="DELETE", url=url, status_code=404, json=error_body())
    await dintero.grants.delete(grant_id)
    assert len(sent(authed, "DELETE", url)) == 2


async def test_delete_404_on_the_first_attempt_is_not_found(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    url = f"{GRANTS_URL}/{uuid.uuid4()}"
    authed.add_response(method="DELETE", url=url, status_code=404, json=error_body())
    with pytest.raises(NotFoundError):
        await dintero.grants.delete(url.rsplit("/", 1)[1])


# Input checks: a clear InvalidInputError, and nothing sent.

GOOD: dict[str, Any] = {"client_id": uuid.uuid4(), "audience": AUDIENCE, "scopes": ["s"]}


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("audience", "http://api.dintero.com/v1/accounts/T12345678", "https://"),
        ("audience", "ftp://api.dintero.com/v1", "https://"),
        ("audience", "accounts/T12345678", "host"),
        ("audience", "https://user:hunter2@api.dintero.com/v1", "user:password"),
        ("audience", "", "audience"),
        ("audience", None, "audience"),
        ("audience", "https://\udc80.com", "not valid text"),
        ("scopes", "admin:accounts", "list of strings"),
        ("scopes", [], "at least one"),
        ("scopes", ["admin:accounts", ""], "non-empty strings"),
        ("scopes", [" "], "non-empty strings"),
        ("scopes", [42], "non-empty strings"),
        ("scopes", None, "list of strings"),
        ("type", "implicit", "one of any, authorization_code, client_credentials, password"),
        ("type", None, "type must be"),
        ("client_id", "pos-1", "not the client's client_id"),
        ("client_id", 42, "client_id"),
        ("client_id", None, "client_id"),
    ],
)
async def test_create_checks_its_input_before_sending(
    httpx_mock: HTTPXMock, dintero: Dintero, field: str, value: Any, says: str
) -> None:
    with pytest.raises(InvalidInputError, match=says) as info:
        await dintero.grants.create(**{**GOOD, field: value})
    assert httpx_mock.get_requests() == []
    assert "hunter2" not in str(info.value)


async def test_list_and_delete_check_their_input_before_sending(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    with pytest.raises(InvalidInputError, match="client's id"):
        await dintero.grants.list(client_id="pos-1")
    with pytest.raises(InvalidInputError, match="audience"):
        await dintero.grants.list(audience="")
    with pytest.raises(InvalidInputError, match="a grant id must be a UUID"):
        await dintero.grants.delete("grant-1")
    assert httpx_mock.get_requests() == []


def test_grant_spec_is_checked_when_built() -> None:
    spec = GrantSpec(audience=AUDIENCE, scopes=["a", "b"])
    assert (spec.scopes, spec.type) == (("a", "b"), GrantType.ANY)
    assert GrantSpec(audience="http://localhost:8080/v1/x", scopes=["a"], type="password").type is (
        GrantType.PASSWORD
    )
    with pytest.raises(InvalidInputError, match="https://"):
        GrantSpec(audience="http://example.com", scopes=["a"])
    with pytest.raises(InvalidInputError, match="list of strings"):
        GrantSpec(audience=AUDIENCE, scopes="a")
    with pytest.raises(InvalidInputError, match="type must be"):
        GrantSpec(audience=AUDIENCE, scopes=["a"], type="implicit")


@pytest.mark.parametrize("grants", ["x", [{"audience": AUDIENCE, "scopes": ["a"]}], 3])
async def test_create_with_grants_checks_them_before_sending(
    httpx_mock: HTTPXMock, dintero: Dintero, grants: Any
) -> None:
    with pytest.raises(InvalidInputError, match="GrantSpec"):
        await dintero.clients.create(name="pos", grants=grants)
    assert httpx_mock.get_requests() == []


# clients.create(..., grants=[...]): the client, then each grant; a failure keeps the secret.

SPECS = (
    GrantSpec(audience=AUDIENCE, scopes=["admin:accounts"]),
    GrantSpec(audience=f"{BASE_URL}/accounts/P00000000", scopes=["read:accounts"]),
    GrantSpec(audience=AUDIENCE, scopes=["write:accounts"], type="client_credentials"),
)


async def test_create_with_grants_creates_the_client_then_each_grant(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    body = client_body()
    authed.add_response(method="POST", url=CLIENTS_URL, json=body)
    for spec in SPECS:
        authed.add_response(
            method="POST",
            url=GRANTS_URL,
            json=grant_body(client_id=body["id"], audience=spec.audience, scope=[*spec.scopes]),
        )

    created = await dintero.clients.create(name="pos", grants=SPECS)

    assert isinstance(created, ClientWithGrants)
    assert created.client.client_secret == CREATED_SECRET
    assert [g.audience for g in created.grants] == [s.audience for s in SPECS]
    requests = [r for r in authed.get_requests() if r.method == "POST" and r.url != TOKEN_URL]
    assert [r.url for r in requests] == [CLIENTS_URL, GRANTS_URL, GRANTS_URL, GRANTS_URL]
    assert [json.loads(r.content) for r in requests[1:]] == [
        {"client_id": body["id"], "audience": s.audience, "scope": [*s.scopes], "type": s.type}
        for s in SPECS
    ]
    assert CREATED_SECRET not in repr(created)


async def test_create_with_no_grants_still_returns_the_result_type(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    authed.add_response(method="POST", url=CLIENTS_URL, json=client_body())
    created = await dintero.clients.create(name="pos", grants=[])
    assert isinstance(created, ClientWithGrants)
    assert created.grants == ()


@pytest.mark.parametrize(
    ("status", "cause", "unknown"),
    [(400, BadRequestError, False), (500, InternalServerError, True)],
)
async def test_a_failed_grant_keeps_the_created_client_and_its_secret(
    authed: HTTPXMock,
    dintero: Dintero,
    status: int,
    cause: type[DinteroError],
    unknown: bool,
) -> None:
    body = client_body()
    authed.add_response(method="POST", url=CLIENTS_URL, json=body)
    authed.add_response(method="POST", url=GRANTS_URL, json=grant_body(client_id=body["id"]))
    authed.add_response(method="POST", url=GRANTS_URL, status_code=status, json=error_body())

    with pytest.raises(GrantFailedError) as info:
        await dintero.clients.create(name="pos", grants=SPECS)

    error = info.value
    assert error.client.client_secret == CREATED_SECRET
    assert str(error.client.id) == body["id"]
    assert [str(g.client_id) for g in error.grants] == [body["id"]]
    assert error.not_made == SPECS[1:]
    assert isinstance(error.__cause__, cause)
    assert error.outcome_unknown is unknown
    assert len(sent(authed, "POST", CLIENTS_URL)) == 1  # never a second client
    assert len(sent(authed, "POST")) == 2  # the failed grant was not retried, the third not sent
    assert f"client {body['id']} was created" in str(error)
    assert "1 of 3 grants made" in str(error)
    for text in (str(error), repr(error), repr(error.client), repr(error.not_made)):
        assert CREATED_SECRET not in text


async def test_a_failed_client_create_is_raised_as_it_is(
    authed: HTTPXMock, dintero: Dintero
) -> None:
    authed.add_response(method="POST", url=CLIENTS_URL, status_code=502, json=error_body())
    with pytest.raises(InternalServerError) as info:
        await dintero.clients.create(name="pos", grants=SPECS)
    assert info.value.outcome_unknown
    assert len(sent(authed, "POST", CLIENTS_URL)) == 1
    assert sent(authed, "POST") == []


# On the emulator: grants decide whether a created client can log in.


@pytest.fixture
def connect(emulator: Emulator, make_dintero: Callable[..., Dintero]) -> Callable[..., Dintero]:
    """Dintero instances on the in-process emulator: the admin client, or any other."""

    def connect(**overrides: Any) -> Dintero:
        settings = {
            "account_id": emulator.account_id,
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "base_url": LOOPBACK,
            "transport": emulator.transport(),
            **overrides,
        }
        return make_dintero(**settings)

    return connect


def log_in_as(connect: Callable[..., Dintero], client: ClientWithSecret) -> Dintero:
    return connect(client_id=str(client.id), client_secret=client.client_secret)


async def test_a_client_logs_in_only_while_it_has_a_grant(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    admin = connect()
    created = await admin.clients.create(name="pos")

    with pytest.raises(PermissionDeniedError) as info:
        await log_in_as(connect, created).verify_credentials()
    assert info.value.code == "missing_grant"

    grant = await admin.grants.create(
        client_id=created, audience=admin.audience, scopes=["admin:accounts"]
    )
    assert (grant.client_id, grant.scope) == (created.id, ["admin:accounts"])
    assert await log_in_as(connect, created).verify_credentials() == emulator.expires_in
    assert [g.id for g in await admin.grants.list(client_id=created.id)] == [grant.id]

    await admin.grants.delete(grant.id)
    assert emulator.grants == []
    with pytest.raises(PermissionDeniedError):
        await log_in_as(connect, created).verify_credentials()


async def test_create_with_a_grant_makes_a_client_that_can_log_in(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    admin = connect()
    spec = GrantSpec(audience=admin.audience, scopes=["admin:accounts"])
    created = await admin.clients.create(name="pos", client_id="pos-1", grants=[spec])

    new = log_in_as(connect, created.client)
    assert await new.verify_credentials() == emulator.expires_in
    assert [c.name for c in await new.clients.list()] == ["pos"]  # its token works on the API
    (stored,) = emulator.grants
    assert (stored.client_id, stored.audience) == (str(created.client.id), admin.audience)


async def test_a_grant_of_another_type_does_not_let_the_client_log_in(
    connect: Callable[..., Dintero],
) -> None:
    admin = connect()
    spec = GrantSpec(audience=admin.audience, scopes=["a"], type="authorization_code")
    created = await admin.clients.create(name="web", grants=[spec])
    with pytest.raises(PermissionDeniedError, match="client_credentials"):
        await log_in_as(connect, created.client).verify_credentials()


async def test_after_a_failed_grant_the_secret_still_finishes_the_job(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    admin = connect()
    emulator.drop_next("grants_create")  # a dropped connection: the grant's outcome is unknown

    with pytest.raises(GrantFailedError) as info:
        await admin.clients.create(
            name="pos", grants=[GrantSpec(audience=admin.audience, scopes=["admin:accounts"])]
        )

    assert info.value.outcome_unknown
    assert (emulator.received("create"), emulator.received("grants_create")) == (1, 1)
    assert [c.id for c in emulator.clients] == [str(info.value.client.id)]
    assert emulator.grants == []
    # The caller checks, finishes with the client object the error carries, and logs in.
    assert await admin.grants.list(client_id=info.value.client) == []
    await admin.grants.create(
        client_id=info.value.client, audience=admin.audience, scopes=["admin:accounts"]
    )
    assert await log_in_as(connect, info.value.client).verify_credentials() > 0


async def test_a_grant_for_an_unknown_client_is_not_found(connect: Callable[..., Dintero]) -> None:
    admin = connect()
    with pytest.raises(NotFoundError):
        await admin.grants.create(client_id=uuid.uuid4(), audience=admin.audience, scopes=["a"])


async def test_a_dropped_delete_that_went_through_still_succeeds(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    admin = connect()
    created = await admin.clients.create(name="pos")
    grant = await admin.grants.create(client_id=created, audience=admin.audience, scopes=["a"])
    emulator.drop_next("grants_delete", after_processing=True)

    await admin.grants.delete(grant.id)

    assert emulator.received("grants_delete") == 2
    assert emulator.grants == []


async def test_closing_during_the_grants_keeps_the_created_client(
    connect: Callable[..., Dintero], emulator: Emulator
) -> None:
    admin = connect()
    emulator.delay_next("grants_create", 30)
    spec = GrantSpec(audience=admin.audience, scopes=["admin:accounts"])
    call = asyncio.create_task(admin.clients.create(name="pos", grants=[spec]))
    for _ in range(500):  # until the grant request is at the (slow) server
        if emulator.received("grants_create"):
            break
        await asyncio.sleep(0.01)

    await admin.aclose()

    with pytest.raises(GrantFailedError) as info:
        await call
    assert isinstance(info.value.__cause__, ClientClosedError)
    assert info.value.outcome_unknown  # the grant request was in flight
    (stored,) = emulator.clients
    assert info.value.client.client_secret == stored.client_secret
