"""The generated package imports, sends what the spec says, and its one template override holds."""

import copy
import importlib
import inspect
import json
import pickle
import re
import uuid
from pathlib import Path

import attrs
import openapi_python_client
import pytest
from dintero_aio_api import AuthenticatedClient
from dintero_aio_api.api.auth import (
    aid_auth_clients_post,
    aid_auths_client_grants_get,
    aid_auths_client_grants_id_delete,
    aid_auths_client_grants_post,
    aid_auths_oauth_exchange_token_post,
)
from dintero_aio_api.models import (
    AccessToken,
    ClientCreate,
    ClientWithSecret,
    Exchange,
    Grant,
    GrantCreate,
    GrantOidc,
    GrantType,
)
from dintero_aio_api.types import UNSET
from pytest_httpx import HTTPXMock

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "generated"
BASE_URL = "https://api.dintero.com/v1"


async def test_create_sends_method_path_and_json_body(httpx_mock: HTTPXMock) -> None:
    client_uuid = uuid.uuid4()
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/accounts/T12345678/auth/clients",
        json={
            "id": str(client_uuid),
            "client_secret": "s3cr3t",
            "client_id": "pos-1",
            "name": "pos",
        },
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
    created = ClientWithSecret(
        id=uuid.uuid4(), client_secret="s3cr3t-value", client_id="c", name="pos"
    )
    token = AccessToken.from_dict(
        {"access_token": "jwt-value", "token_type": "Bearer", "expires_in": 60}
    )
    assert "s3cr3t-value" not in repr(created)
    assert "name='pos'" in repr(created)
    assert "jwt-value" not in repr(token)
    assert "expires_in=60" in repr(token)
    # The secret is still there for the caller, and still serialized.
    assert created.to_dict()["client_secret"] == "s3cr3t-value"


def test_reprs_show_only_the_fields_that_are_set() -> None:
    client_uuid = uuid.UUID("7f7f7f7f-0000-4000-8000-000000000000")
    created = ClientWithSecret(
        id=client_uuid, client_secret="s3cr3t-value", client_id="c", name="pos"
    )
    assert repr(created) == (
        f"ClientWithSecret(id={client_uuid!r}, client_id='c', client_secret=***, name='pos')"
    )
    grant = Grant.from_dict(
        {
            "id": str(client_uuid),
            "client_id": str(client_uuid),
            "audience": "https://a",
            "scope": ["x"],
            "oidc": {"client_id": "o", "client_secret": "oidc-s3cr3t"},
            "extra": 1,
        }
    )
    assert repr(grant) == (
        f"Grant(client_id={client_uuid!r}, audience='https://a', scope=['x'], "
        f"id={client_uuid!r}, oidc=GrantOidc(client_id='o', client_secret=***), "
        "additional_properties={'extra': 1})"
    )


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
    # The docstring's title and description indented with the sections below them (issue 18).
    restored = re.sub(r"    \{# dintero-aio: `indent\(4\)`.*?#\}\n", "", restored, flags=re.DOTALL)
    restored = restored.replace("wordwrap(112) | indent(4) }}", "wordwrap(116) }}")
    assert restored == original


def test_types_template_override_is_the_pinned_original_plus_one_block() -> None:
    """Fails when the generator is upgraded without re-copying its types template."""
    ours = (ROOT / "templates" / "types.py.jinja").read_text(encoding="utf-8")
    original_path = Path(openapi_python_client.__file__).parent / "templates" / "types.py.jinja"
    restored = re.sub(r"\A\{#-.*?-#\}\n", "", ours, flags=re.DOTALL)
    restored = re.sub(
        r"\n\{# dintero-aio: begin #\}.*?\{# dintero-aio: end #\}\n", "", restored, flags=re.DOTALL
    )
    assert restored == original_path.read_text(encoding="utf-8")


def test_unset_survives_pickling_and_copying_as_itself() -> None:
    created = ClientWithSecret(id=uuid.uuid4(), client_secret="s", client_id="c", name="pos")
    for again in (pickle.loads(pickle.dumps(created)), copy.deepcopy(created)):  # noqa: S301
        assert again.description is UNSET
        assert again.to_dict() == created.to_dict()


def test_endpoint_template_override_is_the_pinned_original_but_one_change() -> None:
    """Fails when the generator is upgraded without re-copying its endpoint template: ours is
    the original but for the Content-Type change and our contract block."""
    ours = (ROOT / "templates" / "endpoint_module.py.jinja").read_text(encoding="utf-8")
    original_path = (
        Path(openapi_python_client.__file__).parent / "templates" / "endpoint_module.py.jinja"
    )
    restored = re.sub(r"\A\{#-.*?-#\}\n", "", ours, flags=re.DOTALL)
    contract = r"\{# dintero-aio contract: begin #\}.*?\{# dintero-aio contract: end #\}\n\n"
    assert len(re.findall(contract, restored, flags=re.DOTALL)) == 1
    restored = re.sub(contract, "", restored, flags=re.DOTALL)
    marked = '{% elif body.content_type != "application/json" %}'
    marked += "{# dintero-aio: httpx sets it for json= #}"
    assert restored.count(marked) == 2
    assert restored.replace(marked, "{% else %}") == original_path.read_text(encoding="utf-8")


#: Every operation the wrapper sends, with the signature of its request builder and the model
#: of its success: the generator contract the wrapper rests on (`_responses.Operation`). Types
#: are named without their modules.
CONTRACT = {
    "aid_auth_clients_get": ("(oid: str)", "list[ClientInfo]"),
    "aid_auth_clients_post": ("(oid: str, *, body: ClientCreate)", "ClientWithSecret"),
    "aid_auths_clients_id_get": ("(oid: str, id: UUID)", "ClientInfo"),
    "aid_auths_clients_id_delete": ("(oid: str, id: UUID)", "ClientInfo"),
    "aid_auths_clients_id_rotate_post": ("(oid: str, id: UUID)", "ClientWithSecret"),
    "aid_auths_client_grants_get": (
        "(oid: str, *, audience: str | Unset = UNSET, client_id: str | Unset = UNSET)",
        "list[Grant]",
    ),
    "aid_auths_client_grants_post": ("(oid: str, *, body: GrantCreate)", "Grant"),
    "aid_auths_client_grants_id_delete": ("(oid: str, id: UUID)", "Grant"),
    "aid_auths_oauth_token_post": ("(oid: str, *, body: ClientCredentialsGrant)", "AccessToken"),
    "aid_auths_oauth_exchange_token_post": ("(partner_id: str, *, body: Exchange)", "AccessToken"),
}


def _named(annotation: object) -> str:
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = re.sub(r"<[\w.]*Unset object at 0x[0-9a-f]+>", "UNSET", text)
    return re.sub(r"\b(?:[a-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", text)


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_every_operation_the_wrapper_uses_keeps_its_public_contract(name: str) -> None:
    module = importlib.import_module(f"dintero_aio_api.api.auth.{name}")
    arguments, model = CONTRACT[name]
    assert _named(inspect.signature(module.build_request)) == f"{arguments} -> dict[str, Any]"
    assert _named(inspect.signature(module.parse_success).return_annotation) == model
    assert module.SUCCESS_STATUS == 200


async def test_a_json_body_gets_one_content_type_header_from_httpx(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(json={"id": str(uuid.uuid4()), "client_secret": "s", "client_id": "c"})
    client = AuthenticatedClient(base_url=BASE_URL, token="t")
    await aid_auth_clients_post.asyncio_detailed("T12345678", client=client, body=ClientCreate())
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers.get_list("Content-Type") == ["application/json"]
    assert (
        "Content-Type"
        not in aid_auth_clients_post._get_kwargs("T1", body=ClientCreate())["headers"]
    )


async def test_grant_and_exchange_operations_send_what_the_spec_says(
    httpx_mock: HTTPXMock,
) -> None:
    client = AuthenticatedClient(base_url=BASE_URL, token="a-token")
    client_uuid, grant_uuid = uuid.uuid4(), uuid.uuid4()
    grant = {
        "id": str(grant_uuid),
        "client_id": str(client_uuid),
        "audience": "https://api.dintero.com/v1/accounts/T12345678",
        "scope": ["checkout:admin"],
        "type": "client_credentials",
    }
    grants_url = f"{BASE_URL}/accounts/T12345678/auth/client-grants"
    httpx_mock.add_response(method="POST", url=grants_url, json=grant)
    httpx_mock.add_response(
        method="GET", url=f"{grants_url}?audience=a&client_id={client_uuid}", json=[grant]
    )
    httpx_mock.add_response(method="DELETE", url=f"{grants_url}/{grant_uuid}", json=grant)
    httpx_mock.add_response(
        method="POST",
        url=f"{BASE_URL}/accounts/P00000001/auth/exchange_token",
        json={"access_token": "jwt", "token_type": "Bearer", "expires_in": 60},
    )

    body = GrantCreate(
        client_id=str(client_uuid),
        audience=grant["audience"],
        scope=["checkout:admin"],
        type_=GrantType.CLIENT_CREDENTIALS,
    )
    made = await aid_auths_client_grants_post.asyncio("T12345678", client=client, body=body)
    listed = await aid_auths_client_grants_get.asyncio(
        "T12345678", client=client, audience="a", client_id=str(client_uuid)
    )
    deleted = await aid_auths_client_grants_id_delete.asyncio(
        "T12345678", id=grant_uuid, client=client
    )
    token = await aid_auths_oauth_exchange_token_post.asyncio(
        "P00000001", client=client, body=Exchange(account_id="T00000002")
    )

    assert isinstance(made, Grant)
    assert made.id == grant_uuid
    assert made.type_ is GrantType.CLIENT_CREDENTIALS
    assert isinstance(listed, list)
    assert listed == [made]
    assert deleted == made
    assert isinstance(token, AccessToken)
    sent = httpx_mock.get_requests()
    assert json.loads(sent[0].content) == {
        "client_id": str(client_uuid),
        "audience": grant["audience"],
        "scope": ["checkout:admin"],
        "type": "client_credentials",
    }
    assert json.loads(sent[3].content) == {"account_id": "T00000002"}
    assert all(request.headers["Authorization"] == "Bearer a-token" for request in sent)


def test_grant_oidc_secret_is_left_out_of_repr() -> None:
    oidc = GrantOidc(client_id="idp", client_secret="oidc-s3cr3t", authority="https://idp")
    assert "oidc-s3cr3t" not in repr(oidc)
    assert "client_id='idp'" in repr(oidc)
    assert oidc.to_dict()["client_secret"] == "oidc-s3cr3t"


def test_every_model_docstring_reads_as_google_style_with_its_attributes() -> None:
    """Issue 18: a model whose description wraps had its "Attributes:" block indented deeper
    than the text above it, and the reference rendered it raw (fixed in templates/model.py.jinja).
    Read as mkdocstrings reads it (griffe, Google style), every model's docstring that lists
    attributes yields an attributes section naming each field, and no stray text."""
    import griffe
    from dintero_aio_api import models

    loaded = griffe.load("dintero_aio_api.models", search_paths=[str(GENERATED)])
    checked = 0
    for name in models.__all__:
        cls = getattr(models, name)
        docstring = loaded[name].docstring
        if not attrs.has(cls) or docstring is None or "Attributes:" not in docstring.value:
            continue
        sections = docstring.parse("google", warnings=False)
        *text, attributes = sections
        assert [s.kind.value for s in text] in ([], ["text"]), name
        assert attributes.kind.value == "attributes", name
        assert all("Attributes:" not in s.value for s in text), name
        fields = {f.name for f in attrs.fields(cls)} - {"additional_properties"}
        assert {attribute.name for attribute in attributes.value} == fields, name
        checked += 1
    assert checked > 5
