"""The README's promises, held against the cases users found breaking them (issue 9).

Only `DinteroError`s escape, whatever the server, the environment or a shutdown does; no
credential is reachable from a raised error; nothing is lost; resources stay bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock, IteratorStream

from dintero_aio import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    ClientClosedError,
    Dintero,
    DinteroError,
    EventLoopError,
    InternalServerError,
    InvalidInputError,
    MalformedResponseError,
    RateLimitError,
    ResponseTooLargeError,
    RetryPolicy,
)
from dintero_aio.testing import Emulator, RunningEmulator, serve

from .conftest import (
    ACCESS_TOKEN,
    ACCOUNT,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_URL,
    CREATED_SECRET,
    TOKEN_URL,
    client_body,
    error_body,
    token_body,
)

BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
ABSURD_DATE = "Mon, 999999999999999999999 Jan 2024 12:00:00 GMT"
QUICK = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.05, total_timeout=10)


def reachable_text(root: object, depth: int = 8) -> str:
    """Everything reachable from `root` by attributes, `__cause__`/`__context__`, mapping and
    sequence items and header pairs, as text: what an error tracker could serialise."""
    seen: set[int] = set()
    parts: list[str] = []

    def walk(obj: object, level: int) -> None:
        if level > depth or id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (str, bytes, int, float, bool)) or obj is None:
            parts.append(obj.decode("latin-1") if isinstance(obj, bytes) else str(obj))
            return
        if isinstance(obj, httpx.Headers):
            parts.extend(f"{k}: {v}" for k, v in obj.multi_items())
            return
        if isinstance(obj, BaseException):
            parts.append(str(obj))
            for link in (obj.__cause__, obj.__context__, obj.args):
                walk(link, level + 1)
        if isinstance(obj, dict):
            for key, value in obj.items():
                walk(key, level + 1)
                walk(value, level + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for item in obj:
                walk(item, level + 1)
        if isinstance(obj, httpx.Response):
            with_content = obj.content if obj.is_stream_consumed else b""
            walk(with_content, level + 1)
        for name in getattr(obj, "__dict__", {}):
            if name != "__traceback__":
                walk(getattr(obj, name), level + 1)
        for name in getattr(type(obj), "__slots__", ()):
            walk(getattr(obj, name, None), level + 1)

    walk(root, 0)
    return "\n".join(parts)


def assert_no_credential(error: BaseException, *extra: str) -> None:
    text = reachable_text(error)
    for secret in (CLIENT_SECRET, BASIC, ACCESS_TOKEN, CREATED_SECRET, *extra):
        assert secret not in text, f"{secret!r} is reachable from {type(error).__name__}"


def client_sockets(port: int) -> int:
    """Sockets this process holds open to `port` on loopback (the client side)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                count += remote_port == port and fields[9] in inodes
    return count


@pytest.fixture
def running() -> Iterator[RunningEmulator]:
    with serve(Emulator()) as running:
        yield running


def connect_to(running: RunningEmulator, **overrides: Any) -> Dintero:
    emulator = running.emulator
    settings: dict[str, Any] = {
        "account_id": emulator.account_id,
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "base_url": running.base_url,
        "retry": QUICK,
    }
    return Dintero(**{**settings, **overrides})


# --- shutdown --------------------------------------------------------------------------------


async def test_aclose_ends_callers_waiting_for_a_token_with_client_closed(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    never = asyncio.Event()

    async def token_endpoint(request: httpx.Request) -> httpx.Response:
        await never.wait()
        raise AssertionError("unreachable")

    httpx_mock.add_callback(token_endpoint, url=TOKEN_URL, is_optional=True)
    calls = [asyncio.ensure_future(dintero.clients.list()) for _ in range(5)]
    calls.append(asyncio.ensure_future(dintero.verify_credentials()))
    await asyncio.sleep(0.05)

    await dintero.aclose()

    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(type(result) is ClientClosedError for result in results), results
    assert not any(result.outcome_unknown for result in results)  # type: ignore[union-attr]
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []


async def test_aclose_ends_requests_in_flight_and_leaves_no_socket(
    running: RunningEmulator,
) -> None:
    emulator = running.emulator
    dintero = connect_to(running)
    await dintero.clients.list()  # a token, a pooled connection
    emulator.delay = 30.0  # every request from now on hangs in the server
    creates = [asyncio.ensure_future(dintero.clients.create(name=f"c{i}")) for i in range(4)]
    lists = [asyncio.ensure_future(dintero.clients.list()) for _ in range(4)]
    while emulator.received("create") + emulator.received("list") < 4 + 5:  # noqa: ASYNC110
        await asyncio.sleep(0.01)

    async with asyncio.timeout(5):  # it waits for the calls to unwind, not for the server
        await dintero.aclose()

    created = await asyncio.gather(*creates, return_exceptions=True)
    listed = await asyncio.gather(*lists, return_exceptions=True)
    assert all(type(result) is ClientClosedError for result in created + listed)
    assert all(result.outcome_unknown for result in created)  # type: ignore[union-attr]
    assert all("the request may have been sent" in str(result) for result in created)
    assert not any(result.outcome_unknown for result in listed)  # type: ignore[union-attr]
    assert client_sockets(running.port) == 0


async def test_calls_after_aclose_raise_client_closed_and_send_nothing(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    await dintero.aclose()
    for call in (
        dintero.clients.list(),
        dintero.clients.create(),
        dintero.with_options(timeout=5).clients.get("7f7f7f7f-0000-4000-8000-000000000000"),
        dintero.verify_credentials(),
    ):
        with pytest.raises(ClientClosedError):
            await call
    with pytest.raises(ClientClosedError):
        async with dintero:
            pass
    await dintero.aclose()  # idempotent
    assert httpx_mock.get_requests() == []


def test_an_instance_used_from_a_second_event_loop_says_so(httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=[])
    dintero = Dintero(account_id=ACCOUNT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    asyncio.run(dintero.clients.list())
    with pytest.raises(EventLoopError) as raised:
        asyncio.run(dintero.clients.list())
    assert str(raised.value) == (  # what to do, in words a user acts on
        "this Dintero instance belongs to the event loop it first ran on (its connections do "
        "too); make one instance per asyncio.run()"
    )
    assert isinstance(EventLoopError("x"), DinteroError)


# --- what a server sends ---------------------------------------------------------------------


async def test_an_unusable_retry_after_is_ignored(httpx_mock: HTTPXMock, dintero: Dintero) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    headers = {"Retry-After": ABSURD_DATE}
    httpx_mock.add_response(url=CLIENTS_URL, method="GET", status_code=503, headers=headers)
    httpx_mock.add_response(url=CLIENTS_URL, method="GET", json=[])
    assert await dintero.clients.list() == []  # retried after the policy's own wait

    httpx_mock.add_response(url=CLIENTS_URL, method="POST", status_code=429, headers=headers)
    httpx_mock.add_response(url=CLIENTS_URL, method="POST", status_code=500, headers=headers)
    with pytest.raises(InternalServerError) as info:
        await dintero.clients.create()
    assert info.value.outcome_unknown  # the 500 may have created it: not retried, flagged


@pytest.mark.parametrize("value", [ABSURD_DATE, "1e999", "nan", "-5", "Fri, 31 Dec 9999 23"])
async def test_rate_limit_with_odd_retry_after(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], value: str
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=429, headers={"Retry-After": value})
    with pytest.raises(RateLimitError) as info:
        await make_dintero(retry=RetryPolicy(max_retries=0)).clients.list()
    assert info.value.retry_after in (None, 0.0)


@pytest.mark.parametrize(
    "body", [b"[" * 1000 + b"]" * 1000, b'{"error": ' + b"[" * 5000 + b"]" * 5000 + b"}"]
)
async def test_deeply_nested_error_body_is_the_status_error(
    httpx_mock: HTTPXMock, dintero: Dintero, body: bytes
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=400, content=body)
    with pytest.raises(BadRequestError) as info:
        await dintero.clients.create()
    assert (info.value.code, info.value.message) == (None, None)


async def test_an_expires_in_that_does_not_fit_is_malformed(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    body = b'{"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 1' + b"0" * 309 + b"}"
    httpx_mock.add_response(url=TOKEN_URL, content=body)
    with pytest.raises(MalformedResponseError, match="expires_in"):
        await dintero.clients.list()
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []


@pytest.mark.parametrize("bad", ["tok\r\nX-Evil: 1", "tok\n", "tok\x00en", "tök", "tok en", ""])
async def test_a_token_that_cannot_be_a_header_is_malformed_and_never_quoted(
    httpx_mock: HTTPXMock, dintero: Dintero, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body(access_token=bad))
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.list()
    assert "token endpoint" in str(info.value) or "/auth/token" in str(info.value)
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []
    if bad:
        assert_no_credential(info.value, bad)
        assert not any(bad in record.getMessage() for record in caplog.records)


# --- bounded bodies --------------------------------------------------------------------------


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"[" + b" " * size + b"]", compresslevel=9)


async def test_a_2xx_body_past_the_limit_is_refused_without_reading_on(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    chunks_read = []

    def endless() -> Iterator[bytes]:
        yield b"["
        while True:
            chunks_read.append(1)
            yield b" " * 65536

    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, stream=IteratorStream(endless()))
    dintero = make_dintero(max_response_bytes=1_000_000)
    with pytest.raises(ResponseTooLargeError) as info:
        await dintero.clients.list()
    assert "1000000" in str(info.value)
    assert len(chunks_read) <= 1_000_000 // 65536 + 1  # the rest was never read


async def test_a_gzip_bomb_is_refused_with_flat_memory(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    bomb = gzip_bomb(200_000_000)  # about 200 KB on the wire, 200 MB inflated
    headers = {"Content-Encoding": "gzip"}
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]
    httpx_mock.add_response(url=CLIENTS_URL, stream=IteratorStream(chunks), headers=headers)
    dintero = make_dintero()
    await dintero.verify_credentials()
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            await dintero.clients.list()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 4 * 1024 * 1024  # a few times the 4 MiB default limit, not 200 MB


async def test_an_error_body_past_the_limit_is_cut_and_the_status_decides(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    body = gzip_bomb(50_000_000)
    httpx_mock.add_response(
        url=CLIENTS_URL,
        status_code=500,
        stream=IteratorStream([body]),
        headers={"Content-Encoding": "gzip"},
    )
    with pytest.raises(InternalServerError) as info:
        await make_dintero(max_response_bytes=10_000).clients.create()
    assert len(info.value.response.content) == 10_000
    assert info.value.outcome_unknown


async def test_max_response_bytes_is_checked() -> None:
    for bad in (0, -1, 1.5, "big", True):
        with pytest.raises(InvalidInputError, match="max_response_bytes"):
            Dintero(
                account_id=ACCOUNT,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                max_response_bytes=bad,
            )


# --- no credential reachable from an error ----------------------------------------------------


async def test_status_errors_carry_evidence_without_credentials(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=404, json=error_body("gone", "not_found"))
    with pytest.raises(DinteroError) as info:
        await dintero.clients.list()
    error = info.value
    assert_no_credential(error)
    assert "authorization" not in error.response.request.headers  # type: ignore[attr-defined]
    assert error.response.request.url == CLIENTS_URL  # type: ignore[attr-defined]
    assert error.response.json() == error_body("gone", "not_found")  # type: ignore[attr-defined]


async def test_token_endpoint_errors_do_not_carry_the_basic_credentials(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=401, json=error_body())
    with pytest.raises(DinteroError) as info:
        await dintero.clients.list()
    assert_no_credential(info.value)


async def test_connection_errors_do_not_chain_a_request_with_credentials(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_exception(httpx.ReadError("boom"), url=CLIENTS_URL, is_reusable=True)
    with pytest.raises(DinteroError) as info:
        await dintero.clients.list()
    assert isinstance(info.value.__cause__, httpx.ReadError)
    assert_no_credential(info.value)


async def test_a_malformed_create_answer_masks_the_secret_in_the_evidence(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, json=client_body(id="not-a-uuid"))
    with pytest.raises(MalformedResponseError) as info:
        await dintero.clients.create()
    assert_no_credential(info.value)
    assert info.value.outcome_unknown  # Dintero made the client; its secret is unreadable


async def test_a_loopback_base_url_is_never_proxied(
    running: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    connections = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(await reader.read(1000))
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    proxy_url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with server, connect_to(running) as dintero:
        await dintero.clients.list()
    assert connections == []


# --- outcome_unknown means exactly "may have reached the server, result unknown" -------------


async def test_a_create_that_timed_out_waiting_for_its_token_sent_nothing(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    async def slow_token(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        raise AssertionError("unreachable")

    httpx_mock.add_callback(slow_token, url=TOKEN_URL, is_optional=True)
    policy = RetryPolicy(max_retries=0, total_timeout=0.2)
    with pytest.raises(APITimeoutError) as info:
        await make_dintero(retry=policy).clients.create()
    assert not info.value.outcome_unknown
    assert httpx_mock.get_requests(url=CLIENTS_URL) == []


async def test_a_create_that_timed_out_in_flight_is_unknown(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    async def slow_create(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        raise AssertionError("unreachable")

    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_callback(slow_create, url=CLIENTS_URL)
    policy = RetryPolicy(max_retries=0, total_timeout=0.2)
    with pytest.raises(APITimeoutError) as info:
        await make_dintero(retry=policy).clients.create()
    assert info.value.outcome_unknown


# --- input and settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"timeout": 10**400}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": httpx.Timeout(10**400)}, "timeout"),
        ({"base_url": "https://xn--a.com/v1"}, "base_url"),
        ({"base_url": "https://a\x80b.com/v1"}, "base_url"),
        ({"client_id": "id\udc80"}, "client_id"),
        ({"client_secret": "secret\udcff"}, "client_secret"),
        ({"audience": "https://api.dintero.com/v1/accounts/T1\ud800"}, "audience"),
    ],
)
def test_bad_settings_are_invalid_input(settings: dict[str, Any], names: str) -> None:
    base = {"account_id": ACCOUNT, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    with pytest.raises(InvalidInputError, match=names) as info:
        Dintero(**{**base, **settings})
    assert info.value.__context__ is None or not isinstance(info.value.__context__, UnicodeError)
    assert "secret\udcff" not in reachable_text(info.value)


async def test_text_that_cannot_be_encoded_fails_before_any_request(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    with pytest.raises(InvalidInputError, match="name"):
        await dintero.clients.create(name="pos\ud800")
    with pytest.raises(InvalidInputError, match="callbacks"):
        await dintero.clients.create(callbacks=["https://example.com/\udc00"])
    assert httpx_mock.get_requests() == []


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((-1,), {}, "max_retries"),
        (("2",), {}, "max_retries"),
        ((True,), {}, "max_retries"),
        ((), {"initial_delay": 5, "max_delay": 1}, "initial_delay"),
        ((), {"total_timeout": 10**400}, "total_timeout"),
        ((), {"total_timeout": 0}, "total_timeout"),
        ((), {"max_delay": "soon"}, "max_delay"),
    ],
)
def test_bad_retry_policies_are_invalid_input_with_a_plain_message(
    args: tuple[Any, ...], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidInputError, match=words) as info:
        RetryPolicy(*args, **kwargs)
    assert "attr" not in str(info.value)
    assert "<class" not in str(info.value)


# --- the environment -------------------------------------------------------------------------

ENVIRONMENTS = [
    ("SSL_CERT_FILE", "/nonexistent/ca-bundle.pem"),
    ("SSL_CERT_FILE", __file__),  # a file, but not certificates
    ("ALL_PROXY", "socks5://user:hunter2@127.0.0.1:1080"),  # no socksio installed
    ("HTTPS_PROXY", "ftp://user:hunter2@127.0.0.1:21"),
]


@pytest.mark.parametrize(("name", "value"), ENVIRONMENTS)
def test_a_broken_environment_is_invalid_input_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInputError, match=name) as info:
        Dintero(account_id=ACCOUNT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert value not in reachable_text(info.value)
    assert "hunter2" not in reachable_text(info.value)


@pytest.mark.parametrize(("name", "value"), ENVIRONMENTS[::2])
def test_the_cli_reports_a_broken_environment_with_exit_2(name: str, value: str) -> None:
    env = {
        **os.environ,
        name: value,
        "DINTERO_ACCOUNT_ID": ACCOUNT,
        "DINTERO_CLIENT_ID": CLIENT_ID,
        "DINTERO_CLIENT_SECRET": CLIENT_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "dintero_aio", "clients", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert name in done.stderr
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr


def test_a_secret_that_is_not_utf8_is_invalid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("DINTERO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", os.fsdecode(b"secret-\xff-value"))
    with pytest.raises(InvalidInputError, match="DINTERO_CLIENT_SECRET") as info:
        Dintero.from_env()
    assert "secret-" not in reachable_text(info.value)


# --- nothing on stderr that the app did not ask for ---------------------------------------------


def test_retries_write_nothing_to_the_stderr_of_an_app_without_logging() -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, httpx
        from dintero_aio import Dintero, RetryPolicy
        answers = [
            httpx.Response(200, json={json.dumps(token_body())}),
            httpx.Response(503), httpx.Response(500), httpx.Response(200, json=[]),
        ]
        transport = httpx.MockTransport(lambda request: answers.pop(0))
        async def main():
            async with Dintero(
                account_id="{ACCOUNT}", client_id="id", client_secret="pw", transport=transport,
                retry=RetryPolicy(initial_delay=0.001, max_delay=0.01),
            ) as dintero:
                print(await dintero.clients.list())
        asyncio.run(main())
        """
    )
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[]", "")


async def test_nothing_above_info_is_logged_for_retries(
    httpx_mock: HTTPXMock, dintero: Dintero, caplog: pytest.LogCaptureFixture
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, status_code=503)
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=502)
    httpx_mock.add_response(url=CLIENTS_URL, json=[])
    await dintero.clients.list()
    assert [r for r in caplog.records if r.levelno > logging.INFO] == []
    assert any("retry 1 of 2" in r.getMessage() for r in caplog.records)


async def test_a_cookie_the_server_set_is_never_sent_back(
    httpx_mock: HTTPXMock, dintero: Dintero
) -> None:
    # httpx would keep it and fail to encode it into every later request (UnicodeEncodeError).
    httpx_mock.add_response(
        url=TOKEN_URL, json=token_body(), headers=[(b"Set-Cookie", b"\xff=\xfe")]
    )
    httpx_mock.add_response(
        url=CLIENTS_URL, status_code=503, headers=[(b"Set-Cookie", b"session=abc; Path=/")]
    )
    httpx_mock.add_response(url=CLIENTS_URL, json=[])
    assert await dintero.clients.list() == []
    assert all("cookie" not in request.headers for request in httpx_mock.get_requests())


@pytest.mark.parametrize("status", [507, 520, 599, 999])
async def test_an_unusual_5xx_on_create_leaves_the_outcome_unknown(
    httpx_mock: HTTPXMock, dintero: Dintero, status: int
) -> None:
    httpx_mock.add_response(url=TOKEN_URL, json=token_body())
    httpx_mock.add_response(url=CLIENTS_URL, status_code=status)
    with pytest.raises(InternalServerError) as info:
        await dintero.clients.create()
    assert info.value.outcome_unknown
    assert len(httpx_mock.get_requests(url=CLIENTS_URL)) == 1


async def test_a_protocol_error_quoting_the_servers_bytes_keeps_no_secret(
    make_dintero: Callable[..., Dintero],
) -> None:
    """Found by `make reliability`: a 429 whose Content-Length was short left the rest of its
    body, a client secret in it, on the connection; the retry read it as the next status line,
    and h11's message quoted it."""
    leaked = b'{"client_secret": "' + CREATED_SECRET.encode() + b'"}HTTP/1.1 200 OK'

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json=token_body())
        raise httpx.RemoteProtocolError(f"illegal status line: {bytearray(leaked)!r}")

    dintero = make_dintero(transport=httpx.MockTransport(answer))
    with pytest.raises(APIConnectionError) as info:
        await dintero.clients.create(name="pos")
    assert "RemoteProtocolError (https://api.dintero.com): illegal status line" in str(info.value)
    assert info.value.outcome_unknown  # the request was sent: it may have been processed
    assert CREATED_SECRET not in reachable_text(info.value)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)
