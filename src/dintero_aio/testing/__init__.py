"""A local emulator of Dintero's management-auth API, for testing code that uses it.

Needs the `testing` extra: `pip install "dintero-aio[testing]"`.

The `Emulator` keeps one account's auth clients and tokens in memory and serves the six
operations of `openapi.yaml` (get a token; create, list, get, delete and rotate the secret of
auth clients) as Dintero documents them, with Dintero's error bodies. State lives in the
instance, so each test makes its own.

In-process, with no socket (fast; use this by default)::

    import httpx
    import pytest
    from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

    @pytest.fixture
    async def api(emulator):  # emulator: a fixture returning Emulator()
        transport = emulator.transport()  # an httpx.ASGITransport; any host works
        async with httpx.AsyncClient(transport=transport, base_url=IN_PROCESS_BASE_URL) as client:
            yield client  # or hand the transport and base URL to the SDK

On a real loopback socket (to test timeouts and dropped connections for real)::

    from dintero_aio.testing import Emulator, serve

    with serve(Emulator()) as running:
        ...  # base_url=running.base_url, e.g. "http://127.0.0.1:54321/v1"

Or from a shell: `python -m dintero_aio.testing serve --port 8080`.

Logging in: HTTP Basic with `emulator.client_id` / `emulator.client_secret` (or the `id` or
`client_id` and current secret of a client created through the API), and the audience
`https://api.dintero.com/v1/accounts/{account_id}` (`emulator.audience`) or the emulator's own
URL as the request reached it (scheme and Host header), `{base_url}/accounts/{account_id}`.
Tokens last `expires_in` seconds; `emulator.expire_tokens()` ends them all at once.

Checking what happened: `emulator.clients` (the live clients created through the API, secrets
included; the configured credentials are not a listed client),
`emulator.received(op)` (requests that arrived, faulted ones included) and
`emulator.processed(op)` (requests that succeeded), for `op` in "token", "create", "list",
"get", "delete", "rotate".

Making it fail: faults queue per operation and each is used by the next request(s) of it:

- `fail_next(op, status=503, times=1, retry_after=None)`: Dintero's error body, not processed;
  a 429 always has `Retry-After`.
- `respond_next(op, status=418, body=b"...", headers={...})`: any other response.
- `drop_next(op, after_processing=False, reset=False)`: the connection is closed (or with
  `reset=True`, reset) with no response; with `after_processing=True` the request took effect
  first (a create made the client).
- `delay_next(op, seconds, after_processing=False)` and `emulator.delay = seconds` (all
  requests): a slow server.
- `corrupt_next(op, mode="truncated" | "not_json")`: processed, then a broken body.

Drops and resets are real under `serve()`: the socket is closed (or reset) and httpx raises
`RemoteProtocolError` (or `ReadError`). In-process the app raises those same httpx exceptions,
so client code sees the same types. (Under another server, or wrapped in middleware, a drop
is not possible and the raised exception ends up as a 500.) A delay only trips an httpx
timeout under `serve()`: ASGITransport ignores timeouts.

Rules the emulator chose where Dintero does not say: checks run in the order authentication
(401), oid pattern (400), account (403 for a well-formed oid of another account), client id
(400 if not a uuid), body (400), existence (404). Tokens stay valid until they expire, even if
their client is deleted or rotated; a deleted or rotated-away secret gets no new token.
"""

from .emulator import (
    DEFAULT_CLIENT_SECRET,
    DINTERO_API_URL,
    IN_PROCESS_BASE_URL,
    OPERATIONS,
    CorruptMode,
    EmulatedClient,
    Emulator,
    Operation,
)
from .server import RunningEmulator, serve

__all__ = [
    "DEFAULT_CLIENT_SECRET",
    "DINTERO_API_URL",
    "IN_PROCESS_BASE_URL",
    "OPERATIONS",
    "CorruptMode",
    "EmulatedClient",
    "Emulator",
    "Operation",
    "RunningEmulator",
    "serve",
]
