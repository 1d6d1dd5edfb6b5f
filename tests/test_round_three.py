"""Round three (issue 17): shutdown races, outcome after a 401, errors that cross processes,
settings that are checked, finished calls that leave nothing behind, and bounded partners.
Each test failed on the main before the fix (the CLI's cases are in test_cli.py)."""

from __future__ import annotations

import asyncio
import copy
import pickle
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest
from dintero_aio_api.models import ClientWithSecret
from pytest_httpx import HTTPXMock

from dintero_aio import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    Dintero,
    DinteroError,
    GrantFailedError,
    GrantSpec,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
    UnexpectedError,
)
from dintero_aio import _redact as redact
from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

from .conftest import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    CLIENTS_URL,
    CREATED_SECRET,
    TOKEN_URL,
    error_body,
    token_body,
)

LIST_PATH = "/v1/accounts/T12345678/auth/clients"


def hang(httpx_mock: HTTPXMock, **match: Any) -> asyncio.Event:
    """Matching requests hang; the event is set once one has arrived."""
    arrived = asyncio.Event()

    async def wait(request: httpx.Request) -> httpx.Response:
        arrived.set()
        await asyncio.sleep(30)
        raise AssertionError("unreachable")

    httpx_mock.add_callback(wait, is_reusable=True, is_optional=True, **match)
    return arrived


# --- 1. overlapping aclose() ---------------------------------------------------------------------


@pytest.mark.parametrize("closers", [2, 3])
async def test_overlapping_acloses_all_return_and_every_call_is_closed(
    httpx_mock: HTTPXMock, dintero: Dintero, closers: int
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    arrived = hang(httpx_mock, method="GET", url=CLIENTS_URL)
    calls = [asyncio.ensure_future(dintero.clients.list()) for _ in range(3)]
    await arrived.wait()
    async with asyncio.timeout(5):
        await asyncio.gather(*(dintero.aclose() for _ in range(closers)))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [type(r) for r in results] == [ClientClosedError] * 3


async def test_a_shutdown_handlers_aclose_while_async_with_exits(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    arrived = hang(httpx_mock, method="GET", url=CLIENTS_URL)

    async def app() -> None:
        async with dintero:
            await dintero.clients.list()

    task = asyncio.ensure_future(app())
    await arrived.wait()
    async with asyncio.timeout(5):
        await dintero.aclose()  # the handler's, while the app is inside `async with`
        with pytest.raises(ClientClosedError):
            await task  # its __aexit__ closes again, at the same time


# --- 2. outcome_unknown after a 401 ---------------------------------------------------------------


async def test_a_create_refused_with_401_then_out_of_time_for_its_token_is_known_unprocessed(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(total_timeout=0.3))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("first"))
    httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body())
    hang(httpx_mock, url=TOKEN_URL)  # the new token never comes
    with pytest.raises(APITimeoutError) as info:
        await dintero.clients.create(name="pos")
    assert not info.value.outcome_unknown
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 1


async def test_a_create_refused_with_401_then_closed_waiting_for_its_token_is_known_unprocessed(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body("first"))
    httpx_mock.add_response(url=CLIENTS_URL, status_code=401, json=error_body())
    waiting = hang(httpx_mock, url=TOKEN_URL)
    create = asyncio.ensure_future(dintero.clients.create(name="pos"))
    while len(httpx_mock.get_requests(url=TOKEN_URL)) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    await waiting.wait()
    await dintero.aclose()
    with pytest.raises(ClientClosedError) as info:
        await create
    assert not info.value.outcome_unknown


# --- 3. errors cross a process boundary -----------------------------------------------------------


def _response(status: int, body: bytes) -> httpx.Response:
    request = httpx.Request(
        "POST", f"https://api.dintero.com{LIST_PATH}", headers={"Authorization": "Bearer tok"}
    )
    return redact.response(httpx.Response(status, content=body, request=request))


def every_public_error() -> list[DinteroError]:
    """One of each public error, as the SDK raises them (redacted, with attributes set)."""
    secret_body = b'{"client_secret": "' + CREATED_SECRET.encode() + b'"}'
    made: list[DinteroError] = []
    for cls, status in [
        (BadRequestError, 400),
        (AuthenticationError, 401),
        (PermissionDeniedError, 403),
        (NotFoundError, 404),
        (RateLimitError, 429),
        (InternalServerError, 500),
        (APIStatusError, 418),
    ]:
        error = cls(
            f"HTTP {status}", response=_response(status, secret_body), code="c", api_message="m"
        )
        error.retry_after = 2.0
        made.append(error)
    malformed = MalformedResponseError("bad", response=_response(200, secret_body))
    malformed.mark_outcome_unknown("it may have been processed")
    made += [
        malformed,
        ResponseTooLargeError("large", response=_response(200, b"")),
        APIConnectionError("refused"),
        APITimeoutError("slow"),
        ClientClosedError("closed"),
        InvalidInputError("bad input"),
        UnexpectedError("bug"),
    ]
    client_id = uuid.UUID("7f7f7f7f-0000-4000-8000-000000000000")
    client = ClientWithSecret(
        id=client_id, client_secret=CREATED_SECRET, client_id="pos-1", name="pos"
    )
    spec = GrantSpec(audience="https://api.dintero.com/v1/accounts/T12345678", scopes=["s"])
    made.append(GrantFailedError(made[5], client=client, grants=(), not_made=(spec,)))
    return made


def _state(error: DinteroError) -> tuple[Any, ...]:
    response = getattr(error, "response", None)
    return (
        type(error),
        str(error),
        error.outcome_unknown,
        getattr(error, "status_code", None),
        getattr(error, "code", None),
        getattr(error, "message", None),
        getattr(error, "retry_after", None),
        None if response is None else (response.status_code, response.content),
        None if response is None else str(response.request.url),
        getattr(getattr(error, "client", None), "to_dict", lambda: None)(),
        getattr(error, "not_made", None),
    )


@pytest.mark.parametrize("error", every_public_error(), ids=lambda e: type(e).__name__)
def test_every_public_error_pickles_and_copies_with_what_users_read(error: DinteroError) -> None:
    data = pickle.dumps(error)
    for again in (
        pickle.loads(data),  # noqa: S301 - our own bytes
        copy.copy(error),
        copy.deepcopy(error),
    ):
        assert _state(again) == _state(error)
    for secret in (CLIENT_SECRET, ACCESS_TOKEN, "Bearer tok"):
        assert secret.encode() not in data
    if not isinstance(error, GrantFailedError):  # whose `client` keeps the secret, by design
        assert CREATED_SECRET.encode() not in data


def _raise(index: int) -> None:
    raise every_public_error()[index]


def test_an_error_raised_in_a_worker_process_reaches_the_parent_whole() -> None:
    errors = every_public_error()
    with ProcessPoolExecutor(max_workers=1) as pool:
        for index, error in enumerate(errors):
            with pytest.raises(DinteroError) as info:
                pool.submit(_raise, index).result(timeout=60)
            assert _state(info.value) == _state(error), type(error).__name__


# --- 4. a bad environment value is named, never echoed --------------------------------------------


_WHITE_SPACE = (
    "has white space (a newline, say) at its start or end; pass it exactly as issued, e.g. "
    "Path(file).read_text().strip()"
)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        (
            "DINTERO_ACCOUNT_ID",
            "the-secret-value",
            "must be 'P' or 'T' followed by 3 or 8 digits, e.g. 'T12345678'",
        ),
        ("DINTERO_CLIENT_ID", " the-secret-value\n", _WHITE_SPACE),
        ("DINTERO_CLIENT_SECRET", "the-secret-value\n", _WHITE_SPACE),
        (
            "DINTERO_BASE_URL",
            "ftp://the-secret-value",
            "must use https:// (http:// only to a loopback host such as 127.0.0.1, or "
            "allow_insecure_http=True for a trusted network)",
        ),
        (
            "DINTERO_BASE_URL",
            "https://user:the-secret-value@api.example.com/v1",
            "must be a plain URL: a host, no user:password@, no query or fragment",
        ),
        ("DINTERO_BACKEND", "the-secret-value", "must be one of httpcore, aiohttp"),
    ],
)
def test_a_bad_environment_value_names_the_variable_and_not_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, problem: str
) -> None:
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", "T12345678")
    monkeypatch.setenv("DINTERO_CLIENT_ID", "c")
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", "s")
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidInputError) as info:
        Dintero.from_env()
    assert str(info.value) == f"the environment variable {variable} is not usable: {problem}"
    assert "the-secret-value" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None or "the-secret-value" not in str(info.value.__context__)


def test_plain_http_from_the_environment_is_allowed_by_the_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment's base URL is checked as allow_insecure_http=True would: whether plain
    http is allowed is the constructor's decision, which an override can make."""
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", "T12345678")
    monkeypatch.setenv("DINTERO_CLIENT_ID", "c")
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", "s")
    monkeypatch.setenv("DINTERO_BASE_URL", "http://192.168.1.10:8080/v1")
    dintero = Dintero.from_env(allow_insecure_http=True)
    assert repr(dintero).count("http://192.168.1.10:8080/v1") == 1
    with pytest.raises(InvalidInputError, match=r"^base_url must use https://"):
        Dintero.from_env()


# --- 6. transport= is checked ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", [object(), httpx.HTTPTransport(), "http://x"])
def test_a_transport_that_is_not_an_async_httpx_transport_is_refused_at_once(
    transport: object,
) -> None:
    with pytest.raises(InvalidInputError, match=r"httpx\.AsyncBaseTransport"):
        Dintero(account_id="T12345678", client_id="c", client_secret="s", transport=transport)  # type: ignore[arg-type]


# --- 7. a finished call leaves no timer -----------------------------------------------------------


async def test_finished_calls_leave_no_timer_scheduled(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    dintero = make_dintero(retry=RetryPolicy(total_timeout=604800))
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[], is_reusable=True)
    loop = asyncio.get_running_loop()

    def live_timers() -> int:
        return sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]

    await dintero.clients.list()
    before = live_timers()
    for _ in range(50):
        await dintero.clients.list()
    await asyncio.gather(*(dintero.clients.list() for _ in range(50)))
    assert live_timers() == before
    assert dintero._caller.deadlines._slots == {}


# --- 8. a view's policy covers its token ----------------------------------------------------------


async def test_a_patient_view_is_patient_for_its_token_too(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    impatient = make_dintero(retry=RetryPolicy(max_retries=0))
    patient = impatient.with_options(
        retry=RetryPolicy(max_retries=5, initial_delay=0.001, max_delay=0.001)
    )
    httpx_mock.add_response(url=TOKEN_URL, status_code=503, json=error_body())
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(method="GET", url=CLIENTS_URL, json=[])
    assert await patient.clients.list() == []
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 2


async def test_an_impatient_instance_still_fails_on_one_503_from_get_token(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=503, json=error_body())
    with pytest.raises(InternalServerError):
        await make_dintero(retry=RetryPolicy(max_retries=0)).clients.list()
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 1


# --- 9. masking reads the member as JSON does -----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        b"client\\u005fsecret",
        b"\\u0063lient_secret",
        b"access\\u005Ftoken",
        b"client_secret",
    ],
)
async def test_a_secret_member_is_masked_however_its_name_is_escaped(
    httpx_mock: HTTPXMock, dintero: Dintero, name: bytes
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    body = b'{"error": {"message": "m"}, "' + name + b'": "' + CREATED_SECRET.encode() + b'"}'
    httpx_mock.add_response(url=CLIENTS_URL, status_code=400, content=body)
    with pytest.raises(BadRequestError) as info:
        await dintero.clients.create(name="pos")
    assert CREATED_SECRET.encode() not in info.value.response.content
    assert name in info.value.response.content  # the evidence keeps its shape


# --- 12. a partner's merchant views are bounded ---------------------------------------------------


def _merchant(n: int) -> str:
    return f"T{10000000 + n}"


async def test_merchant_views_are_kept_least_recently_used_up_to_the_bound() -> None:
    emulator = Emulator(account_id="P00000001", merchants=[_merchant(n) for n in range(5)])
    async with Dintero(
        account_id="P00000001",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,
        transport=emulator.transport(),
        max_merchant_accounts=3,
    ) as partner:
        first = partner.for_account(_merchant(0))
        for n in range(1, 3):
            partner.for_account(_merchant(n))
        assert partner.for_account(_merchant(0)) is first  # used again: now the most recent
        partner.for_account(_merchant(3))  # pushes out merchant 1, the least recently used
        assert sorted(partner._merchants) == [_merchant(0), _merchant(2), _merchant(3)]
        assert sorted(partner._exchanges) == [_merchant(0), _merchant(2), _merchant(3)]
        again = partner.for_account(_merchant(1))  # made again, and works
        assert await again.clients.list() == []
        assert len(partner._merchants) == len(partner._exchanges) == 3


async def test_a_merchant_whose_exchange_was_refused_is_not_kept() -> None:
    emulator = Emulator(account_id="P00000001", merchants=[_merchant(0)])
    async with Dintero(
        account_id="P00000001",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,
        transport=emulator.transport(),
    ) as partner:
        refused = partner.for_account(_merchant(9))  # not its merchant
        with pytest.raises(PermissionDeniedError):
            await refused.clients.list()
        assert list(partner._exchanges) == []  # its token cache is gone
        assert partner.for_account(_merchant(9)) is not refused  # and so is its view
        await partner.for_account(_merchant(0)).clients.list()
        assert _merchant(0) in partner._exchanges


def test_the_default_bound_covers_ten_thousand_merchants() -> None:
    partner = Dintero(account_id="P00000001", client_id="c", client_secret="s")
    for n in range(10_050):
        partner.for_account(_merchant(n))
    assert len(partner._merchants) == len(partner._exchanges) == 10_000
    assert _merchant(10_049) in partner._merchants
    assert _merchant(0) not in partner._merchants
