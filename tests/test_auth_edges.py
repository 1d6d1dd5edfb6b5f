"""The token cache's edges: exact refresh moments, growing pauses, what a rejection carries."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
import pytest
from dintero_aio_api.models import AccessToken, AccessTokenTokenType
from pytest_httpx import HTTPXMock

from dintero_aio import AuthenticationError, Dintero
from dintero_aio import _auth as auth_module

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, error_body, token_body


def access(value: str = "a.b.c", expires_in: int = 60) -> AccessToken:
    return AccessToken(
        access_token=value, token_type=AccessTokenTokenType.BEARER, expires_in=expires_in
    )


def test_what_a_token_answer_may_hold() -> None:
    problem = auth_module._token_problem
    assert problem(access()) is None
    assert problem(access(expires_in=0)) is None  # single-use, not an error
    assert problem(access(expires_in=auth_module.MAX_LIFETIME)) is None
    assert (
        problem(access(expires_in=-1)) == f"an expires_in outside 0 to {auth_module.MAX_LIFETIME}"
    )
    assert problem(access(expires_in=auth_module.MAX_LIFETIME + 1)) is not None
    assert problem(access("a b")) == "an access_token that cannot be sent in a header"


async def test_a_rejected_login_keeps_dinteros_code_and_message(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(
        url=TOKEN_URL, status_code=401, json=error_body("bad login", "unauthorized")
    )
    with pytest.raises(AuthenticationError) as info:
        await dintero.clients.list()
    assert (info.value.code, info.value.message) == ("unauthorized", "bad login")
    assert "Dintero rejected the client credentials or the audience" in str(info.value)


async def settle(dintero: Dintero) -> None:
    refresh = dintero._tokens._refresh
    if refresh is not None:
        with contextlib.suppress(Exception):
            await refresh


async def test_the_refresh_starts_at_refresh_at_exactly(
    httpx_mock: HTTPXMock, dintero: Dintero, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("first", 3600), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, json=[], is_reusable=True)
    await dintero.clients.list()
    token = dintero._tokens._token
    assert token is not None
    now[0] = token.refresh_at  # not a moment later
    await dintero.clients.list()
    await settle(dintero)
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 2


async def test_pauses_after_failed_refreshes_double_and_end_exactly(
    httpx_mock: HTTPXMock, dintero: Dintero, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("current", 3600))
    httpx_mock.add_response(url=TOKEN_URL, status_code=400, json=error_body(), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, json=[], is_reusable=True)
    await dintero.clients.list()
    now[0] += 3600 - 30  # due, still valid

    async def tries_after(advance: float) -> int:
        now[0] += advance
        await dintero.clients.list()
        await settle(dintero)
        return len(httpx_mock.get_requests(url=TOKEN_URL)) - 1

    assert await tries_after(0) == 1  # the first background refresh fails: pause 1 s
    assert await tries_after(1.0) == 2  # exactly when the pause ends; fails: pause 2 s
    assert await tries_after(1.0) == 2  # 1 s is not enough now
    assert await tries_after(1.0) == 3  # 2 s is; fails: pause 4 s
    assert await tries_after(3.9) == 3
    assert await tries_after(0.1) == 4


async def test_the_refresh_task_is_named_and_logged(
    httpx_mock: HTTPXMock, dintero: Dintero, caplog: pytest.LogCaptureFixture
) -> None:
    names: list[str] = []

    async def token(request: httpx.Request) -> httpx.Response:
        names.extend(task.get_name() for task in asyncio.all_tasks())
        return httpx.Response(200, json=token_body(expires_in=14400))

    httpx_mock.add_callback(token, url=TOKEN_URL)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    assert "dintero-token-refresh" in names  # what a task dump shows while a fetch hangs
    messages = [r.getMessage() for r in caplog.records if r.name == "dintero_aio"]
    assert "access token of T12345678 fetched from Dintero; it expires in 14400s" in messages
    assert all(r.levelno <= logging.INFO for r in caplog.records if r.name == "dintero_aio")


async def test_at_expires_at_exactly_a_token_is_no_longer_used(
    httpx_mock: HTTPXMock, dintero: Dintero, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("first", 3600))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("second", 3600))
    httpx_mock.add_response(url=CLIENTS_URL, json=[], is_reusable=True)
    await dintero.clients.list()
    token = dintero._tokens._token
    assert token is not None
    now[0] = token.expires_at
    await dintero.clients.list()  # waits for the new token rather than sending a dead one
    used = [r.headers["Authorization"] for r in httpx_mock.get_requests(url=CLIENTS_URL)]
    assert used == ["Bearer first", "Bearer second"]


async def test_aclose_stops_a_refresh_that_has_not_started_running(dintero: Dintero) -> None:
    dintero._tokens._start()  # created, not yet run: no call has registered it anywhere
    refresh = dintero._tokens._refresh
    assert refresh is not None
    await dintero.aclose()
    assert refresh.cancelled()  # not left to run, and fail, after aclose() returned
