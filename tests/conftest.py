"""Shared fixtures: a Dintero pointed at pytest-httpx, and the canned bodies Dintero sends."""

from __future__ import annotations

import base64
import logging
import secrets
import types
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from dintero_aio import Dintero, RetryPolicy
from dintero_aio.testing import DEFAULT_CLIENT_SECRET, IN_PROCESS_BASE_URL, Emulator
from dintero_aio.testing import emulator as emulator_module

ACCOUNT = "T12345678"
BASE_URL = "https://api.dintero.com/v1"
TOKEN_URL = f"{BASE_URL}/accounts/{ACCOUNT}/auth/token"
CLIENTS_URL = f"{BASE_URL}/accounts/{ACCOUNT}/auth/clients"
CLIENT_ID = "sdk-client"
CLIENT_SECRET = "client-secret-4f9a7c"
ACCESS_TOKEN = "eyJhbGciOi.access-token-8d2e"
CREATED_SECRET = "created-secret-b71c05"
#: Every value that must never show in a repr, a log record or an exception message.
SECRETS = (CLIENT_SECRET, ACCESS_TOKEN, CREATED_SECRET)

#: Small real waits, so retry tests run in milliseconds and still exercise the sleeps.
FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, total_timeout=5.0)


def token_body(access_token: str = ACCESS_TOKEN, expires_in: int = 14400) -> dict[str, Any]:
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}


def client_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "pos",
        "client_id": "pos-1",
        "callbacks": ["https://example.com/cb"],
        "created_at": "2026-11-29T12:00:00Z",
        "client_secret": CREATED_SECRET,
    }
    body.update(fields)
    return body


def error_body(message: str = "nope", code: str = "some_code") -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@pytest.fixture
async def make_dintero() -> AsyncIterator[Callable[..., Dintero]]:
    """Build Dintero instances (fast retries by default) and close them after the test."""
    made: list[Dintero] = []

    def make(**overrides: Any) -> Dintero:
        settings: dict[str, Any] = {
            "account_id": ACCOUNT,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "retry": FAST,
        }
        settings.update(overrides)
        made.append(Dintero(**settings))
        return made[-1]

    yield make
    for dintero in made:
        await dintero.aclose()


@pytest.fixture
def dintero(make_dintero: Callable[..., Dintero]) -> Dintero:
    return make_dintero()


@pytest.fixture
def emulator() -> Emulator:
    """A fresh in-memory emulator (account T12345678); a test module may override it."""
    return Emulator()


@pytest.fixture
async def api(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """Raw httpx on the emulator, in-process (no socket)."""
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as client:
        yield client


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record, from every library, at DEBUG."""
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture(autouse=True)
def _secret_scan(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every test runs with every logger at DEBUG, and no secret may reach any record: the fixed
    test credentials, and every secret and token any emulator made during the test. An
    exception that the SDK's call boundary did not anticipate fails the test too."""
    made: list[str] = []

    def token_urlsafe(nbytes: int) -> str:
        made.append(secrets.token_urlsafe(nbytes))
        return made[-1]

    def token_bytes(nbytes: int) -> bytes:
        value = secrets.token_bytes(nbytes)
        made.append(emulator_module._b64(value))  # the random part of an emulator's JWT
        return value

    recording = types.SimpleNamespace(
        token_urlsafe=token_urlsafe, token_bytes=token_bytes, compare_digest=secrets.compare_digest
    )
    monkeypatch.setattr(emulator_module, "secrets", recording)
    caplog.set_level(logging.DEBUG)
    yield
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    forbidden = [*SECRETS, basic, DEFAULT_CLIENT_SECRET, *made]
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    for record in records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        leaked = [secret for secret in forbidden if secret in text]
        assert not leaked, f"a secret reached the log record {record.name}: {record.msg!r}"
        # calls.Caller.guard logs an exception it did not anticipate at ERROR: a bug, always.
        bug = record.name == "dintero_aio" and record.levelno >= logging.ERROR
        assert not bug, f"dintero-aio hit a bug: {record.getMessage()}"
