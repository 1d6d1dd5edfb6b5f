"""The emulator's client grants: the operations, and Get Token enforcing them."""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from dintero_aio import Dintero, GrantSpec
from dintero_aio.testing import IN_PROCESS_BASE_URL, EmulatedClient, Emulator

ACCOUNT = "T12345678"
AUTH = f"/accounts/{ACCOUNT}/auth"
AUDIENCE = f"https://api.dintero.com/v1/accounts/{ACCOUNT}"
TOKEN_BODY = {"grant_type": "client_credentials", "audience": AUDIENCE}
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def root(api: httpx.AsyncClient, emulator: Emulator) -> dict[str, str]:
    """Bearer headers for the emulator's root credentials, which need no grant."""
    response = await api.post(
        f"{AUTH}/token", auth=(emulator.client_id, emulator.client_secret), json=TOKEN_BODY
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def client(api: httpx.AsyncClient, root: dict[str, str]) -> dict[str, Any]:
    """A client created through the API, with its secret, and no grant yet."""
    response = await api.post(f"{AUTH}/clients", headers=root, json={"client_id": "pos-1"})
    assert response.status_code == 200
    created: dict[str, Any] = response.json()
    return created


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return result


async def login(
    api: httpx.AsyncClient, client: dict[str, Any], audience: str = AUDIENCE
) -> httpx.Response:
    body = {"grant_type": "client_credentials", "audience": audience}
    return await api.post(
        f"{AUTH}/token", auth=(client["client_id"], client["client_secret"]), json=body
    )


async def create_grant(
    api: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await api.post(f"{AUTH}/client-grants", headers=headers, json=body)


# Create, list, delete


async def test_create_returns_the_grant_and_list_filters(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    response = await create_grant(
        api, root, client_id=client["id"], audience=AUDIENCE, scope=["checkout:admin"]
    )
    assert response.status_code == 200
    made = response.json()
    assert made["client_id"] == client["id"]
    assert made["audience"] == AUDIENCE
    assert made["scope"] == ["checkout:admin"]
    assert made["type"] == "any"  # Dintero's default
    assert made["created_by"] == emulator.client_id
    assert made["created_at"] == made["updated_at"]
    assert "deleted_at" not in made
    other = await create_grant(
        api,
        root,
        client_id=client["id"].upper(),  # any case, stored canonical
        audience="https://api.dintero.com/v1/accounts/T00000001",
        scope=["a", "b"],
        type="authorization_code",
    )
    assert other.json()["client_id"] == client["id"]
    assert [g.id for g in emulator.grants] == [made["id"], other.json()["id"]]
    assert emulator.grants[0].info() == made

    listed = await api.get(f"{AUTH}/client-grants", headers=root)
    assert [g["id"] for g in listed.json()] == [made["id"], other.json()["id"]]
    by_audience = await api.get(
        f"{AUTH}/client-grants", headers=root, params={"audience": AUDIENCE}
    )
    assert [g["id"] for g in by_audience.json()] == [made["id"]]
    by_client = await api.get(
        f"{AUTH}/client-grants", headers=root, params={"client_id": client["id"]}
    )
    assert len(by_client.json()) == 2
    upper = await api.get(
        f"{AUTH}/client-grants", headers=root, params={"client_id": client["id"].upper()}
    )
    assert upper.json() == by_client.json()
    nobody = await api.get(f"{AUTH}/client-grants", headers=root, params={"client_id": "pos-1"})
    assert nobody.json() == []
    assert emulator.processed("grants_create") == 2
    assert emulator.processed("grants_list") == emulator.received("grants_list") == 5


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["client_id", "audience", "scope"]),
        ({"client_id": "pos-1"}, ["client_id"]),  # the client_id string, not the uuid
        ({"audience": ""}, ["audience"]),
        ({"audience": 1}, ["audience"]),
        ({"scope": []}, ["scope"]),
        ({"scope": "admin:accounts"}, ["scope"]),
        ({"scope": ["ok", 1]}, ["scope"]),
        ({"scope": [""]}, ["scope"]),
        ({"type": "implicit"}, ["type"]),
        ({"type": None}, ["type"]),
        ({"oidc": "x"}, ["oidc"]),
        ({"oidc": {"client_secret": 1}}, ["oidc"]),
    ],
)
async def test_create_rejects_a_bad_body_with_400(
    api: httpx.AsyncClient,
    emulator: Emulator,
    root: dict[str, str],
    client: dict[str, Any],
    body: dict[str, Any],
    fields: list[str],
) -> None:
    valid = {"client_id": client["id"], "audience": AUDIENCE, "scope": ["s"]}
    sent = valid | body if body else {}
    response = await create_grant(api, root, **sent)
    assert_error(response, 400, "validation_error")
    assert [error["field"] for error in response.json()["error"]["errors"]] == fields
    assert emulator.grants == []
    assert emulator.processed("grants_create") == 0


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b"null"])
async def test_create_rejects_a_non_object_body_with_400(
    api: httpx.AsyncClient, root: dict[str, str], content: bytes
) -> None:
    response = await api.post(f"{AUTH}/client-grants", headers=root, content=content)
    assert_error(response, 400, "invalid_request")


async def test_create_for_an_unknown_or_deleted_client_is_404(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    body = {"audience": AUDIENCE, "scope": ["s"]}
    assert_error(await create_grant(api, root, client_id=UNKNOWN_UUID, **body), 404, "not_found")
    await api.delete(f"{AUTH}/clients/{client['id']}", headers=root)
    response = await create_grant(api, root, client_id=client["id"], **body)
    assert_error(response, 404, "not_found")
    assert "client's id" in response.json()["error"]["message"]
    assert emulator.grants == []


async def test_delete_marks_the_grant_and_it_disappears(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    made = (
        await create_grant(api, root, client_id=client["id"], audience=AUDIENCE, scope=["s"])
    ).json()
    url = f"{AUTH}/client-grants/{made['id']}"
    deleted = await api.delete(url, headers=root)
    assert deleted.status_code == 200
    body = deleted.json()
    assert body["id"] == made["id"]
    assert body["deleted_by"] == emulator.client_id
    assert body["deleted_at"] >= made["created_at"]
    assert emulator.grants == []
    assert (await api.get(f"{AUTH}/client-grants", headers=root)).json() == []
    assert_error(await api.delete(url, headers=root), 404, "not_found")
    assert_error(await api.delete(f"{AUTH}/client-grants/{UNKNOWN_UUID}", headers=root), 404)
    for bad in ("nope", UNKNOWN_UUID.replace("-", "")):
        assert_error(
            await api.delete(f"{AUTH}/client-grants/{bad}", headers=root), 400, "invalid_id"
        )
    assert emulator.received("grants_delete") == 5
    assert emulator.processed("grants_delete") == 1


GRANT_OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/client-grants", {}),
    ("POST", "/client-grants", {"json": {}}),
    ("DELETE", f"/client-grants/{UNKNOWN_UUID}", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), GRANT_OPERATIONS)
async def test_grant_endpoints_need_a_token_for_the_account(
    api: httpx.AsyncClient,
    emulator: Emulator,
    root: dict[str, str],
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await api.request(method, AUTH + path, headers=headers, **kwargs)
        assert_error(response, 401, "unauthorized")
    other = await api.request(method, f"/accounts/T00000000/auth{path}", headers=root, **kwargs)
    assert_error(other, 403, "forbidden")
    # No 400 is documented for listing grants: a malformed oid is a 403 there.
    malformed = await api.request(method, f"/accounts/T1/auth{path}", headers=root, **kwargs)
    assert_error(malformed, 403 if method == "GET" else 400, "invalid_oid")
    emulator.expire_tokens()
    response = await api.request(method, AUTH + path, headers=root, **kwargs)
    assert_error(response, 401, "unauthorized")


# Get Token needs a grant


async def test_a_created_client_without_a_grant_cannot_get_a_token(
    api: httpx.AsyncClient, emulator: Emulator, client: dict[str, Any]
) -> None:
    for name in (client["client_id"], client["id"]):
        response = await api.post(
            f"{AUTH}/token", auth=(name, client["client_secret"]), json=TOKEN_BODY
        )
        assert_error(response, 403, "missing_grant")
        assert client["client_secret"] not in response.text
    assert emulator.processed("token") == 1  # the root token of the fixture only


@pytest.mark.parametrize("grant_type", ["any", "client_credentials"])
async def test_a_grant_for_the_audience_lets_the_client_get_a_token_with_its_scopes(
    api: httpx.AsyncClient, root: dict[str, str], client: dict[str, Any], grant_type: str
) -> None:
    body = {"client_id": client["id"], "audience": AUDIENCE, "type": grant_type}
    await create_grant(api, root, **body, scope=["checkout:read", "checkout:write"])
    await create_grant(api, root, **body, scope=["checkout:write", "reports:read"])
    response = await login(api, client)
    assert response.status_code == 200, response.text
    payload = claims(response.json()["access_token"])
    assert payload["sub"] == "pos-1"
    assert payload["scope"] == "checkout:read checkout:write reports:read"
    # The emulator's own URL names the same audience, both in the grant and in the request.
    own = f"{IN_PROCESS_BASE_URL}/accounts/{ACCOUNT}"
    assert (await login(api, client, own)).status_code == 200


async def test_the_token_acts_on_the_api(
    api: httpx.AsyncClient, root: dict[str, str], client: dict[str, Any]
) -> None:
    await create_grant(api, root, client_id=client["id"], audience=AUDIENCE, scope=["x"])
    token = (await login(api, client)).json()["access_token"]
    made = await api.post(
        f"{AUTH}/clients", headers={"Authorization": f"Bearer {token}"}, json={"name": "n"}
    )
    assert made.json()["created_by"] == "pos-1"


@pytest.mark.parametrize(
    ("grant_type", "audience"),
    [
        ("authorization_code", AUDIENCE),
        ("password", AUDIENCE),
        ("any", "https://api.dintero.com/v1/accounts/T00000001"),
        ("any", f"{AUDIENCE}/"),
    ],
)
async def test_a_grant_of_another_type_or_audience_does_not_allow_a_token(
    api: httpx.AsyncClient,
    root: dict[str, str],
    client: dict[str, Any],
    grant_type: str,
    audience: str,
) -> None:
    made = await create_grant(
        api, root, client_id=client["id"], audience=audience, scope=["s"], type=grant_type
    )
    assert made.status_code == 200
    assert_error(await login(api, client), 403, "missing_grant")


async def test_a_grant_for_another_client_does_not_help(
    api: httpx.AsyncClient, root: dict[str, str], client: dict[str, Any]
) -> None:
    other = (await api.post(f"{AUTH}/clients", headers=root, json={})).json()
    await create_grant(api, root, client_id=other["id"], audience=AUDIENCE, scope=["s"])
    assert_error(await login(api, client), 403, "missing_grant")
    response = await api.post(
        f"{AUTH}/token", auth=(other["id"], other["client_secret"]), json=TOKEN_BODY
    )
    assert response.status_code == 200


async def test_deleting_the_grant_stops_new_tokens_but_not_issued_ones(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    made = (
        await create_grant(api, root, client_id=client["id"], audience=AUDIENCE, scope=["s"])
    ).json()
    issued = (await login(api, client)).json()["access_token"]
    deleted = await api.delete(f"{AUTH}/client-grants/{made['id']}", headers=root)
    assert deleted.status_code == 200
    assert_error(await login(api, client), 403, "missing_grant")
    still = await api.get(f"{AUTH}/clients", headers={"Authorization": f"Bearer {issued}"})
    assert still.status_code == 200  # tokens stay valid until they expire, as for rotation
    assert emulator.processed("token") == 2


async def test_missing_grant_names_the_audience_the_request_asked_for(
    api: httpx.AsyncClient, client: dict[str, Any]
) -> None:
    own = f"{IN_PROCESS_BASE_URL}/accounts/{ACCOUNT}"
    for audience in (own, AUDIENCE):
        response = await login(api, client, audience)
        assert_error(response, 403, "missing_grant")
        message = response.json()["error"]["message"]
        assert f"audience {audience} " in message
        assert (AUDIENCE in message) == (audience == AUDIENCE)


async def test_a_deleted_client_takes_its_grants_with_it(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    other = (await api.post(f"{AUTH}/clients", headers=root, json={})).json()
    mine = (
        await create_grant(api, root, client_id=client["id"], audience=AUDIENCE, scope=["s"])
    ).json()
    kept = (
        await create_grant(api, root, client_id=other["id"], audience=AUDIENCE, scope=["s"])
    ).json()
    deleted = await api.delete(f"{AUTH}/clients/{client['id']}", headers=root)
    assert deleted.status_code == 200
    assert [g.id for g in emulator.grants] == [kept["id"]]
    listed = await api.get(f"{AUTH}/client-grants", headers=root)
    assert [g["id"] for g in listed.json()] == [kept["id"]]
    by_client = await api.get(
        f"{AUTH}/client-grants", headers=root, params={"client_id": client["id"]}
    )
    assert by_client.json() == []
    # Gone for good: deleting it answers 404, and a new client with the same client_id (a new
    # id) does not inherit it.
    gone = await api.delete(f"{AUTH}/client-grants/{mine['id']}", headers=root)
    assert_error(gone, 404, "not_found")
    again = (await api.post(f"{AUTH}/clients", headers=root, json={"client_id": "pos-1"})).json()
    assert_error(await login(api, again), 403, "missing_grant")
    assert (await login(api, {**other, "client_id": other["id"]})).status_code == 200


async def test_a_grant_s_client_id_equals_the_client_s_id_in_the_sdk(emulator: Emulator) -> None:
    async with Dintero(
        account_id=emulator.account_id,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,
        transport=emulator.transport(),
    ) as dintero:
        spec = GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])
        created = await dintero.clients.create(name="pos", grants=[spec])
        [made] = created.grants
        assert made.client_id == created.client.id
        assert isinstance(made.client_id, uuid.UUID)
        [listed] = await dintero.grants.list(client_id=created.client)
        assert listed.client_id == created.client.id
        again = await dintero.grants.create(
            client_id=created.client.id, audience=dintero.audience, scopes=["s"]
        )
        assert again.client_id == created.client.id
        # What create returned logs in: the issued client_id and the secret.
        assert isinstance(created.client.client_id, str)
        async with Dintero(
            account_id=emulator.account_id,
            client_id=created.client.client_id,
            client_secret=created.client.client_secret,
            base_url=IN_PROCESS_BASE_URL,
            transport=emulator.transport(),
        ) as pos:
            assert await pos.verify_credentials() == emulator.expires_in


async def test_wrong_credentials_are_401_before_any_grant_check(
    api: httpx.AsyncClient, client: dict[str, Any]
) -> None:
    response = await login(api, {**client, "client_secret": "wrong"})
    assert_error(response, 401, "unauthorized")


async def test_the_root_credentials_need_no_grant(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    response = await api.post(
        f"{AUTH}/token", auth=(emulator.client_id, emulator.client_secret), json=TOKEN_BODY
    )
    assert response.status_code == 200
    assert claims(response.json()["access_token"])["scope"] == "admin:accounts"


async def test_add_grant_and_require_grants_false(
    api: httpx.AsyncClient, emulator: Emulator, client: dict[str, Any]
) -> None:
    [stored] = emulator.clients
    grant = emulator.add_grant(stored, scope=["a"])
    assert grant.client_id == stored.id
    assert grant.audience == AUDIENCE
    assert emulator.grants == [grant]
    assert (await login(api, client)).status_code == 200
    assert emulator.received("grants_create") == 0  # a shortcut, not a request
    with pytest.raises(ValueError, match="no live client"):
        emulator.add_grant("pos-1")
    with pytest.raises(ValueError, match="type"):
        emulator.add_grant(stored, type="implicit")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="scope"):
        emulator.add_grant(stored, scope="admin:accounts")

    lenient = Emulator(require_grants=False)
    async with httpx.AsyncClient(
        transport=lenient.transport(), base_url=IN_PROCESS_BASE_URL
    ) as other:
        token = await other.post(
            f"{AUTH}/token", auth=(lenient.client_id, lenient.client_secret), json=TOKEN_BODY
        )
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        made = (await other.post(f"{AUTH}/clients", headers=headers, json={})).json()
        assert (await login(other, {**made, "client_id": made["id"]})).status_code == 200


async def test_oidc_secret_is_returned_but_kept_out_of_reprs(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    oidc = {"client_id": "idp", "client_secret": "oidc-secret-xyz", "authority": "https://idp"}
    response = await create_grant(
        api,
        root,
        client_id=client["id"],
        audience=AUDIENCE,
        scope=["openid"],
        type="authorization_code",
        oidc=oidc,
    )
    assert response.json()["oidc"] == oidc
    [stored] = emulator.grants
    assert stored.oidc is not None
    assert stored.oidc.client_secret == "oidc-secret-xyz"
    assert "oidc-secret-xyz" not in repr(stored)
    assert "oidc-secret-xyz" not in repr(emulator.clients)
    assert all(c.client_secret not in repr(c) for c in emulator.clients)
    assert isinstance(emulator.clients[0], EmulatedClient)


# Faults on the grant operations


async def test_faults_on_the_grant_operations(
    api: httpx.AsyncClient, emulator: Emulator, root: dict[str, str], client: dict[str, Any]
) -> None:
    body = {"client_id": client["id"], "audience": AUDIENCE, "scope": ["s"]}
    emulator.fail_next("grants_create", status=503, retry_after=2)
    failed = await create_grant(api, root, **body)
    assert_error(failed, 503, "service_unavailable")
    assert failed.headers["retry-after"] == "2"
    assert emulator.grants == []

    emulator.drop_next("grants_create", after_processing=True)
    with pytest.raises(httpx.RemoteProtocolError):
        await create_grant(api, root, **body)
    [made] = emulator.grants  # the request took effect before the connection dropped
    assert (emulator.received("grants_create"), emulator.processed("grants_create")) == (2, 1)

    emulator.corrupt_next("grants_list", "not_json")
    listed = await api.get(f"{AUTH}/client-grants", headers=root)
    assert (listed.status_code, listed.content[:6]) == (200, b"<html>")

    emulator.respond_next("grants_delete", status=418, body=b"teapot")
    teapot = await api.delete(f"{AUTH}/client-grants/{made.id}", headers=root)
    assert (teapot.status_code, teapot.content) == (418, b"teapot")
    assert emulator.grants == [made]

    emulator.delay_next("grants_delete", 0.05, after_processing=True)
    assert (await api.delete(f"{AUTH}/client-grants/{made.id}", headers=root)).status_code == 200
    assert emulator.grants == []
    assert emulator.received("grants_delete", account=ACCOUNT) == 2
    assert emulator.received("grants_delete", account="T00000000") == 0
    assert emulator.processed("grants_delete") == 1
