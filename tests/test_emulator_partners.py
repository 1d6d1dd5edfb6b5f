"""The emulator's partner accounts: merchants, the exchange token, and state per account."""

import base64
import json
from typing import Any

import httpx
import pytest

from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

PARTNER = "P00000001"
MERCHANT = "T00000002"
OTHER_MERCHANT = "T00000003"
STRANGER = "T99999999"


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(account_id=PARTNER, merchants=(MERCHANT, OTHER_MERCHANT))


def audience(account: str) -> str:
    return f"https://api.dintero.com/v1/accounts/{account}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def partner_token(api: httpx.AsyncClient, emulator: Emulator) -> str:
    response = await api.post(
        f"/accounts/{PARTNER}/auth/token",
        auth=(emulator.client_id, emulator.client_secret),
        json={"grant_type": "client_credentials", "audience": audience(PARTNER)},
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


async def exchange(
    api: httpx.AsyncClient, token: str, account: Any, partner: str = PARTNER
) -> httpx.Response:
    return await api.post(
        f"/accounts/{partner}/auth/exchange_token",
        headers=bearer(token),
        json={"account_id": account},
    )


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["message"]
    if code is not None:
        assert error["code"] == code


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    result: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return result


def test_merchants_are_configured_and_checked() -> None:
    emulator = Emulator(account_id=PARTNER, merchants=[MERCHANT])
    emulator.add_merchant(OTHER_MERCHANT)
    assert emulator.merchants == (MERCHANT, OTHER_MERCHANT)
    assert Emulator().merchants == ()
    assert emulator.audience_for(MERCHANT) == audience(MERCHANT)
    for bad in ("T123", "X00000002", "T000000020"):
        with pytest.raises(ValueError, match="8 digits"):
            emulator.add_merchant(bad)
    for taken in (PARTNER, MERCHANT):
        with pytest.raises(ValueError, match="already"):
            emulator.add_merchant(taken)
    with pytest.raises(ValueError, match="not an account"):
        emulator.clients_of(STRANGER)
    with pytest.raises(ValueError, match="8 digits"):
        Emulator(merchants=["P123"])


async def test_exchange_for_an_own_merchant_gives_a_token_for_it(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str
) -> None:
    response = await exchange(api, partner_token, MERCHANT)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == emulator.expires_in
    payload = claims(body["access_token"])
    assert payload["aud"] == audience(MERCHANT)
    assert payload["sub"] == emulator.client_id
    assert payload["scope"] == "admin:accounts"  # the partner token's scopes
    assert emulator.received("exchange") == emulator.processed("exchange") == 1
    assert emulator.processed("exchange", account=PARTNER) == 1
    assert emulator.processed("exchange", account=MERCHANT) == 0


async def test_the_merchant_token_operates_on_the_merchant_s_clients_and_grants(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str
) -> None:
    merchant = bearer((await exchange(api, partner_token, MERCHANT)).json()["access_token"])
    base = f"/accounts/{MERCHANT}/auth"
    made = await api.post(f"{base}/clients", headers=merchant, json={"client_id": "shop-1"})
    assert made.status_code == 200
    created = made.json()
    assert [c.id for c in emulator.clients_of(MERCHANT)] == [created["id"]]
    assert emulator.clients == []  # the partner's own clients
    assert emulator.clients_of(OTHER_MERCHANT) == []
    assert [c["id"] for c in (await api.get(f"{base}/clients", headers=merchant)).json()] == [
        created["id"]
    ]
    got = await api.get(f"{base}/clients/{created['id']}", headers=merchant)
    assert got.status_code == 200
    grant = await api.post(
        f"{base}/client-grants",
        headers=merchant,
        json={"client_id": created["id"], "audience": audience(MERCHANT), "scope": ["s"]},
    )
    assert grant.status_code == 200
    assert [g.id for g in emulator.grants_of(MERCHANT)] == [grant.json()["id"]]
    assert emulator.grants == []

    # The merchant's client logs in to the merchant account, not to the partner's.
    login = {"grant_type": "client_credentials", "audience": audience(MERCHANT)}
    credentials = ("shop-1", created["client_secret"])
    token = await api.post(f"{base}/token", auth=credentials, json=login)
    assert token.status_code == 200
    elsewhere = await api.post(f"/accounts/{PARTNER}/auth/token", auth=credentials, json=login)
    assert_error(elsewhere, 403, "forbidden")

    rotated = await api.post(f"{base}/clients/{created['id']}/rotate-secret", headers=merchant)
    assert rotated.status_code == 200
    assert emulator.clients_of(MERCHANT)[0].client_secret == rotated.json()["client_secret"]
    listed = await api.get(f"{base}/client-grants", headers=merchant)
    assert len(listed.json()) == 1
    deleted = await api.delete(f"{base}/client-grants/{grant.json()['id']}", headers=merchant)
    assert deleted.status_code == 200
    assert (
        await api.delete(f"{base}/clients/{created['id']}", headers=merchant)
    ).status_code == 200
    assert emulator.clients_of(MERCHANT) == []
    for op in ("create", "list", "get", "rotate", "delete", "grants_create", "grants_delete"):
        assert emulator.processed(op, account=MERCHANT) == 1, op  # type: ignore[arg-type]
        assert emulator.processed(op, account=PARTNER) == 0, op  # type: ignore[arg-type]


async def test_a_token_works_only_on_its_own_account(
    api: httpx.AsyncClient, partner_token: str
) -> None:
    merchant = (await exchange(api, partner_token, MERCHANT)).json()["access_token"]
    for token, account in (
        (merchant, PARTNER),
        (merchant, OTHER_MERCHANT),
        (partner_token, MERCHANT),
    ):
        for method, path in (("GET", "clients"), ("GET", "client-grants"), ("POST", "clients")):
            response = await api.request(
                method, f"/accounts/{account}/auth/{path}", headers=bearer(token), json={}
            )
            assert_error(response, 403, "forbidden")


@pytest.mark.parametrize("account", [STRANGER, PARTNER, "P00000000"])
async def test_exchange_for_an_account_that_is_not_a_merchant_is_403(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str, account: str
) -> None:
    assert_error(await exchange(api, partner_token, account), 403, "forbidden")
    assert emulator.processed("exchange") == 0


async def test_a_merchant_token_cannot_exchange(api: httpx.AsyncClient, partner_token: str) -> None:
    merchant = (await exchange(api, partner_token, MERCHANT)).json()["access_token"]
    assert_error(await exchange(api, merchant, OTHER_MERCHANT), 403, "forbidden")
    mine = await exchange(api, merchant, OTHER_MERCHANT, partner=MERCHANT)
    assert_error(mine, 403, "forbidden")


async def test_a_partner_without_merchants_can_exchange_nothing() -> None:
    emulator = Emulator()
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        token = await api.post(
            f"/accounts/{emulator.account_id}/auth/token",
            auth=(emulator.client_id, emulator.client_secret),
            json={"grant_type": "client_credentials", "audience": emulator.audience},
        )
        response = await exchange(
            api, token.json()["access_token"], MERCHANT, partner=emulator.account_id
        )
        assert_error(response, 403, "forbidden")


async def test_exchange_needs_a_valid_partner_token(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str
) -> None:
    assert_error(await exchange(api, "not-a-token", MERCHANT), 401, "unauthorized")
    no_header = await api.post(
        f"/accounts/{PARTNER}/auth/exchange_token", json={"account_id": MERCHANT}
    )
    assert_error(no_header, 401, "unauthorized")
    assert_error(await exchange(api, partner_token, MERCHANT, partner="P1"), 400, "invalid_oid")
    assert_error(await exchange(api, partner_token, MERCHANT, partner=STRANGER), 403)
    emulator.expire_tokens()
    assert_error(await exchange(api, partner_token, MERCHANT), 401, "unauthorized")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        json.dumps({}).encode(),
        json.dumps({"account_id": 2}).encode(),
        json.dumps({"account_id": "T123"}).encode(),
        json.dumps({"account_id": "X00000002"}).encode(),
        json.dumps({"account_id": f"{MERCHANT}\n"}).encode(),
    ],
)
async def test_exchange_rejects_a_malformed_body_with_400(
    api: httpx.AsyncClient, partner_token: str, content: bytes
) -> None:
    response = await api.post(
        f"/accounts/{PARTNER}/auth/exchange_token", headers=bearer(partner_token), content=content
    )
    assert_error(response, 400)


async def test_an_exchanged_token_also_gets_a_merchant_token_from_get_token(
    api: httpx.AsyncClient, partner_token: str
) -> None:
    """Step 3 of Dintero's partner guide: Get Token with the exchanged token as Bearer."""
    merchant = (await exchange(api, partner_token, MERCHANT)).json()["access_token"]
    login = {"grant_type": "client_credentials", "audience": audience(MERCHANT)}
    response = await api.post(
        f"/accounts/{MERCHANT}/auth/token", headers=bearer(merchant), json=login
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    assert (
        await api.get(f"/accounts/{MERCHANT}/auth/clients", headers=bearer(token))
    ).status_code == 200
    wrong = await api.post(
        f"/accounts/{OTHER_MERCHANT}/auth/token", headers=bearer(merchant), json=login
    )
    assert_error(wrong, 403, "forbidden")


async def test_faults_on_exchange(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str
) -> None:
    emulator.fail_next("exchange", status=429)
    limited = await exchange(api, partner_token, MERCHANT)
    assert_error(limited, 429, "too_many_requests")
    assert limited.headers["retry-after"] == "1"

    emulator.drop_next("exchange", reset=True)
    with pytest.raises(httpx.ReadError):
        await exchange(api, partner_token, MERCHANT)

    emulator.corrupt_next("exchange")
    truncated = await exchange(api, partner_token, MERCHANT)
    assert truncated.status_code == 200
    assert truncated.content.startswith(b'{"access_token"')
    with pytest.raises(json.JSONDecodeError):
        truncated.json()

    emulator.delay_next("exchange", 0.05)
    assert (await exchange(api, partner_token, MERCHANT)).status_code == 200
    assert emulator.received("exchange", account=PARTNER) == 4
    assert emulator.processed("exchange") == 2  # the corrupted one was processed


async def test_a_client_id_is_unique_per_account_not_across_accounts(
    api: httpx.AsyncClient, emulator: Emulator, partner_token: str
) -> None:
    merchant = bearer((await exchange(api, partner_token, MERCHANT)).json()["access_token"])
    for account, headers in ((PARTNER, bearer(partner_token)), (MERCHANT, merchant)):
        url = f"/accounts/{account}/auth/clients"
        assert (
            await api.post(url, headers=headers, json={"client_id": "pos-1"})
        ).status_code == 200
        again = await api.post(url, headers=headers, json={"client_id": "pos-1"})
        assert_error(again, 409, "duplicate_client_id")
    # The admin's login is reserved in the partner's own account only.
    partner_admin = await api.post(
        f"/accounts/{PARTNER}/auth/clients",
        headers=bearer(partner_token),
        json={"client_id": emulator.client_id},
    )
    assert_error(partner_admin, 409, "duplicate_client_id")
    merchant_admin = await api.post(
        f"/accounts/{MERCHANT}/auth/clients",
        headers=merchant,
        json={"client_id": emulator.client_id},
    )
    assert merchant_admin.status_code == 200
    assert [len(emulator.clients_of(a)) for a in (PARTNER, MERCHANT)] == [1, 2]


async def test_the_token_rate_limit_is_one_budget_per_account_for_token_and_exchange() -> None:
    emulator = Emulator(account_id=PARTNER, merchants=[MERCHANT], token_rate_limit=2)
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url=IN_PROCESS_BASE_URL
    ) as api:
        login = {"grant_type": "client_credentials", "audience": audience(PARTNER)}
        token = await api.post(
            f"/accounts/{PARTNER}/auth/token",
            auth=(emulator.client_id, emulator.client_secret),
            json=login,
        )
        partner_token = token.json()["access_token"]
        exchanged = await exchange(api, partner_token, MERCHANT)
        assert exchanged.status_code == 200
        limited = await exchange(api, partner_token, MERCHANT)  # the partner's third
        assert_error(limited, 429, "too_many_requests")
        assert limited.headers["retry-after"] == "1"
        # The merchant account has a budget of its own (Get Token with the exchanged token).
        merchant_login = {"grant_type": "client_credentials", "audience": audience(MERCHANT)}
        merchant_token = bearer(exchanged.json()["access_token"])
        for _ in range(2):
            response = await api.post(
                f"/accounts/{MERCHANT}/auth/token", headers=merchant_token, json=merchant_login
            )
            assert response.status_code == 200
    assert emulator.rate_limited("exchange", account=PARTNER) == 1
    assert emulator.rate_limited("exchange", account=MERCHANT) == 0
    assert emulator.rate_limited("token") == 0
    assert (emulator.processed("token"), emulator.processed("exchange")) == (3, 1)
