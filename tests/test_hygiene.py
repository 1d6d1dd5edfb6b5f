"""Secrets never show in a repr, a log record or an exception; requests identify the SDK."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import Dintero, DinteroError, RetryPolicy, __version__

from .conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_URL,
    SECRETS,
    TOKEN_URL,
    client_body,
    error_body,
    token_body,
)

BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
FORBIDDEN = (*SECRETS, BASIC)


def assert_clean(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text


def exception_text(exc: BaseException) -> str:
    """The message, repr and notes of an exception and of everything it is chained to."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), *getattr(seen, "__notes__", [])]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


async def test_reprs_hide_secrets(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    created = await dintero.clients.create()

    auth = dintero._caller.http.auth
    for obj in (dintero, dintero.with_options(timeout=3), auth, dintero._tokens, created):
        assert_clean(repr(obj))
        assert_clean(str(obj))
    assert created.client_secret in SECRETS  # still available to the caller
    assert "refresh due" in repr(dintero._tokens)


async def test_requests_identify_the_sdk(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    for request in httpx_mock.get_requests():
        assert request.headers["User-Agent"] == f"dintero-aio/{__version__}"
        assert request.headers["Dintero-System-Name"] == "dintero-aio"
        assert request.headers["Dintero-System-Version"] == __version__


def _scenarios(httpx_mock: HTTPXMock) -> list[Callable[[], None]]:
    """Each sets up responses for one create call: success, replay, retries, every failure."""

    def ok() -> None:
        httpx_mock.add_response(url=TOKEN_URL, json=token_body())
        httpx_mock.add_response(url=CLIENTS_URL, json=client_body())

    def replay() -> None:
        httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_reusable=True)
        httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body())
        httpx_mock.add_response(url=CLIENTS_URL, json=client_body())

    def retried() -> None:
        httpx_mock.add_response(url=TOKEN_URL, status_code=503, json=error_body())
        httpx_mock.add_response(url=TOKEN_URL, json=token_body())
        httpx_mock.add_exception(httpx.ConnectError("refused"), url=CLIENTS_URL)
        httpx_mock.add_response(url=CLIENTS_URL, status_code=429, headers={"Retry-After": "0"})
        httpx_mock.add_response(url=CLIENTS_URL, json=client_body())

    def rejected() -> None:
        httpx_mock.add_response(url=TOKEN_URL, status_code=401, json=error_body("bad creds"))

    def ambiguous() -> None:
        httpx_mock.add_response(url=TOKEN_URL, json=token_body())
        httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=CLIENTS_URL)

    def twice_401() -> None:
        httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_reusable=True)
        httpx_mock.add_response(url=CLIENTS_URL, status_code=401, is_reusable=True)

    def malformed() -> None:
        # The created secret in a body that fails the type check must not leak either.
        httpx_mock.add_response(url=TOKEN_URL, json=token_body())
        httpx_mock.add_response(url=CLIENTS_URL, json=client_body(id=CREATED_SECRET_AS_ID))

    def malformed_token() -> None:
        httpx_mock.add_response(url=TOKEN_URL, json={"access_token": token_body()["access_token"]})

    return [ok, replay, retried, rejected, ambiguous, twice_401, malformed, malformed_token]


CREATED_SECRET_AS_ID = 12345  # a wrong type next to a real client_secret in the body


async def test_no_secret_in_any_log_record_or_exception(
    httpx_mock: HTTPXMock,
    make_dintero: Callable[..., Dintero],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    outcomes = []
    for scenario in _scenarios(httpx_mock):
        httpx_mock.reset()
        scenario()
        dintero = make_dintero(retry=RetryPolicy(initial_delay=0, max_delay=0))
        try:
            created = await dintero.clients.create(name="pos")
            outcomes.append("ok")
            assert_clean(repr(created))
        except DinteroError as exc:
            outcomes.append(type(exc).__name__)
            assert_clean(exception_text(exc))

    assert outcomes == [
        "ok",
        "ok",
        "ok",
        "AuthenticationError",
        "APITimeoutError",
        "AuthenticationError",
        "MalformedResponseError",
        "MalformedResponseError",
    ]
    assert len(debug_logs.records) > 20  # httpx, httpcore and dintero_aio all logged
    assert {r.name for r in debug_logs.records} >= {"dintero_aio", "httpx"}
    for record in debug_logs.records:
        assert_clean(record.getMessage())
        assert_clean(repr(record.args))
        assert_clean(record.exc_text or "")


async def test_sdk_logs_token_fetches_retries_and_give_ups(
    httpx_mock: HTTPXMock, dintero: Dintero, debug_logs: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=503, json=error_body(), is_reusable=True)
    with pytest.raises(DinteroError):
        await dintero.clients.create()
    messages = [r.getMessage() for r in debug_logs.records if r.name == "dintero_aio"]
    assert any("access token of T12345678 fetched" in m for m in messages)
    assert sum("retry" in m and "503" in m for m in messages) == 2
    assert any("giving up after 2 retries" in m for m in messages)
    assert all(r.levelno <= logging.INFO for r in debug_logs.records if r.name == "dintero_aio")
