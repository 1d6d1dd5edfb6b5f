"""Settings a new user gets wrong: plain http, a misspelt override, reading an optional field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

import dintero_aio
from dintero_aio import Dintero, InvalidInputError

from .conftest import ACCOUNT, CLIENT_ID, CLIENT_SECRET

CREDENTIALS = {"account_id": ACCOUNT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}


def test_plain_http_to_another_host_needs_an_explicit_opt_in() -> None:
    with pytest.raises(InvalidInputError, match="allow_insecure_http=True"):
        Dintero(**CREDENTIALS, base_url="http://emulator:8080/v1")
    dintero = Dintero(**CREDENTIALS, base_url="http://emulator:8080/v1", allow_insecure_http=True)
    assert dintero.base_url == "http://emulator:8080/v1"
    assert dintero.audience == f"http://emulator:8080/v1/accounts/{ACCOUNT}"
    with pytest.raises(InvalidInputError, match="https"):  # other schemes stay refused
        Dintero(**CREDENTIALS, base_url="ftp://emulator/v1", allow_insecure_http=True)
    with pytest.raises(InvalidInputError, match="allow_insecure_http"):  # only a real True
        Dintero(**CREDENTIALS, base_url="http://emulator/v1", allow_insecure_http="yes")  # type: ignore[arg-type]


def test_from_env_refuses_a_misspelt_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("DINTERO_ACCOUNT_ID", ACCOUNT),
        ("DINTERO_CLIENT_ID", CLIENT_ID),
        ("DINTERO_CLIENT_SECRET", CLIENT_SECRET),
    ):
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError, match=r"unknown setting.*timout"):
        Dintero.from_env(timout=5)  # type: ignore[call-arg]
    assert Dintero.from_env(timeout=5, max_response_bytes=10).account_id == ACCOUNT


def test_a_misspelt_from_env_override_is_a_type_error(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(
        textwrap.dedent(
            """
            from dintero_aio import Dintero

            Dintero.from_env(timeout=5.0, retry=None)
            Dintero.from_env(timout=5.0)
            """
        )
    )
    out, _, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(source)]
    )
    assert status == 1
    assert 'Unexpected keyword argument "timout"' in out
    assert out.count("error:") == 1  # the correct call type-checks


def test_unset_is_importable_to_read_optional_fields() -> None:
    assert dintero_aio.UNSET is dintero_aio.Unset() or isinstance(
        dintero_aio.UNSET, dintero_aio.Unset
    )
    assert not dintero_aio.UNSET  # falsy, so `client.name or "-"` reads an optional field
