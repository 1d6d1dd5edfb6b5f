"""The generated package imports, sends what the spec says, and its one template override holds."""

import json
import re
import uuid
from pathlib import Path

import openapi_python_client
from dintero_api import AuthenticatedClient
from dintero_api.api.auth import aid_auth_clients_post
from dintero_api.models import AccessToken, ClientCreate, ClientWithSecret
from pytest_httpx import HTTPXMock

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://api.dintero.com/v1"


async def test_create_sends_method_path_and_json_body(httpx_mock: HTTPXMock) -> None:
    client_uuid = uuid.uuid4()
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/accounts/T12345678/auth/clients",
        json={"id": str(client_uuid), "client_secret": "s3cr3t", "name": "pos"},
    )
    client = AuthenticatedClient(base_url=BASE_URL, token="a-token")
    body = ClientCreate(name="pos", client_id="pos-1", callbacks=["https://example.com/cb"])

    created = await aid_auth_clients_post.asyncio("T12345678", client=client, body=body)

    request = httpx_mock.get_request()
    assert request is not None
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer a-token"
    assert json.loads(request.content) == {
        "name": "pos",
        "client_id": "pos-1",
        "callbacks": ["https://example.com/cb"],
    }
    assert isinstance(created, ClientWithSecret)
    assert created.id == client_uuid


async def test_path_parameter_is_percent_quoted(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(status_code=404)
    client = AuthenticatedClient(base_url=BASE_URL, token="t")
    await aid_auth_clients_post.asyncio_detailed("../x", client=client, body=ClientCreate())
    request = httpx_mock.get_request()
    assert request is not None
    assert request.url.raw_path == b"/v1/accounts/..%2Fx/auth/clients"


def test_secret_fields_are_left_out_of_repr() -> None:
    created = ClientWithSecret(id=uuid.uuid4(), client_secret="s3cr3t-value", name="pos")
    token = AccessToken.from_dict(
        {"access_token": "jwt-value", "token_type": "Bearer", "expires_in": 60}
    )
    assert "s3cr3t-value" not in repr(created)
    assert "name='pos'" in repr(created)
    assert "jwt-value" not in repr(token)
    assert "expires_in=60" in repr(token)
    # The secret is still there for the caller, and still serialized.
    assert created.to_dict()["client_secret"] == "s3cr3t-value"


def test_model_template_override_is_the_pinned_original_plus_one_block() -> None:
    """Fails when the generator is upgraded without re-copying its model template."""
    ours = (ROOT / "templates" / "model.py.jinja").read_text(encoding="utf-8")
    original_path = Path(openapi_python_client.__file__).parent / "templates" / "model.py.jinja"
    original = original_path.read_text(encoding="utf-8")

    restored = re.sub(r"\A\{#-.*?-#\}\n", "", ours, flags=re.DOTALL)
    restored = re.sub(
        r"\{# dintero-aio: begin #\}.*?\{# dintero-aio: end #\}\n\n", "", restored, flags=re.DOTALL
    )
    restored = restored.replace(
        "{{ declaration(property) }}", "{{ property.to_string() | as_unembedded_code }}"
    )
    assert restored == original
