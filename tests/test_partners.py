"""A partner's merchant accounts: `Dintero.for_account`, exchange tokens per account, and which
token is refreshed when; on pytest-httpx (what is sent) and on the emulator (what it counts)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpx import HTTPXMock

from dintero_aio import (
    AuthenticationError,
    ClientClosedError,
    Dintero,
    GrantSpec,
    InvalidInputError,
    MerchantAccount,
    PermissionDeniedError,
    RetryPolicy,
)
from dintero_aio.testing import Emulator

from .conftest import BASE_URL, client_body, token_body

PARTNER = "P00000001"
MERCHANT = "T00000002"
#: Fifty merchant accounts of the partner, MERCHANT first.
MERCHANTS = tuple(f"T{n:08d}" for n in range(2, 52))
LOOPBACK = "http://127.0.0.1/v1"
PARTNER_TOKEN = "partner-token-71c2"
MERCHANT_TOKEN = "merchant-token-3a9f"
EXCHANGE_URL = f"{BASE_URL}/accounts/{PARTNER}/auth/exchange_token"


# What is sent (pytest-httpx).


async def test_a_merchant_call_exchanges_the_partner_token_once(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero]
) -> None:
    partner = make_dintero(account_id=PARTNER)
    httpx_mock.add_response(
        url=f"{BASE_URL}/accounts/{PARTNER}/auth/token", json=token_body(PARTNER_TOKEN)
    )
    httpx_mock.add_response(url=EXCHANGE_URL, json=token_body(MERCHANT_TOKEN))
    clients_url = f"{BASE_URL}/accounts/{MERCHANT}/auth/clients"
    httpx_mock.add_response(url=clients_url, json=[client_body()], is_reusable=True)

    merchant = partner.for_account(MERCHANT)
    assert httpx_mock.get_requests() == []  # nothing is sent before the first call
    for _ in range(3):
        await merchant.clients.list()

    token, exchange, *calls = httpx_mock.get_requests()
    assert json.loads(token.content)["audience"] == f"{BASE_URL}/accounts/{PARTNER}"
    assert exchange.url == EXCHANGE_URL
    assert exchange.headers["Authorization"] == f"Bearer {PARTNER_TOKEN}"
    assert json.loads(exchange.content) == {"account_id": MERCHANT}
    assert [(c.url, c.headers["Authorization"]) for c in calls] == [
        (clients_url, f"Bearer {MERCHANT_TOKEN}")
    ] * 3


# for_account: checks, caching, sharing.


@pytest.mark.parametrize(
    ("account_id", "says"),
    [
        ("T123", "8 digits"),  # an oid may have 3 digits; a merchant (sub-)account never does
        ("X00000002", "8 digits"),
        ("T0000000", "8 digits"),
        ("t00000002", "8 digits"),
        ("T00000002\n", "8 digits"),
        ("", "8 digits"),
        (None, "8 digits"),
        (2, "8 digits"),
        (PARTNER, "own account"),
    ],
)
async def test_for_account_checks_the_id_before_sending(
    httpx_mock: HTTPXMock, make_dintero: Callable[..., Dintero], account_id: Any, says: str
) -> None:
    partner = make_dintero(account_id=PARTNER)
    with pytest.raises(InvalidInputError, match=says):
        partner.for_account(account_id)
    assert httpx_mock.get_requests() == []


def test_for_account_returns_one_view_per_account(make_dintero: Callable[..., Dintero]) -> None:
    partner = make_dintero(account_id=PARTNER)
    merchant = partner.for_account(MERCHANT)
    assert isinstance(merchant, MerchantAccount)
    assert all(partner.for_account(MERCHANT) is merchant for _ in range(3))
    assert partner.for_account("P00000002") is not merchant
    assert (merchant.account_id, merchant.partner_id) == (MERCHANT, PARTNER)
    assert merchant.audience == f"{BASE_URL}/accounts/{MERCHANT}"
    assert repr(merchant) == f"MerchantAccount(account_id={MERCHANT!r}, partner_id={PARTNER!r})"
    assert not hasattr(merchant, "__dict__")  # slots: small per account


# On the emulator.


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(account_id=PARTNER, merchants=MERCHANTS)


@pytest.fixture
def partner(emulator: Emulator, make_dintero: Callable[..., Dintero]) -> Dintero:
    return make_dintero(
        account_id=PARTNER,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=LOOPBACK,
        transport=emulator.transport(),
    )


def counts(emulator: Emulator) -> tuple[int, int]:
    """(partner tokens, exchange tokens) the emulator received."""
    return emulator.received("token"), emulator.received("exchange")


async def test_merchant_clients_and_grants_act_on_the_merchant_account(
    partner: Dintero, emulator: Emulator, make_dintero: Callable[..., Dintero]
) -> None:
    merchant = partner.for_account(MERCHANT)
    spec = GrantSpec(audience=merchant.audience, scopes=["admin:accounts"])
    created = await merchant.clients.create(name="till", grants=[spec])

    assert [c.id for c in emulator.clients_of(MERCHANT)] == [str(created.client.id)]
    assert emulator.clients == []  # nothing on the partner's own account
    assert [g.id for g in await merchant.grants.list()] == [created.grants[0].id]
    assert await partner.grants.list() == []
    assert await merchant.verify_credentials() == emulator.expires_in
    # The merchant's new client logs in to the merchant account with its own secret.
    own = make_dintero(
        account_id=MERCHANT,
        client_id=str(created.client.id),
        client_secret=created.client.client_secret,
        base_url=LOOPBACK,
        transport=emulator.transport(),
    )
    assert [c.name for c in await own.clients.list()] == ["till"]
    await merchant.clients.rotate_secret(created.client.id)
    await merchant.grants.delete(created.grants[0].id)
    await merchant.clients.delete(created.client.id)
    assert emulator.clients_of(MERCHANT) == []
    assert counts(emulator) == (2, 1)  # partner + the merchant's own client; one exchange


async def test_1000_concurrent_calls_on_50_merchants_fetch_50_exchanges_and_1_partner_token(
    partner: Dintero, emulator: Emulator
) -> None:
    merchants = [partner.for_account(account) for account in MERCHANTS]

    results = await asyncio.gather(*(merchants[i % 50].clients.list() for i in range(1000)))

    assert results == [[]] * 1000
    assert counts(emulator) == (1, 50)
    assert emulator.processed("exchange", account=PARTNER) == 50
    for account in MERCHANTS:
        assert emulator.processed("list", account=account) == 20
    # Warm: another round fetches nothing.
    await asyncio.gather(*(m.verify_credentials() for m in merchants))
    assert counts(emulator) == (1, 50)


async def test_a_view_with_other_options_shares_the_merchant_token(
    partner: Dintero, emulator: Emulator
) -> None:
    merchant = partner.for_account(MERCHANT)
    await merchant.clients.list()
    patient = partner.with_options(retry=RetryPolicy(total_timeout=300)).for_account(MERCHANT)
    assert patient is not merchant
    await patient.clients.list()
    assert counts(emulator) == (1, 1)


async def test_a_401_on_a_merchant_call_refreshes_only_the_merchant_token(
    partner: Dintero, emulator: Emulator
) -> None:
    merchant = partner.for_account(MERCHANT)
    await merchant.clients.list()
    emulator.fail_next("list", status=401)

    assert await merchant.clients.list() == []

    assert emulator.received("list") == 3  # the first call, the 401, the replay
    assert counts(emulator) == (1, 2)


async def test_a_401_on_the_exchange_refreshes_the_partner_token_once(
    partner: Dintero, emulator: Emulator
) -> None:
    await partner.verify_credentials()
    emulator.fail_next("exchange", status=401)

    assert await partner.for_account(MERCHANT).verify_credentials() == emulator.expires_in

    assert counts(emulator) == (2, 2)


async def test_a_merchant_token_check_is_retried_and_named_as_one(
    partner: Dintero, emulator: Emulator
) -> None:
    """A 503 from the exchange is retried under the view's policy (as the partner's own check
    is); a check that aclose() stops says it was the token check."""
    emulator.fail_next("exchange", status=503)
    assert await partner.for_account(MERCHANT).verify_credentials() == emulator.expires_in
    assert counts(emulator) == (1, 2)

    emulator.delay_next("exchange", 30)
    check = asyncio.ensure_future(partner.for_account("T00000003").verify_credentials())
    for _ in range(500):  # until the exchange is under way
        if emulator.received("exchange") == 3:
            break
        await asyncio.sleep(0.01)
    await partner.aclose()
    with pytest.raises(ClientClosedError) as info:
        await check
    assert str(info.value) == "token check: the client was closed during the call"


async def test_a_persistent_401_on_the_exchange_refreshes_the_partner_token_only_once(
    partner: Dintero, emulator: Emulator
) -> None:
    emulator.fail_next("exchange", status=401, times=5)
    with pytest.raises(AuthenticationError):
        await partner.for_account(MERCHANT).clients.list()
    assert counts(emulator) == (2, 2)
    assert emulator.received("list") == 0


async def test_revoked_tokens_are_replaced_merchant_first_then_partner(
    partner: Dintero, emulator: Emulator
) -> None:
    merchant = partner.for_account(MERCHANT)
    await merchant.clients.list()
    emulator.expire_tokens()  # both tokens, on the server only

    assert await merchant.clients.list() == []

    # The 401 on the list drops the merchant token; its exchange gets a 401 for the partner
    # token, which is refreshed once; the exchange and the list are replayed once each.
    assert counts(emulator) == (2, 3)
    assert emulator.received("list") == 3


async def test_an_account_that_is_not_the_partners_is_refused(
    partner: Dintero, emulator: Emulator
) -> None:
    with pytest.raises(PermissionDeniedError, match="not a merchant account"):
        await partner.for_account("T99999999").clients.list()
    assert emulator.received("list") == 0


async def test_closing_the_partner_closes_its_merchants(
    partner: Dintero, emulator: Emulator
) -> None:
    merchant = partner.for_account(MERCHANT)
    await merchant.verify_credentials()
    emulator.delay_next("list", 30)
    call = asyncio.create_task(merchant.clients.list())
    for _ in range(500):  # until the request is at the (slow) server
        if emulator.received("list"):
            break
        await asyncio.sleep(0.01)

    await partner.aclose()

    with pytest.raises(ClientClosedError):
        await call
    with pytest.raises(ClientClosedError):
        await merchant.grants.list()
