"""openapi.yaml is a valid OpenAPI 3 document and keeps to the documented Dintero facts."""

import re
from pathlib import Path
from typing import Any

import yaml
from openapi_spec_validator import validate

SPEC_PATH = Path(__file__).resolve().parents[1] / "openapi.yaml"


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_spec_is_valid_openapi() -> None:
    validate(load_spec())


def test_oid_pattern_is_dintero_s() -> None:
    pattern = load_spec()["components"]["parameters"]["oid"]["schema"]["pattern"]
    for good in ("T12345678", "P00000000", "P123", "T000"):
        assert re.search(pattern, good), good
    for bad in ("T1234", "X12345678", "T1234567", "t12345678", "T12345678/../x", ""):
        assert not re.search(pattern, bad), bad


def test_no_default_responses() -> None:
    """A `default` response would make the generated parsers accept every status as an Error."""
    for path_item in load_spec()["paths"].values():
        for name, operation in path_item.items():
            if name != "parameters":
                assert "default" not in operation["responses"]


def test_secrets_are_marked_for_redaction() -> None:
    schemas = load_spec()["components"]["schemas"]
    assert schemas["AccessToken"]["properties"]["access_token"]["format"] == "password"
    secret_part = schemas["ClientWithSecret"]["allOf"][1]
    assert secret_part["properties"]["client_secret"]["format"] == "password"
    assert secret_part["required"] == ["client_secret", "client_id"]
    assert schemas["ClientInfo"]["allOf"][1]["required"] == ["id"]
    assert "client_secret" not in schemas["ClientInfo"]["allOf"][1]["properties"]


OPERATION_IDS = {
    ("post", "/accounts/{oid}/auth/token"): "aid_auths_oauth_token_post",
    ("post", "/accounts/{oid}/auth/clients"): "aid_auth_clients_post",
    ("get", "/accounts/{oid}/auth/clients"): "aid_auth_clients_get",
    ("get", "/accounts/{oid}/auth/clients/{id}"): "aid_auths_clients_id_get",
    ("delete", "/accounts/{oid}/auth/clients/{id}"): "aid_auths_clients_id_delete",
    ("post", "/accounts/{oid}/auth/clients/{id}/rotate-secret"): "aid_auths_clients_id_rotate_post",
    ("get", "/accounts/{oid}/auth/client-grants"): "aid_auths_client_grants_get",
    ("post", "/accounts/{oid}/auth/client-grants"): "aid_auths_client_grants_post",
    ("delete", "/accounts/{oid}/auth/client-grants/{id}"): "aid_auths_client_grants_id_delete",
    ("post", "/accounts/{partner_id}/auth/exchange_token"): "aid_auths_oauth_exchange_token_post",
}


def test_operations_and_their_ids_are_dintero_s() -> None:
    found = {
        (method, path): operation["operationId"]
        for path, item in load_spec()["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }
    assert found == OPERATION_IDS


def test_grant_statuses_are_the_documented_ones() -> None:
    paths = load_spec()["paths"]
    grants = paths["/accounts/{oid}/auth/client-grants"]
    assert set(grants["get"]["responses"]) == {"200", "401", "403", "500"}
    assert set(grants["post"]["responses"]) == {"200", "400", "401", "403", "404", "500"}
    delete = paths["/accounts/{oid}/auth/client-grants/{id}"]["delete"]
    assert set(delete["responses"]) == {"200", "400", "401", "403", "404", "500"}
    exchange = paths["/accounts/{partner_id}/auth/exchange_token"]["post"]
    assert set(exchange["responses"]) == {"200", "400", "401", "403", "500"}
    assert exchange["security"] == [{"bearerAuth": []}]


def test_grant_schemas() -> None:
    schemas = load_spec()["components"]["schemas"]
    assert schemas["GrantType"]["enum"] == [
        "any",
        "authorization_code",
        "client_credentials",
        "password",
    ]
    assert schemas["GrantCreate"]["required"] == ["client_id", "audience", "scope"]
    assert "the client's `id`" in schemas["GrantCreate"]["properties"]["client_id"]["description"]
    assert schemas["Grant"]["allOf"][0] == {"$ref": "#/components/schemas/GrantCreate"}
    assert schemas["GrantOidc"]["properties"]["client_secret"]["format"] == "password"
    account_id = schemas["Exchange"]["properties"]["account_id"]
    assert schemas["Exchange"]["required"] == ["account_id"]
    for good in ("T12345678", "P00000000"):
        assert re.search(account_id["pattern"], good)
    for bad in ("T123", "P1234567", "X12345678", "T123456789"):
        assert not re.search(account_id["pattern"], bad)
