"""A local emulator of Dintero's management-auth API, for testing code that uses it.

Needs the `testing` extra: `pip install "dintero-aio[testing]"`.

The `Emulator` keeps one account's auth clients, client grants and tokens in memory (and, for a
partner account, those of each of its merchant accounts) and serves the ten operations of
`openapi.yaml` as Dintero documents them, with Dintero's error bodies: get a token; create,
list, get, delete and rotate the secret of auth clients; list, create and delete client grants;
and a partner's exchange token. State lives in the instance, so each test makes its own.

With pytest, the plugin that comes with the extra gives each test a fresh emulator and an SDK
client wired to it in-process, the way pytest-httpx gives `httpx_mock` (async tests need
pytest-asyncio, also part of the extra)::

    from dintero_aio import GrantSpec

    async def test_creates_a_client(dintero_client, dintero_emulator):
        await dintero_client.clients.create(
            name="pos", grants=[GrantSpec(audience=dintero_client.audience, scopes=["x"])]
        )
        assert [c.name for c in dintero_emulator.clients] == ["pos"]

- `dintero_emulator`: a fresh `Emulator()` (account T12345678, its admin credentials). To
  configure it, override the fixture in your conftest (`return Emulator(account_id=...)`);
  `dintero_client` then uses yours.
- `dintero_client`: a `Dintero` logged in with that emulator's admin credentials, on
  `IN_PROCESS_BASE_URL` through `emulator.transport()` (no socket), with retries that wait
  milliseconds, closed after the test.

The plugin loads through the `pytest11` entry point when dintero-aio is installed (`-p
no:dintero_aio.pytest_plugin` turns it off); it imports nothing from the extra until a
fixture is used, so it costs nothing in a suite that does not use it.

In-process by hand, with no socket (fast; use this by default)::

    from dintero_aio import Dintero
    from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

    emulator = Emulator()
    dintero = Dintero(
        account_id=emulator.account_id,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=IN_PROCESS_BASE_URL,  # a loopback URL: the SDK takes plain http only there
        transport=emulator.transport(),  # an httpx.ASGITransport; it ignores the host
    )

Raw httpx works the same way: `httpx.AsyncClient(transport=emulator.transport(),
base_url=IN_PROCESS_BASE_URL)`.

On a real loopback socket (to test timeouts and dropped connections for real)::

    from dintero_aio.testing import Emulator, serve

    with serve(Emulator()) as running:
        ...  # base_url=running.base_url, e.g. "http://127.0.0.1:54321/v1"

Or from a shell: `python -m dintero_aio.testing serve --port 8080` (`--help` for the options,
`--token-rate-limit N` among them). With `--host 0.0.0.0` it listens on all interfaces and says
so; the `base_url` it prints is still the loopback one a client on this machine uses (as is
`RunningEmulator.base_url`): 0.0.0.0 is not an address to connect to.

Logging in: HTTP Basic with `emulator.client_id` / `emulator.client_secret` (the account's admin
client: it needs no grant and its tokens carry the scope `admin:accounts`), or the `id` or
`client_id` and current secret of a client created through the API (a client created without a
`client_id` gets its `id` as its `client_id`, so what create returned always logs in), and the
audience
`https://api.dintero.com/v1/accounts/{account_id}` (`emulator.audience`, or
`emulator.audience_for(account_id)`) or the emulator's own URL as the request reached it (scheme
and Host header), `{base_url}/accounts/{account_id}`. Tokens last `expires_in` seconds;
`emulator.expire_tokens()` ends them all at once.

Client grants: a client created through the API gets a token only if it has a live client grant
whose audience is the requested one (either form above, on both sides) and whose type is `any`
(the default) or `client_credentials`; otherwise 403 with the code `missing_grant`. The token's
`scope` claim is the union of those grants' scopes (scopes are carried, not enforced). A grant's
`client_id` is the client's `id` (its uuid), as in Dintero's partner guide ("use the id from the
previous step as the client_id value"); creating a grant for a client id that is not a uuid is a
400, for a uuid that names no live client of the account a 404. Deleting a grant stops new
tokens; tokens already issued stay valid until they expire. Deleting a client deletes its grants
with it: they are no longer listed and never apply again. `Emulator(require_grants=False)`
lets every live client log in without a grant (scope `admin:accounts`), as before grants existed;
`emulator.add_grant(client, audience=None, scope=("admin:accounts",), type="any",
account_id=None)` grants a client directly, without a request, for tests about something else.

Partners: `Emulator(account_id="P00000001", merchants=["T00000002", ...])` or
`emulator.add_merchant("T00000002")` (P or T and 8 digits) makes the account a partner with
merchant accounts. `POST /accounts/{partner_id}/auth/exchange_token` with a token of the partner
and `{"account_id": "T00000002"}` returns a token for that merchant account, with the partner
token's scopes (403 for an account that is not one of the partner's merchants, 400 for a
malformed body, 401 for a bad or expired token). The exchanged token works on the merchant's
clients and grants directly, and also as a Bearer on the merchant's Get Token (step 3 of
Dintero's partner guide). Each account keeps its own clients and grants; a token only works on
its own account (403 elsewhere). Merchant accounts have no root credentials.

Checking what happened: `emulator.clients` and `emulator.grants` (the live clients created
through the API, secrets included, and the live grants of the emulator's account; the configured
credentials are not a listed client), `emulator.clients_of(account_id)` and
`emulator.grants_of(account_id)` (the same for any account, merchants included),
`emulator.received(op, account=None)` (requests that arrived, faulted ones included) and
`emulator.processed(op, account=None)` (requests that succeeded), for `op` in "token",
"create", "list", "get", "delete", "rotate", "grants_list", "grants_create", "grants_delete",
"exchange"; with `account`, only the requests whose path named that oid (for "exchange", the
partner's). `emulator.rate_limited(op, account=None)` counts the requests refused by the token
rate limit. `repr(emulator)` shows the account, its admin client id and the counts of live
clients and grants per account, never a secret, so a failing assertion says which emulator.

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

A fleet's stampede: `Emulator(token_rate_limit=N)` (or `emulator.token_rate_limit = N` at any
time) lets at most N token requests, Get Token and exchange together, per account in any
rolling second (the account in the path: the partner's, for an exchange); beyond that Dintero's
429 error body with `Retry-After` in whole seconds. Dintero documents that 429 on Get Token but
no numbers; the form is ours. Refused requests do not count against the limit.

Drops and resets are real under `serve()`: the socket is closed (or reset) and httpx raises
`RemoteProtocolError` (or `ReadError`). In-process the app raises those same httpx exceptions,
so client code sees the same types. (Under another server, or wrapped in middleware, a drop
is not possible and the raised exception ends up as a 500.) A delay only trips an httpx
timeout under `serve()`: ASGITransport ignores timeouts.

Rules the emulator chose where Dintero does not say (no source for any of them; each is the
choice that protects the user): checks run in the order token rate limit (when set),
authentication (401), oid pattern (400), account (403 for a well-formed oid of another account),
client or grant id (400 if not a uuid), body (400), existence (404). Listing grants documents no
400, so there a malformed oid is a 403. A `client_id` is unique in its account: creating a second
live client with one that a client of the account logs in with (a client_id, a client's id, the
admin's) is a 409 Conflict with the code `duplicate_client_id` (a well-formed request that only
the account's state refuses; a deleted client's client_id is free again). A client created
without a `client_id` gets its `id` as one (Dintero's response model always carries one). A
deleted client's grants are deleted with it. A `missing_grant` error names the audience the
request asked for, as it asked. A 405 lists in `Allow` every method the path supports. Tokens
stay valid until they expire, even if their client is deleted or rotated or their grant deleted;
a deleted or rotated-away secret gets no new token.
Secrets (client secrets, tokens, a grant's `oidc.client_secret`) never appear in a repr or a log
record of the emulator.
"""

try:  # the extra's packages, checked first so that a missing one names the extra to install
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ModuleNotFoundError as missing:
    raise ImportError(
        f"dintero_aio.testing needs the 'testing' extra ({missing.name} is not installed): "
        'pip install "dintero-aio[testing]"',
        name=missing.name,
    ) from missing

from .emulator import (
    DEFAULT_CLIENT_SECRET,
    DINTERO_API_URL,
    GRANT_TYPES,
    IN_PROCESS_BASE_URL,
    OPERATIONS,
    ROOT_SCOPES,
    CorruptMode,
    EmulatedClient,
    EmulatedGrant,
    EmulatedGrantOidc,
    Emulator,
    GrantType,
    Operation,
)
from .server import RunningEmulator, serve

__all__ = [
    "DEFAULT_CLIENT_SECRET",
    "DINTERO_API_URL",
    "GRANT_TYPES",
    "IN_PROCESS_BASE_URL",
    "OPERATIONS",
    "ROOT_SCOPES",
    "CorruptMode",
    "EmulatedClient",
    "EmulatedGrant",
    "EmulatedGrantOidc",
    "Emulator",
    "GrantType",
    "Operation",
    "RunningEmulator",
    "serve",
]
