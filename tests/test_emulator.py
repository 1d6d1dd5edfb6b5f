"""The Dintero emulator (dintero_aio.testing) behaves as documented, conforms to openapi.yaml,
and its faults are real: over loopback a dropped connection is a closed socket."""

import asyncio
import base64
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from dintero_aio_api.models import AccessToken, ClientInfo, ClientWithSecret, Error, Grant
from hypothesis import given
from hypothesis import strategies as st
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_core.validation.response.exceptions import InvalidData

from dintero_aio import Dintero
from dintero_aio.testing import (
    DEFAULT_CLIENT_SECRET,
    IN_PROCESS_BASE_URL,
    OPERATIONS,
    Emulator,
    Operation,
    serve,
)
from dintero_aio.testing.__main__ import main as command_line_main
from dintero_aio.testing._rate_limit import RollingWindow

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"
ACCOUNT = "T12345678"
AUTH = f"/accounts/{ACCOUNT}/auth"
AUDIENCE = f"https://api.dintero.com/v1/accounts/{ACCOUNT}"
GRANT = {"grant_type": "client_credentials", "audience": AUDIENCE}
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


async def get_token(
    api: httpx.AsyncClient, client_id: str = "emulator-client", secret: str | None = None
) -> str:
    secret = DEFAULT_CLIENT_SECRET if secret is None else secret
    response = await api.post(f"{AUTH}/token", auth=(client_id, secret), json=GRANT)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def bearer(api: httpx.AsyncClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {await get_token(api)}"}


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(f"{AUTH}/clients", headers=await bearer(api), json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def grant(
    api: httpx.AsyncClient, client_uuid: str, *, audience: str = AUDIENCE, **fields: Any
) -> dict[str, Any]:
    """Create a client grant (scope admin:accounts unless given) through the API."""
    body = {"client_id": client_uuid, "audience": audience, "scope": ["admin:accounts"], **fields}
    response = await api.post(f"{AUTH}/client-grants", headers=await bearer(api), json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    """Dintero's error body, always with a code, as JSON."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["code"], str)
    if code is not None:
        assert error["code"] == code


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset() == UTC.utcoffset(None)
    return parsed


# Get Token


async def test_token_is_issued_for_the_configured_credentials(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    response = await api.post(
        f"{AUTH}/token", auth=(emulator.client_id, emulator.client_secret), json=GRANT
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 14400
    _header, claims, _ = body["access_token"].split(".")  # JWT-shaped
    payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert payload["sub"] == "emulator-client"
    assert payload["aud"] == AUDIENCE
    assert payload["exp"] - payload["iat"] == 14400
    assert emulator.received("token") == emulator.processed("token") == 1


async def test_token_takes_the_emulator_s_own_url_as_audience(api: httpx.AsyncClient) -> None:
    own = f"{IN_PROCESS_BASE_URL}/accounts/{ACCOUNT}"
    response = await api.post(
        f"{AUTH}/token",
        auth=("emulator-client", DEFAULT_CLIENT_SECRET),
        json={"grant_type": "client_credentials", "audience": own},
    )
    assert response.status_code == 200


async def test_configured_values_are_used() -> None:
    emulator = Emulator(account_id="P123", client_id="me", client_secret="pw", expires_in=60)
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        grant = {"grant_type": "client_credentials", "audience": emulator.audience}
        response = await api.post("/accounts/P123/auth/token", auth=("me", "pw"), json=grant)
        assert response.status_code == 200
        assert response.json()["expires_in"] == 60
        default = await api.post("/accounts/P123/auth/token", auth=("emulator-client", "x"))
        assert_error(default, 401)


def test_account_id_must_be_a_dintero_oid() -> None:
    for bad in ("T1234", "X12345678", "T12345678\n", "t123"):
        with pytest.raises(ValueError, match="account_id"):
            Emulator(account_id=bad)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"emulator-client:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"someone-else:wrong").decode()},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer " + base64.b64encode(b"emulator-client:wrong").decode()},
    ],
)
async def test_token_rejects_bad_credentials_with_401(
    api: httpx.AsyncClient, emulator: Emulator, headers: dict[str, str]
) -> None:
    response = await api.post(f"{AUTH}/token", headers=headers, json=GRANT)
    assert_error(response, 401, "unauthorized")
    assert emulator.received("token") == 1
    assert emulator.processed("token") == 0


@pytest.mark.parametrize(
    "audience",
    [
        "https://api.dintero.com/v1/accounts/T00000000",
        "https://api.dintero.com/v1/accounts/T12345678/",
        "https://evil.example/v1/accounts/T12345678",
        "",
    ],
)
async def test_token_rejects_another_audience_with_403(
    api: httpx.AsyncClient, audience: str
) -> None:
    grant = {"grant_type": "client_credentials", "audience": audience}
    response = await api.post(
        f"{AUTH}/token", auth=("emulator-client", DEFAULT_CLIENT_SECRET), json=grant
    )
    assert_error(response, 403, "invalid_audience")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"grant_type=client_credentials",
        b"[]",
        json.dumps({"grant_type": "client_credentials"}).encode(),
        json.dumps({"audience": AUDIENCE}).encode(),
        json.dumps({"grant_type": "password", "audience": AUDIENCE}).encode(),
        json.dumps({"grant_type": "client_credentials", "audience": 42}).encode(),
    ],
)
async def test_token_rejects_a_bad_body_with_400(api: httpx.AsyncClient, content: bytes) -> None:
    response = await api.post(
        f"{AUTH}/token", auth=("emulator-client", DEFAULT_CLIENT_SECRET), content=content
    )
    assert_error(response, 400, "invalid_request")


async def test_token_checks_the_oid(api: httpx.AsyncClient) -> None:
    credentials = ("emulator-client", DEFAULT_CLIENT_SECRET)
    bad = await api.post("/accounts/T1234/auth/token", auth=credentials, json=GRANT)
    assert_error(bad, 400, "invalid_oid")
    other = await api.post("/accounts/T00000000/auth/token", auth=credentials, json=GRANT)
    assert_error(other, 403, "forbidden")


# Bearer authentication, oid and account on the clients endpoints

CLIENT_OPERATIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/clients", {"json": {}}),
    ("GET", "/clients", {}),
    ("GET", f"/clients/{UNKNOWN_UUID}", {}),
    ("DELETE", f"/clients/{UNKNOWN_UUID}", {}),
    ("POST", f"/clients/{UNKNOWN_UUID}/rotate-secret", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CLIENT_OPERATIONS)
async def test_clients_endpoints_need_a_valid_unexpired_bearer_token(
    api: httpx.AsyncClient, emulator: Emulator, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    token = await get_token(api)
    for headers in (
        {},
        {"Authorization": "Bearer not-a-token-we-issued"},
        {"Authorization": f"Basic {token}"},
    ):
        response = await api.request(method, AUTH + path, headers=headers, **kwargs)
        assert_error(response, 401, "unauthorized")
    emulator.expire_tokens()
    headers = {"Authorization": f"Bearer {token}"}
    response = await api.request(method, AUTH + path, headers=headers, **kwargs)
    assert_error(response, 401, "unauthorized")
    assert await get_token(api) != token  # a new token works again
    assert emulator.clients == []


async def test_tokens_expire_after_expires_in() -> None:
    emulator = Emulator(expires_in=0)
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        headers = await bearer(api)
        assert_error(await api.get(f"{AUTH}/clients", headers=headers), 401)


@pytest.mark.parametrize(("method", "path", "kwargs"), CLIENT_OPERATIONS)
async def test_clients_endpoints_check_the_oid_and_account(
    api: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    headers = await bearer(api)
    for oid in ("T1234", "X12345678", "T123456789", "P12"):
        response = await api.request(
            method, f"/accounts/{oid}/auth{path}", headers=headers, **kwargs
        )
        assert_error(response, 400, "invalid_oid")
    for oid in ("T00000000", "P12345678", "T123"):
        response = await api.request(
            method, f"/accounts/{oid}/auth{path}", headers=headers, **kwargs
        )
        assert_error(response, 403, "forbidden")


# Create, list, get, delete, rotate


async def test_create_returns_the_client_with_its_secret(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    body = {"name": "pos", "description": "till", "client_id": "pos-1", "callbacks": ["https://x"]}
    created = await create(api, **body)
    assert {key: created[key] for key in body} == body
    assert uuid.UUID(created["id"]).version == 4
    assert parse_time(created["created_at"]) == parse_time(created["updated_at"])
    assert created["created_by"] == "emulator-client"
    assert len(created["client_secret"]) >= 32
    assert "deleted_at" not in created
    assert "deleted_by" not in created
    [stored] = emulator.clients
    assert stored.id == created["id"]
    assert stored.client_secret == created["client_secret"]
    assert stored.client_secret not in repr(stored)
    assert stored.info(with_secret=True) == created
    assert emulator.processed("create") == 1


async def test_create_with_an_empty_body_sets_read_only_fields_and_issues_a_client_id(
    api: httpx.AsyncClient,
) -> None:
    created = await create(api)
    assert set(created) == {
        "id",
        "client_id",
        "created_at",
        "updated_at",
        "created_by",
        "client_secret",
    }
    assert created["client_id"] == created["id"]  # the emulator's issue: the uuid, a login


async def test_a_client_created_without_a_client_id_logs_in_with_the_issued_one(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    created = await create(api, name="pos")
    assert created["client_id"] == created["id"]
    [stored] = emulator.clients
    assert stored.client_id == created["id"]
    await grant(api, created["id"])
    await get_token(api, created["client_id"], created["client_secret"])
    listed = (await api.get(f"{AUTH}/clients", headers=await bearer(api))).json()
    assert [client["client_id"] for client in listed] == [created["id"]]


async def test_a_client_id_is_unique_in_its_account(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    headers = await bearer(api)
    first = await create(api, client_id="pos-1")
    issued = await create(api)
    # Each is someone's login: a client_id, a client's id (its issued client_id too), the admin.
    for taken in ("pos-1", first["id"], issued["id"], emulator.client_id):
        response = await api.post(f"{AUTH}/clients", headers=headers, json={"client_id": taken})
        assert_error(response, 409, "duplicate_client_id")
        assert taken in response.json()["error"]["message"]
        assert [e["field"] for e in response.json()["error"]["errors"]] == ["client_id"]
    assert [client.id for client in emulator.clients] == [first["id"], issued["id"]]
    assert emulator.processed("create") == 2
    # A deleted client's client_id is free again: the deleted client can no longer log in.
    assert (await api.delete(f"{AUTH}/clients/{first['id']}", headers=headers)).status_code == 200
    again = await create(api, client_id="pos-1")
    assert [client.id for client in emulator.clients] == [issued["id"], again["id"]]
    # "pos-1" now logs in as the new client only; the deleted one by neither of its logins.
    await grant(api, again["id"])
    await get_token(api, "pos-1", again["client_secret"])
    for login in ("pos-1", first["id"]):
        refused = await api.post(f"{AUTH}/token", auth=(login, first["client_secret"]), json=GRANT)
        assert refused.status_code == 401, refused.text
    # A rotated secret changes no login: the same client_id, the new secret.
    rotated = await api.post(f"{AUTH}/clients/{again['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    await get_token(api, "pos-1", rotated.json()["client_secret"])
    again_taken = await api.post(f"{AUTH}/clients", headers=headers, json={"client_id": "pos-1"})
    assert_error(again_taken, 409, "duplicate_client_id")


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        (b"", None),
        (b"{not json", None),
        (b"[]", None),
        (b'"pos"', None),
        (b"null", None),
        (json.dumps({"name": 42}).encode(), ["name"]),
        (json.dumps({"description": None}).encode(), ["description"]),
        (json.dumps({"client_id": ["a"]}).encode(), ["client_id"]),
        (json.dumps({"callbacks": "https://x"}).encode(), ["callbacks"]),
        (json.dumps({"callbacks": ["https://x", 1]}).encode(), ["callbacks"]),
        (json.dumps({"name": 1, "callbacks": [None]}).encode(), ["name", "callbacks"]),
    ],
)
async def test_create_rejects_a_bad_body_with_400(
    api: httpx.AsyncClient, emulator: Emulator, content: bytes, fields: list[str] | None
) -> None:
    response = await api.post(f"{AUTH}/clients", headers=await bearer(api), content=content)
    assert_error(response, 400)
    if fields is not None:
        assert [error["field"] for error in response.json()["error"]["errors"]] == fields
    assert emulator.clients == []
    assert emulator.processed("create") == 0


async def test_list_and_get_show_live_clients_without_secrets(api: httpx.AsyncClient) -> None:
    headers = await bearer(api)
    assert (await api.get(f"{AUTH}/clients", headers=headers)).json() == []
    first, second = await create(api, name="a"), await create(api, name="b")
    listed = (await api.get(f"{AUTH}/clients", headers=headers)).json()
    assert [client["id"] for client in listed] == [first["id"], second["id"]]
    assert all("client_secret" not in client for client in listed)
    got = await api.get(f"{AUTH}/clients/{first['id']}", headers=headers)
    assert got.status_code == 200
    assert got.json() == {key: value for key, value in first.items() if key != "client_secret"}
    upper = await api.get(f"{AUTH}/clients/{first['id'].upper()}", headers=headers)
    assert upper.json() == got.json()


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
async def test_a_client_id_must_be_a_uuid(api: httpx.AsyncClient, method: str) -> None:
    headers = await bearer(api)
    suffix = "/rotate-secret" if method == "POST" else ""
    for bad in ("pos-1", "1234", UNKNOWN_UUID.replace("-", ""), f"{{{UNKNOWN_UUID}}}"):
        response = await api.request(method, f"{AUTH}/clients/{bad}{suffix}", headers=headers)
        assert_error(response, 400, "invalid_id")
    response = await api.request(method, f"{AUTH}/clients/{UNKNOWN_UUID}{suffix}", headers=headers)
    assert_error(response, 404, "not_found")


async def test_delete_marks_the_client_and_it_disappears(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    headers = await bearer(api)
    created = await create(api, name="pos", client_id="pos-1")
    url = f"{AUTH}/clients/{created['id']}"
    deleted = await api.delete(url, headers=headers)
    assert deleted.status_code == 200
    body = deleted.json()
    assert body["id"] == created["id"]
    assert body["name"] == "pos"
    assert body["deleted_by"] == "emulator-client"
    assert parse_time(body["deleted_at"]) >= parse_time(created["created_at"])
    assert "client_secret" not in body
    assert (await api.get(f"{AUTH}/clients", headers=headers)).json() == []
    assert_error(await api.get(url, headers=headers), 404, "not_found")
    assert_error(await api.delete(url, headers=headers), 404, "not_found")
    assert_error(await api.post(f"{url}/rotate-secret", headers=headers), 404, "not_found")
    assert emulator.clients == []
    assert emulator.received("delete") == 2
    assert emulator.processed("delete") == 1
    # A deleted client can no longer log in, by id or by client_id.
    for name in (created["id"], "pos-1"):
        response = await api.post(
            f"{AUTH}/token", auth=(name, created["client_secret"]), json=GRANT
        )
        assert_error(response, 401)


async def test_created_clients_log_in_and_rotation_invalidates_the_old_secret(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    created = await create(api, client_id="pos-1")
    await grant(api, created["id"])  # no token without a grant (see test_emulator_grants.py)
    old = created["client_secret"]
    for name in ("pos-1", created["id"]):
        await get_token(api, name, old)
    pos_token = await get_token(api, "pos-1", old)

    rotated = await api.post(
        f"{AUTH}/clients/{created['id']}/rotate-secret",
        headers={"Authorization": f"Bearer {pos_token}"},
    )
    assert rotated.status_code == 200
    body = rotated.json()
    assert body["id"] == created["id"]
    assert body["client_id"] == "pos-1"
    assert body["client_secret"] != old
    assert parse_time(body["updated_at"]) >= parse_time(created["updated_at"])
    assert emulator.clients[0].client_secret == body["client_secret"]

    old_login = await api.post(f"{AUTH}/token", auth=("pos-1", old), json=GRANT)
    assert_error(old_login, 401, "unauthorized")
    await get_token(api, "pos-1", body["client_secret"])
    # The client's own token, created before the rotation, stays valid until it expires.
    created_by_pos = await api.post(
        f"{AUTH}/clients", headers={"Authorization": f"Bearer {pos_token}"}, json={}
    )
    assert created_by_pos.json()["created_by"] == "pos-1"
    assert emulator.processed("rotate") == 1


async def test_unknown_paths_and_methods_answer_with_dintero_s_error_body(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    assert_error(await api.get("/nowhere"), 404, "not_found")
    assert_error(await api.get(f"{AUTH}/token"), 405, "method_not_allowed")
    assert_error(await api.put(f"{AUTH}/clients"), 405)
    assert all(emulator.received(op) == 0 for op in ("token", "create", "list"))


@pytest.mark.parametrize(
    "template", sorted(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["paths"])
)
async def test_a_405_allows_every_method_of_the_path(api: httpx.AsyncClient, template: str) -> None:
    """RFC 9110: `Allow` lists the methods the resource supports (and GET implies HEAD)."""
    documented = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["paths"][template]
    methods = {method.upper() for method in documented if method != "parameters"}
    expected = methods | ({"HEAD"} if "GET" in methods else set())
    path = template.replace("{oid}", ACCOUNT).replace("{partner_id}", ACCOUNT)
    path = path.replace("{id}", UNKNOWN_UUID)
    for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - methods:
        response = await api.request(method, path)
        assert_error(response, 405, "method_not_allowed")
        assert set(response.headers["allow"].split(", ")) == expected, method


async def test_counters_count_arrivals_and_successes_per_operation(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    await create(api)  # a token, then a create
    await api.get(f"{AUTH}/clients")  # 401
    emulator.fail_next("list")
    await api.get(f"{AUTH}/clients", headers=await bearer(api))
    await api.get(f"{AUTH}/clients", headers=await bearer(api))
    assert [emulator.received(op) for op in ("token", "create", "list")] == [3, 1, 3]
    assert [emulator.processed(op) for op in ("token", "create", "list")] == [3, 1, 1]
    assert emulator.received("get") == emulator.processed("get") == 0
    with pytest.raises(ValueError, match="operation"):
        emulator.received("tokens")  # type: ignore[arg-type]


# Faults, in-process


async def test_fail_next_answers_errors_in_order_then_recovers(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    emulator.fail_next("token", times=2, status=503)
    emulator.fail_next("token", status=500, message="boom")
    credentials = ("emulator-client", emulator.client_secret)
    for _ in range(2):
        response = await api.post(f"{AUTH}/token", auth=credentials, json=GRANT)
        assert_error(response, 503, "service_unavailable")
        assert "retry-after" not in response.headers
    response = await api.post(f"{AUTH}/token", auth=credentials, json=GRANT)
    assert_error(response, 500, "internal_server_error")
    assert response.json()["error"]["message"] == "boom"
    assert (await api.post(f"{AUTH}/token", auth=credentials, json=GRANT)).status_code == 200
    assert emulator.received("token") == 4
    assert emulator.processed("token") == 1


async def test_fail_next_429_carries_retry_after(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    headers = await bearer(api)
    emulator.fail_next("create", status=429)
    emulator.fail_next("create", status=429, retry_after=7)
    emulator.fail_next("create", status=503, retry_after=2)
    for expected_status, seconds in ((429, "1"), (429, "7"), (503, "2")):
        response = await api.post(f"{AUTH}/clients", headers=headers, json={})
        assert_error(response, expected_status)
        assert response.headers["retry-after"] == seconds
    assert emulator.clients == []


async def test_faults_are_per_operation(api: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.fail_next("create", status=502)
    emulator.fail_next("list", status=504)
    headers = await bearer(api)  # the token operation is not affected
    assert_error(await api.get(f"{AUTH}/clients", headers=headers), 504, "gateway_timeout")
    assert_error(await api.post(f"{AUTH}/clients", headers=headers, json={}), 502, "bad_gateway")
    emulator.fail_next("get")
    emulator.clear_faults()
    response = await api.get(f"{AUTH}/clients/{UNKNOWN_UUID}", headers=headers)
    assert_error(response, 404)


async def test_fault_arguments_are_checked(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="error status"):
        emulator.fail_next("token", status=200)
    with pytest.raises(ValueError, match="200-599"):
        emulator.respond_next("token", status=600)
    with pytest.raises(ValueError, match="times"):
        emulator.drop_next("create", times=0)
    with pytest.raises(ValueError, match="operation"):
        emulator.drop_next("update")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        emulator.corrupt_next("create", "empty")  # type: ignore[arg-type]


async def test_respond_next_sends_any_response(api: httpx.AsyncClient, emulator: Emulator) -> None:
    emulator.respond_next("list", status=418, body=b"I'm a teapot")
    emulator.respond_next("list", status=599, body={"weird": True})
    emulator.respond_next("list", status=302, headers={"Location": "https://example.com/login"})
    headers = await bearer(api)
    teapot = await api.get(f"{AUTH}/clients", headers=headers)
    assert (teapot.status_code, teapot.content) == (418, b"I'm a teapot")
    odd = await api.get(f"{AUTH}/clients", headers=headers)
    assert (odd.status_code, odd.json()) == (599, {"weird": True})
    assert odd.headers["content-type"] == "application/json"
    redirect = await api.get(f"{AUTH}/clients", headers=headers)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://example.com/login"
    assert emulator.processed("list") == 0


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("drop", httpx.RemoteProtocolError),
        ("reset", httpx.ReadError),
    ],
)
@pytest.mark.parametrize("after_processing", [False, True])
async def test_drop_and_reset_raise_httpx_errors_in_process(
    api: httpx.AsyncClient,
    emulator: Emulator,
    fault: str,
    error: type[Exception],
    after_processing: bool,
) -> None:
    headers = await bearer(api)
    emulator.drop_next("create", after_processing=after_processing, reset=fault == "reset")
    with pytest.raises(error) as raised:
        await api.post(f"{AUTH}/clients", headers=headers, json={"name": "pos"})
    assert isinstance(raised.value, httpx.TransportError)
    assert raised.value.request.url.path == "/v1/accounts/T12345678/auth/clients"
    assert emulator.received("create") == 1
    assert emulator.processed("create") == int(after_processing)
    assert [client.name for client in emulator.clients] == ["pos"] * after_processing
    assert (await api.post(f"{AUTH}/clients", headers=headers, json={})).status_code == 200


async def test_delays_slow_requests_down(api: httpx.AsyncClient, emulator: Emulator) -> None:
    headers = await bearer(api)
    emulator.delay_next("list", 0.2)
    emulator.delay_next("list", 0.2, after_processing=True)
    for _ in range(2):
        started = time.monotonic()
        response = await api.get(f"{AUTH}/clients", headers=headers)
        assert response.status_code == 200
        assert time.monotonic() - started >= 0.2
    emulator.delay = 0.1
    started = time.monotonic()
    assert (await api.get(f"{AUTH}/clients", headers=headers)).status_code == 200
    assert time.monotonic() - started >= 0.1
    assert emulator.processed("list") == 3


@pytest.mark.parametrize("mode", ["truncated", "not_json"])
async def test_corrupt_next_processes_then_breaks_the_body(
    api: httpx.AsyncClient, emulator: Emulator, mode: Any
) -> None:
    headers = await bearer(api)
    emulator.corrupt_next("create", mode)
    response = await api.post(f"{AUTH}/clients", headers=headers, json={"name": "pos"})
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(response.content))
    with pytest.raises(json.JSONDecodeError):
        response.json()
    if mode == "truncated":
        assert response.content.startswith(b'{"id":')
    else:
        assert response.content.startswith(b"<html>")
    assert emulator.processed("create") == 1
    assert len(emulator.clients) == 1


# The token rate limit


async def test_token_rate_limit_answers_dintero_s_429_with_retry_after() -> None:
    emulator = Emulator(token_rate_limit=2)
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        first, second, limited = [
            await api.post(
                f"{AUTH}/token", auth=("emulator-client", DEFAULT_CLIENT_SECRET), json=GRANT
            )
            for _ in range(3)
        ]
        assert (first.status_code, second.status_code) == (200, 200)
        assert_error(limited, 429, "too_many_requests")
        assert limited.headers["retry-after"] == "1"
        assert_conforms(OpenAPI.from_file_path(str(SPEC_PATH)), limited)
        assert emulator.received("token") == 3
        assert emulator.processed("token") == 2
        assert emulator.rate_limited("token") == 1
        # Only token requests are limited.
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        for _ in range(3):
            assert (await api.get(f"{AUTH}/clients", headers=headers)).status_code == 200
        assert emulator.rate_limited("list") == 0
        # Lifting the limit lets requests through at once.
        emulator.token_rate_limit = None
        await get_token(api)


async def test_token_rate_limit_is_a_rolling_second_that_refusals_do_not_extend() -> None:
    emulator = Emulator(token_rate_limit=1)
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        await get_token(api)
        await asyncio.sleep(0.5)
        for _ in range(3):  # refused, and not counted against the limit
            response = await api.post(
                f"{AUTH}/token", auth=("emulator-client", DEFAULT_CLIENT_SECRET), json=GRANT
            )
            assert_error(response, 429)
        await asyncio.sleep(0.6)  # a second after the admitted one, not after the refusals
        await get_token(api)
    assert emulator.rate_limited("token", account=ACCOUNT) == 3
    assert emulator.rate_limited("token", account="T00000000") == 0


@given(
    limit=st.integers(min_value=1, max_value=4),
    # Steps of 1/8 s: exact in binary floating point, so the model below compares exactly.
    steps=st.lists(st.integers(min_value=0, max_value=6).map(lambda n: n / 8), max_size=40),
)
def test_the_rate_limit_window_admits_at_most_limit_per_rolling_second(
    limit: int, steps: list[float]
) -> None:
    window = RollingWindow()
    now, admitted = 0.0, list[float]()
    for step in steps:
        now += step
        recent = [t for t in admitted if t > now - 1.0]
        wait = window.admit(ACCOUNT, limit, now)
        if len(recent) < limit:
            assert wait is None
            admitted.append(now)
        else:
            assert isinstance(wait, int)
            assert wait >= 1
            # After `wait` seconds a request fits again (if no other came in between).
            assert len([t for t in recent if t > now + wait - 1.0]) < limit
    for t in admitted:
        assert len([u for u in admitted if t - 1.0 < u <= t]) <= limit
    assert window.admit("P00000001", limit, now) is None  # another account's own budget


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_token_rate_limit_must_be_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(ValueError, match="token_rate_limit"):
        Emulator(token_rate_limit=bad)
    emulator = Emulator()
    with pytest.raises(ValueError, match="token_rate_limit"):
        emulator.token_rate_limit = bad
    assert emulator.token_rate_limit is None
    assert repr(Emulator(token_rate_limit=3)).endswith(", token_rate_limit=3)")


# Conformance with openapi.yaml

SPEC_OPERATIONS: dict[
    Operation, tuple[str, str]
] = {  # operation -> (method, path template in the spec)
    "token": ("post", "/accounts/{oid}/auth/token"),
    "create": ("post", "/accounts/{oid}/auth/clients"),
    "list": ("get", "/accounts/{oid}/auth/clients"),
    "get": ("get", "/accounts/{oid}/auth/clients/{id}"),
    "delete": ("delete", "/accounts/{oid}/auth/clients/{id}"),
    "rotate": ("post", "/accounts/{oid}/auth/clients/{id}/rotate-secret"),
    "grants_list": ("get", "/accounts/{oid}/auth/client-grants"),
    "grants_create": ("post", "/accounts/{oid}/auth/client-grants"),
    "grants_delete": ("delete", "/accounts/{oid}/auth/client-grants/{id}"),
    "exchange": ("post", "/accounts/{partner_id}/auth/exchange_token"),
}


def test_every_operation_is_in_the_spec_and_the_conformance_test() -> None:
    assert set(SPEC_OPERATIONS) == set(OPERATIONS)
    documented = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["paths"]
    assert {
        (method, template)
        for template, item in documented.items()
        for method in item
        if method != "parameters"
    } == set(SPEC_OPERATIONS.values())


def assert_conforms(spec: OpenAPI, response: httpx.Response) -> None:
    """Validate a response against the spec; the request URL is mapped onto the spec's server."""
    request = MockRequest(
        "https://api.dintero.com", response.request.method, response.request.url.path
    )
    content_type = response.headers.get("content-type", "")
    headers = dict(response.headers)
    spec.validate_response(
        request, MockResponse(response.content, response.status_code, headers, content_type)
    )


async def test_every_documented_response_conforms_to_the_spec(
    api: httpx.AsyncClient, emulator: Emulator
) -> None:
    spec = OpenAPI.from_file_path(str(SPEC_PATH))
    seen: dict[str, set[str]] = {op: set() for op in SPEC_OPERATIONS}
    basic = (emulator.client_id, emulator.client_secret)
    headers: dict[str, str] = {}

    async def call(
        op: Any, oid: str = ACCOUNT, id: str = UNKNOWN_UUID, **kwargs: Any
    ) -> httpx.Response:
        method, template = SPEC_OPERATIONS[op]
        if op == "token":
            kwargs = {"auth": basic, "json": GRANT, **kwargs}
        else:
            kwargs = {"headers": headers, **kwargs}
        path = template.replace("{oid}", oid).replace("{partner_id}", oid).replace("{id}", id)
        response = await api.request(method, path, **kwargs)
        assert_conforms(spec, response)
        seen[op].add(str(response.status_code))
        if response.status_code >= 400:
            Error.from_dict(response.json())  # the generated client parses it too
        return response

    token = await call("token")
    AccessToken.from_dict(token.json())
    headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    await call("token", content=b"{")
    await call("token", auth=("x", "y"))
    await call("token", json={**GRANT, "audience": "https://example.com"})
    emulator.fail_next("token", status=429)
    assert (await call("token")).headers["retry-after"] == "1"

    full = {"name": "n", "description": "d", "client_id": "c", "callbacks": ["https://cb"]}
    created = (await call("create", json=full)).json()
    ClientWithSecret.from_dict(created)
    await call("create", json={"name": 1})
    await call("create", json={"client_id": created["client_id"]})  # 409
    ClientInfo.from_dict((await call("list")).json()[0])
    for op in ("get", "rotate", "delete"):  # delete last: it is the one that removes the client
        response = await call(op, id=created["id"])
        (ClientWithSecret if op == "rotate" else ClientInfo).from_dict(response.json())
        await call(op, id="not-a-uuid")
        await call(op)  # an unknown uuid: 404

    client = ClientWithSecret.from_dict((await call("create", json={})).json())
    grant_body = {"client_id": str(client.id), "audience": AUDIENCE, "scope": ["s"]}
    made = Grant.from_dict((await call("grants_create", json=grant_body)).json())
    oidc = {"client_id": "i", "client_secret": "oidc-s", "authority": "https://idp"}
    with_oidc = {**grant_body, "type": "authorization_code", "oidc": oidc}
    assert Grant.from_dict((await call("grants_create", json=with_oidc)).json()).oidc
    await call("grants_create", json={**grant_body, "scope": []})  # 400
    await call("grants_create", json={**grant_body, "client_id": UNKNOWN_UUID})  # 404
    [Grant.from_dict(g) for g in (await call("grants_list", params={"audience": AUDIENCE})).json()]
    Grant.from_dict((await call("grants_delete", id=str(made.id))).json())
    await call("grants_delete", id="not-a-uuid")  # 400
    await call("grants_delete")  # 404
    emulator.add_merchant("T00000001")
    AccessToken.from_dict((await call("exchange", json={"account_id": "T00000001"})).json())
    await call("exchange", json={"account_id": "T1"})  # 400

    for op in SPEC_OPERATIONS:
        await call(op, oid="T1")  # 400 (403 for grants_list, which documents no 400)
        await call(op, oid="T00000000")  # 403
        if op != "token":
            await call(op, headers={}, json={})  # 401
        emulator.fail_next(op, status=500)
        await call(op, json=GRANT if op == "token" else {})

    documented = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))["paths"]
    for op, (method, template) in SPEC_OPERATIONS.items():
        assert seen[op] == set(documented[template][method]["responses"]), op

    # The validator is not a no-op: a body missing required fields fails.
    wrong = httpx.Response(200, json={"token_type": "Bearer"}, request=token.request)
    with pytest.raises(InvalidData):
        assert_conforms(spec, wrong)


# Over a real loopback socket


def emulator_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "dintero-emulator"]


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def loopback_token(http: httpx.Client, emulator: Emulator) -> dict[str, str]:
    response = http.post(
        f"{AUTH}/token", auth=(emulator.client_id, emulator.client_secret), json=GRANT
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_serve_drops_resets_and_delays_for_real_then_shuts_down(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with serve(emulator) as running:
        assert running.base_url == f"http://127.0.0.1:{running.port}/v1"
        assert len(emulator_threads()) == 1
        with httpx.Client(base_url=running.base_url, timeout=5) as http:
            headers = loopback_token(http, emulator)

            emulator.drop_next("create", after_processing=False)
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                http.post(f"{AUTH}/clients", headers=headers, json={"name": "lost"})
            assert (emulator.received("create"), emulator.processed("create")) == (1, 0)

            emulator.drop_next("create", after_processing=True)
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                http.post(f"{AUTH}/clients", headers=headers, json={"name": "made"})
            assert (emulator.received("create"), emulator.processed("create")) == (2, 1)
            assert [client.name for client in emulator.clients] == ["made"]

            emulator.drop_next("create", after_processing=True, reset=True)
            with pytest.raises(httpx.ReadError):
                http.post(f"{AUTH}/clients", headers=headers, json={"name": "reset"})
            assert emulator.processed("create") == 2

            emulator.delay_next("create", 0.3, after_processing=True)
            with pytest.raises(httpx.ReadTimeout):
                http.post(f"{AUTH}/clients", headers=headers, json={"name": "slow"}, timeout=0.1)
            assert emulator.processed("create") == 3

            # The server is still healthy afterwards.
            listed = http.get(f"{AUTH}/clients", headers=headers).json()
            assert [client["name"] for client in listed] == ["made", "reset", "slow"]
    assert refuses_connections(running.port)
    assert emulator_threads() == []
    # uvicorn saw nothing wrong: no "returned without starting response", no 500 sent.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_serve_stops_promptly_despite_an_idle_keep_alive_connection(emulator: Emulator) -> None:
    with httpx.Client(timeout=5) as http:
        with serve(emulator) as running:
            assert http.get(f"{running.base_url}/nowhere").status_code == 404  # stays open
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 1.5
        assert refuses_connections(running.port)
        assert emulator_threads() == []
        with pytest.raises(httpx.ConnectError):
            http.get(f"{running.base_url}/nowhere")


@contextmanager
def command_line_emulator(*options: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """`python -m dintero_aio.testing serve --port 0 *options` in a real process, and the
    `key: value` lines it printed (up to the audience, which comes last); killed if still
    running on the way out."""
    command = [sys.executable, "-m", "dintero_aio.testing", "serve", "--port", "0", *options]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        printed: dict[str, str] = {}
        while "audience" not in printed:
            line = process.stdout.readline()
            assert line, f"the emulator exited early: {process.wait()}"
            key, _, value = line.strip().partition(": ")
            printed[key] = value
        yield process, printed
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def port_of(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1].split("/")[0])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_command_line_serves_until_a_signal_then_exits_0(signum: int) -> None:
    options = ("--client-id", "cli", "--client-secret", "cli-secret", "--account-id", "P123")
    with command_line_emulator(*options) as (process, printed):
        assert printed["client_id"] == "cli"
        assert printed["client_secret"] == "cli-secret"
        assert printed["account_id"] == "P123"
        port = port_of(printed["base_url"])
        assert printed["listening"] == f"127.0.0.1:{port}"
        assert "token_rate_limit" not in printed
        grant = {"grant_type": "client_credentials", "audience": printed["audience"]}
        response = httpx.post(
            f"{printed['base_url']}/accounts/P123/auth/token",
            auth=("cli", "cli-secret"),
            json=grant,
        )
        assert response.status_code == 200
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert refuses_connections(port)


async def test_command_line_on_all_interfaces_prints_a_base_url_the_sdk_takes() -> None:
    with command_line_emulator("--host", "0.0.0.0") as (process, printed):  # noqa: S104
        port = port_of(printed["base_url"])
        assert printed["base_url"] == f"http://127.0.0.1:{port}/v1"
        assert printed["listening"] == f"0.0.0.0:{port} (all interfaces)"
        async with Dintero(
            account_id=printed["account_id"],
            client_id=printed["client_id"],
            client_secret=printed["client_secret"],
            base_url=printed["base_url"],
        ) as dintero:
            assert await dintero.clients.list() == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_serve_on_all_interfaces_gives_a_loopback_base_url(emulator: Emulator) -> None:
    with serve(emulator, host="0.0.0.0") as running:  # noqa: S104
        assert running.host == "0.0.0.0"  # noqa: S104
        assert running.listens_on_all_interfaces
        assert running.base_url == f"http://127.0.0.1:{running.port}/v1"
        with httpx.Client(base_url=running.base_url, timeout=5) as http:
            loopback_token(http, emulator)
    with serve(emulator) as running:
        assert not running.listens_on_all_interfaces


def test_command_line_token_rate_limit() -> None:
    with command_line_emulator("--token-rate-limit", "1") as (_, printed):
        assert printed["token_rate_limit"] == "1 per account per second"
        url = f"{printed['base_url']}/accounts/{printed['account_id']}/auth/token"
        grant = {"grant_type": "client_credentials", "audience": printed["audience"]}
        credentials = (printed["client_id"], printed["client_secret"])
        with httpx.Client(timeout=5) as http:
            assert http.post(url, auth=credentials, json=grant).status_code == 200
            limited = http.post(url, auth=credentials, json=grant)
        assert_error(limited, 429, "too_many_requests")
        assert limited.headers["retry-after"] == "1"


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "many"])
def test_command_line_refuses_a_bad_token_rate_limit(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        command_line_main(["serve", "--token-rate-limit", value])
    assert exited.value.code == 2
    assert f"--token-rate-limit: must be a whole number of at least 1, not {value!r}" in (
        capsys.readouterr().err
    )


def test_served_responses_do_not_wait_for_nagle(emulator: Emulator) -> None:
    # Without TCP_NODELAY each small response waits ~40 ms for the client's delayed ACK, so a
    # request-response round trip on loopback takes >= 40 ms instead of about one.
    with serve(emulator) as running, httpx.Client(base_url=running.base_url, timeout=5) as http:
        headers = loopback_token(http, emulator)
        rounds = []
        for _ in range(9):
            started = time.perf_counter()
            http.post(f"{AUTH}/clients", headers=headers, json={"name": "x"}).raise_for_status()
            rounds.append(time.perf_counter() - started)
    assert sorted(rounds)[len(rounds) // 2] < 0.03  # the median round trip
