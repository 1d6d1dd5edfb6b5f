"""Token lifecycle: lazy fetch, cache, proactive refresh, single-flight, 401 replay, cancel."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    AuthenticationError,
    Dintero,
    InternalServerError,
    PermissionDeniedError,
    RetryPolicy,
)
from dintero_aio import _auth as auth_module

from .conftest import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_URL,
    TOKEN_URL,
    client_body,
    error_body,
    token_body,
)


def token_requests(httpx_mock: HTTPXMock) -> list[httpx.Request]:
    return httpx_mock.get_requests(url=TOKEN_URL)


def bearer(request: httpx.Request) -> str:
    return request.headers["Authorization"].removeprefix("Bearer ")


async def test_first_token_is_fetched_lazily_with_basic_auth_and_json_body(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    assert httpx_mock.get_requests() == []  # nothing sent at construction

    await dintero.clients.create(name="pos")

    token_request, create_request = httpx_mock.get_requests()
    assert token_request.method == "POST"
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"
    assert json.loads(token_request.content) == {
        "grant_type": "client_credentials",
        "audience": "https://api.dintero.com/v1/accounts/T12345678",
    }
    assert create_request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_custom_audience_is_sent(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    dintero = make_dintero(audience="https://api.dintero.com/v1/accounts/P00000000")
    await dintero.clients.create()
    assert json.loads(token_requests(httpx_mock)[0].content)["audience"].endswith("/P00000000")


async def test_token_is_cached_across_calls(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)
    for _ in range(5):
        await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 1


async def test_single_flight_under_many_concurrent_cold_calls(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # long enough for every caller to arrive while it is in flight
        return httpx.Response(200, json=token_body())

    httpx_mock.add_callback(slow_token, url=TOKEN_URL)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)

    results = await asyncio.gather(*(dintero.clients.create() for _ in range(150)))

    assert len(results) == 150
    assert len(token_requests(httpx_mock)) == 1
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 150


async def test_lock_is_not_held_while_api_requests_are_in_flight(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """With a token cached, 20 slow API calls overlap instead of running one at a time."""
    in_flight = 0
    most = 0

    async def slow_create(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.1)  # long enough for all 20 to be sent meanwhile
        in_flight -= 1
        return httpx.Response(200, json=client_body())

    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_callback(slow_create, url=CLIENTS_URL, is_reusable=True)
    await asyncio.gather(*(dintero.clients.create() for _ in range(20)))
    assert most == 20


async def background_refresh_done(dintero: Dintero) -> None:
    """Wait for the background refresh under way, if any, whatever its outcome."""
    refresh = dintero._tokens._refresh
    if refresh is not None:
        with contextlib.suppress(Exception):
            await refresh


@pytest.mark.parametrize(
    ("expires_in", "still_fresh", "stale"),
    [
        (3600, 3600 - 61, 2),  # 61 s of lifetime left: reused; 59 s left: refreshed
        (20, 9.9, 0.2),  # a short-lived token is reused for half its lifetime, then refreshed
    ],
)
async def test_proactive_refresh_runs_in_the_background(
    httpx_mock: HTTPXMock,
    dintero: Dintero,
    monkeypatch: pytest.MonkeyPatch,
    expires_in: int,
    still_fresh: float,
    stale: float,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("first", expires_in))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("second", expires_in))
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)

    await dintero.clients.create()
    now[0] += still_fresh
    await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 1
    now[0] += stale
    await dintero.clients.create()  # due for refresh but valid: used, refresh started behind
    await background_refresh_done(dintero)
    await dintero.clients.create()  # no 401 was ever needed

    used = [bearer(r) for r in httpx_mock.get_requests(url=CLIENTS_URL)]
    assert used == ["first", "first", "first", "second"]
    assert len(token_requests(httpx_mock)) == 2


async def test_calls_never_wait_for_a_refresh_while_the_token_is_valid(
    httpx_mock: HTTPXMock, dintero: Dintero, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    hang = asyncio.Event()

    async def token_endpoint_that_hangs(request: httpx.Request) -> httpx.Response:
        await hang.wait()
        return httpx.Response(200, json=token_body("late"))

    httpx_mock.add_response(url=TOKEN_URL, json=token_body("current", expires_in=3600))
    httpx_mock.add_callback(token_endpoint_that_hangs, url=TOKEN_URL)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)
    await dintero.clients.create()
    now[0] += 3600 - 50  # due, valid for another 50 s; the token endpoint never answers

    async with asyncio.timeout(2):  # each would wait for total_timeout if it waited
        await asyncio.gather(*(dintero.clients.create() for _ in range(20)))

    assert len(token_requests(httpx_mock)) == 2  # one background refresh, not one per call
    assert {bearer(r) for r in httpx_mock.get_requests(url=CLIENTS_URL)} == {"current"}
    hang.set()


async def test_failed_background_refresh_falls_back_and_backs_off(
    httpx_mock: HTTPXMock, dintero: Dintero, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(auth_module, "monotonic", lambda: now[0])
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("current", expires_in=3600))
    httpx_mock.add_response(url=TOKEN_URL, status_code=503, json=error_body(), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)

    await dintero.clients.create()
    now[0] += 3600 - 30  # in the refresh window, still valid: the outage does not fail calls
    await dintero.clients.create()
    await background_refresh_done(dintero)
    assert len(token_requests(httpx_mock)) == 1 + 3  # the refresh was tried, with its retries
    for _ in range(5):  # within the pause after the failure: no caller tries again
        await dintero.clients.create()
    assert dintero._tokens._refresh is None
    assert len(token_requests(httpx_mock)) == 4
    now[0] += auth_module.RETRY_PAUSE + 0.1  # the pause is over: one more background try
    await dintero.clients.create()
    await background_refresh_done(dintero)
    assert len(token_requests(httpx_mock)) == 4 + 3
    now[0] += 30  # expired: now the outage is the caller's error
    with pytest.raises(InternalServerError):
        await dintero.clients.create()
    assert [bearer(r) for r in httpx_mock.get_requests(url=CLIENTS_URL)] == ["current"] * 8


async def test_401_refreshes_once_and_replays_once(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    seen: list[tuple[str, bytes]] = []

    def clients(request: httpx.Request) -> httpx.Response:
        seen.append((bearer(request), request.content))
        if bearer(request) == "revoked":
            return httpx.Response(401, json=error_body())
        return httpx.Response(200, json=client_body(name="pos"))

    httpx_mock.add_response(url=TOKEN_URL, json=token_body("revoked"))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("fresh"))
    httpx_mock.add_callback(clients, url=CLIENTS_URL, is_reusable=True)

    created = await dintero.clients.create(name="pos")

    assert created.name == "pos"
    assert [token for token, _ in seen] == ["revoked", "fresh"]
    assert seen[0][1] == seen[1][1] == b'{"name":"pos"}'  # the same body replayed


async def test_second_401_raises_without_looping(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body(), is_reusable=True)

    with pytest.raises(AuthenticationError) as info:
        await dintero.clients.create()

    assert info.value.status_code == 401
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 2
    assert len(token_requests(httpx_mock)) == 2


async def test_401_replay_does_not_use_the_retry_budget(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(max_retries=0))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_reusable=True)
    httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()  # succeeds with retries disabled
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 2


async def test_late_401_does_not_discard_a_newer_token(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """A 401 for an old token, arriving after a refresh, reuses the newer token."""
    old_request_sent = asyncio.Event()
    release_old = asyncio.Event()
    seen: list[str] = []

    async def clients(request: httpx.Request) -> httpx.Response:
        seen.append(bearer(request))
        if bearer(request) == "old":
            old_request_sent.set()
            await release_old.wait()
            return httpx.Response(401, json=error_body())
        return httpx.Response(200, json=client_body())

    httpx_mock.add_response(url=TOKEN_URL, json=token_body("old"))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("new"))
    httpx_mock.add_callback(clients, url=CLIENTS_URL, is_reusable=True)

    slow = asyncio.create_task(dintero.clients.create())
    await old_request_sent.wait()
    dintero._tokens.invalidate(await dintero._tokens.get())  # the cache moves on to "new"
    await dintero.clients.create()
    release_old.set()
    await slow

    assert len(token_requests(httpx_mock)) == 2  # the late 401 did not cause a third fetch
    assert seen == ["old", "new", "new"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, AuthenticationError), (401, AuthenticationError), (403, PermissionDeniedError)],
)
async def test_token_rejection_is_final_and_says_what_was_rejected(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int, error: type[Exception]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=status, json=error_body("bad client"))

    with pytest.raises(error) as info:
        await dintero.clients.create()

    assert "client credentials or the audience" in str(info.value)
    assert "bad client" in str(info.value)
    assert len(token_requests(httpx_mock)) == 1  # not retried
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []  # the create was never sent


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_transient_token_failures_are_retried(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=status, json=error_body())
    httpx_mock.add_exception(httpx.ReadTimeout("slow"), url=TOKEN_URL)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 3


async def test_token_failure_is_not_multiplied_by_the_api_call_s_retries(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=503, json=error_body(), is_reusable=True)
    with pytest.raises(InternalServerError):
        await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 3  # 1 + max_retries, not 3 x 3
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []


async def test_cancelled_caller_does_not_break_the_shared_refresh(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    started = asyncio.Event()

    async def slow_token(request: httpx.Request) -> httpx.Response:
        started.set()
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=token_body())

    httpx_mock.add_callback(slow_token, url=TOKEN_URL)
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(), is_reusable=True)

    first = asyncio.create_task(dintero.clients.create())
    others = [asyncio.create_task(dintero.clients.create()) for _ in range(5)]
    await started.wait()
    first.cancel()

    await asyncio.gather(*others)  # the others still get the token the first caller started
    with pytest.raises(asyncio.CancelledError):
        await first
    assert len(token_requests(httpx_mock)) == 1
    await dintero.clients.create()  # and the cache is healthy afterwards
    assert len(token_requests(httpx_mock)) == 1


async def test_failed_refresh_is_not_cached(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=401, json=error_body())
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    with pytest.raises(AuthenticationError):
        await dintero.clients.create()
    await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 2


async def test_every_caller_sees_a_cancelled_lone_refresh_recover(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """All waiters cancelled: the refresh still completes and fills the cache, no warning."""
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body())
    task = asyncio.create_task(dintero.clients.create())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    await dintero.clients.create()
    assert len(token_requests(httpx_mock)) == 1
