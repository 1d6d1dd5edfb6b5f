"""The call boundary's edges: connection-error messages, a bug turned into `UnexpectedError`,
each attempt's timeout cut to the deadline, and what a 404 after a retry means."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable

import httpx
import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ClientClosedError,
    Dintero,
    MalformedResponseError,
    NotFoundError,
    RetryPolicy,
    UnexpectedError,
    _wire,
)
from dintero_aio._observe import NO_OBSERVER
from dintero_aio._wire import CallState

from .conftest import CLIENTS_URL, TOKEN_URL, client_body, token_body

LIST_PATH = "/v1/accounts/T12345678/auth/clients"
CLIENT_URL = f"{CLIENTS_URL}/6f1c2a4e-8a9b-4c3d-9e8f-0123456789ab"
ONCE = RetryPolicy(max_retries=0, total_timeout=5)


@pytest.fixture(autouse=True)
def _token(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(), is_optional=True)


async def test_a_connection_error_names_the_call_the_failure_and_its_detail(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    exc = httpx.ReadError("connection reset")
    httpx_mock.add_exception(exc, method="GET", url=CLIENTS_URL)
    with pytest.raises(APIConnectionError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert (
        str(info.value) == f"GET {LIST_PATH}: ReadError (https://api.dintero.com): connection reset"
    )
    assert info.value.__cause__ is exc


async def test_a_connection_error_without_detail_says_so(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_exception(httpx.ConnectTimeout(""), method="GET", url=CLIENTS_URL)
    with pytest.raises(APIConnectionError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert (
        str(info.value) == f"GET {LIST_PATH}: ConnectTimeout (https://api.dintero.com): no detail"
    )


async def test_a_request_that_cannot_be_sent_is_a_connection_error_that_quotes_nothing(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    quoted = "Illegal header value b'Bearer leaked-token\\n'"
    httpx_mock.add_exception(httpx.LocalProtocolError(quoted), method="GET", url=CLIENTS_URL)
    with pytest.raises(APIConnectionError) as info:
        await make_dintero(retry=ONCE).clients.list()
    assert str(info.value) == f"GET {LIST_PATH}: the request could not be sent"
    assert info.value.__cause__ is None
    chained: BaseException | None = info.value
    while chained is not None:  # nothing in the chain quotes the header
        assert not isinstance(chained, httpx.LocalProtocolError)
        assert "leaked-token" not in str(chained)
        chained = chained.__cause__ or chained.__context__


async def test_a_request_that_cannot_be_sent_is_retried_like_any_connection_error(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_exception(httpx.LocalProtocolError("bad header"), method="GET", url=CLIENTS_URL)
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[])
    assert await dintero.clients.list() == []


# A TimeoutError that is not the call's own deadline (one raised by code under the SDK) is a bug
# too, not an `APITimeoutError` that would claim the total_timeout ran out.
@pytest.mark.parametrize("kind", [RuntimeError, TimeoutError])
async def test_a_bug_becomes_an_unexpected_error_that_says_where_and_is_logged(
    httpx_mock: HTTPXMock,
    dintero: Dintero,
    caplog: pytest.LogCaptureFixture,
    kind: type[Exception],
) -> None:
    raised_at: list[str] = []

    def broken(request: httpx.Request) -> httpx.Response:
        frame = inspect.currentframe()
        assert frame is not None
        raised_at.append(f"{frame.f_code.co_filename}:{frame.f_lineno + 1}")
        raise kind("text that may quote a credential")

    httpx_mock.add_callback(broken, method="GET", url=CLIENTS_URL)
    with pytest.raises(UnexpectedError) as info:
        await dintero.clients.list()

    where = raised_at[0]
    assert str(info.value) == (
        f"GET {LIST_PATH}: unexpected {kind.__name__} at {where} "
        "(a bug in dintero-aio: please report it)"
    )
    assert info.value.__cause__ is None
    assert info.value.__context__ is None
    errors = [r for r in caplog.records if r.name == "dintero_aio" and r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"bug in dintero-aio: GET {LIST_PATH}: unexpected {kind.__name__} at {where}"
    ]
    # This ERROR record is the point of the test; the suite-wide check fails any other.
    caplog.clear()


async def sent_timeout(
    httpx_mock: HTTPXMock,
    make_dintero: Callable[..., Dintero],
    per_attempt: httpx.Timeout,
    total_timeout: float,
) -> dict[str, float | None]:
    """The `timeout` extension of the one request a list sends with these settings."""
    seen: list[dict[str, float | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, json=[])

    httpx_mock.add_callback(record, method="GET", url=CLIENTS_URL)
    policy = RetryPolicy(max_retries=0, total_timeout=total_timeout)
    await make_dintero(retry=policy, timeout=per_attempt).clients.list()
    (phases,) = seen
    return phases


async def test_each_phase_is_cut_to_the_time_left_and_none_stays_unbounded(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    timeout = httpx.Timeout(30.0, connect=None, write=0.5)
    phases = await sent_timeout(httpx_mock, make_dintero, timeout, total_timeout=5)
    assert phases["write"] == 0.5  # shorter than what is left: kept
    for name in ("connect", "read", "pool"):  # unbounded or longer: cut to what is left
        value = phases[name]
        assert value is not None
        assert 4.0 < value <= 5.0, (name, value)


async def test_an_unbounded_phase_is_cut_to_the_deadline_even_when_the_others_are_short(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    timeout = httpx.Timeout(1.0, connect=None)
    phases = await sent_timeout(httpx_mock, make_dintero, timeout, total_timeout=5)
    assert phases["read"] == phases["write"] == phases["pool"] == 1.0
    assert phases["connect"] is not None
    assert 4.0 < phases["connect"] <= 5.0


async def test_a_timeout_well_inside_the_deadline_is_sent_as_it_is(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    timeout = httpx.Timeout(2.0, pool=1.0)
    phases = await sent_timeout(httpx_mock, make_dintero, timeout, total_timeout=60)
    assert phases == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 1.0}


async def test_only_a_404_after_a_maybe_processed_delete_means_done(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """A 400 after an ambiguous 500 is still the 400: only "not found" can mean "deleted"."""
    httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=500)
    httpx_mock.add_response(method="DELETE", url=CLIENT_URL, status_code=400)
    with pytest.raises(BadRequestError):
        await dintero.clients.delete(CLIENT_URL.rsplit("/", 1)[1])


async def test_a_create_answered_2xx_is_sent_once_and_returned(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(method="POST", url=CLIENTS_URL, json=client_body(name="till"))
    created = await dintero.clients.create(name="till")
    assert created.name == "till"
    (sent,) = httpx_mock.get_requests(method="POST", url=CLIENTS_URL)
    assert sent.headers["authorization"].startswith("Bearer ")


async def test_a_404_after_a_maybe_processed_read_is_still_not_found(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    """Only delete takes a 404 on a retry as done; a get that meets one has found nothing."""
    httpx_mock.add_response(method="GET", url=CLIENT_URL, status_code=500)
    httpx_mock.add_response(method="GET", url=CLIENT_URL, status_code=404)
    with pytest.raises(NotFoundError):
        await dintero.clients.get(CLIENT_URL.rsplit("/", 1)[1])


async def test_a_create_closed_while_waiting_to_retry_sent_nothing_unanswered(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    """Its only request was answered (503, refused): closing during the wait before the retry
    leaves nothing in flight, so the outcome is known."""
    httpx_mock.add_response(url=CLIENTS_URL, status_code=503, headers={"Retry-After": "2"})
    dintero = make_dintero(retry=RetryPolicy(max_retries=1, total_timeout=10))
    create = asyncio.ensure_future(dintero.clients.create())
    while not httpx_mock.get_requests(url=CLIENTS_URL):  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.02)
    await dintero.aclose()
    with pytest.raises(ClientClosedError) as info:
        await create
    assert not info.value.outcome_unknown


async def test_an_unknown_outcome_says_why(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(method="POST", url=CLIENTS_URL, json={"client_secret": "x"})
    dintero = make_dintero()
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.create()
    unknown = "The outcome is unknown: Dintero accepted the request, but its answer could not "
    assert unknown + "be read; " in str(info.value)

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        raise AssertionError("unreachable")

    httpx_mock.add_callback(hang, method="POST", url=CLIENTS_URL)
    with pytest.raises(APITimeoutError) as timed_out:
        await dintero.with_options(retry=RetryPolicy(total_timeout=0.1)).clients.create()
    assert "The outcome is unknown: a request may have been in flight; " in str(timed_out.value)


async def test_a_create_its_attempt_timed_out_says_not_retried_however_little_time_is_left(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    """A read timeout of the attempt (not the end of total_timeout) is "not retried", also with
    under a second of the call's time left."""
    httpx_mock.add_exception(httpx.ReadTimeout("timed out"), method="POST", url=CLIENTS_URL)
    dintero = make_dintero(retry=RetryPolicy(total_timeout=0.9))
    with pytest.raises(APITimeoutError) as info:
        await dintero.clients.create()
    assert "The outcome is unknown: not retried, because " in str(info.value)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("boom"),
        # Only its first words: the rest can be the server's bytes, a secret included.
        httpx.RemoteProtocolError("boom: the server's bytes: client_secret=s3cr3t"),
    ],
)
async def test_a_transport_error_without_a_request_names_no_server(
    exc: httpx.TransportError,
) -> None:
    """httpx attaches the request to what its transports raise; an exception raised before any
    request existed has none to name, and is still an SDK error (not a RuntimeError)."""
    loop = asyncio.get_running_loop()
    state = CallState(loop.time() + 5, loop, NO_OBSERVER.call("list", "T12345678"))

    async def failing() -> httpx.Response:
        raise exc

    with pytest.raises(APIConnectionError) as info:
        await _wire.sent("GET /x", state, failing())
    assert str(info.value) == f"GET /x: {type(exc).__name__}: boom"
