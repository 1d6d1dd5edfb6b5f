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
    assert secret_part["required"] == ["client_secret"]
    assert schemas["ClientInfo"]["allOf"][1]["required"] == ["id"]
    assert "client_secret" not in schemas["ClientInfo"]["allOf"][1]["properties"]
