"""One partner instance serving 1,000 merchant accounts (`Dintero.for_account`).

Three figures:

- tokens: against the in-process emulator (a partner with `accounts` merchant accounts), two
  concurrent `clients.list()` per merchant account at once, then a second (warm) round; the
  emulator counts the partner-token and exchange-token requests it received. Goal: 1 partner
  token and one exchange per account, nothing more in the warm round.
- memory per cached account: on an `httpx.MockTransport` (so that only the SDK's memory is
  traced, not the emulator's), `tracemalloc`'s traced memory after `accounts` merchant views have
  each made one call (exchange token cached) minus before, after `gc.collect()`, divided by
  `accounts`. The exchange answers each account with its own TOKEN_CHARS-character token. The
  calls run one after another, so that what the event loop holds for a while after a burst
  (cancelled timers of finished calls, until it purges them) is not counted as per-account.
- per-call overhead: `await merchant.clients.list()` (a merchant view, token cached) vs
  `await direct.clients.list()` (a `Dintero` logged in to that merchant account directly) on the
  same kind of MockTransport returning the same body: the same request, the same work. Timed
  blocks interleaved A B B A; µs per call.

`python bench/partners.py [--quick]` runs this stage alone and prints its rows.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from common import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_BODY,
    Blocks,
    Row,
    markdown_table,
    paired_ratio,
    rounds,
    verdict,
)

from dintero_aio import Dintero
from dintero_aio.testing import Emulator

PARTNER = "P00000001"
MERCHANT = "T00000001"
LOOPBACK = "http://127.0.0.1/v1"  # the in-process emulator, under a URL base_url accepts
TOKEN_CHARS = 300  # about the emulator's JWT-shaped tokens
SIDES = ("merchant", "direct")
WARMUP = 50
_JSON = {"Content-Type": "application/json"}
LIST_BODY = json.dumps(
    [
        {
            "id": f"5f0c1f7e-3b8a-4a5e-9f7d-2c1e8b6a9d4{n}",
            "name": f"pos-{n}",
            "client_id": f"pos-{n}",
            "callbacks": ["https://example.com/callback"],
            "created_at": "2026-11-29T12:00:00.123Z",
            "updated_at": "2026-11-29T12:00:00.123Z",
            "created_by": CLIENT_ID,
        }
        for n in range(3)
    ]
).encode()


def merchant_ids(count: int) -> list[str]:
    return [f"T{n:08d}" for n in range(2, count + 2)]


@dataclass
class Result:
    accounts: int
    calls: int
    ok: int
    partner_tokens: int
    exchanges: int
    warm_extra: int  # token requests of either kind during the warm round
    bytes_per_account: float
    wall: dict[str, Blocks]


async def token_counts(accounts: int) -> tuple[int, int, int, int, int]:
    """(calls, ok, partner tokens, exchanges, tokens fetched in the warm round)."""
    ids = merchant_ids(accounts)
    emulator = Emulator(account_id=PARTNER, merchants=ids)
    async with Dintero(
        account_id=PARTNER,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        base_url=LOOPBACK,
        transport=emulator.transport(),
    ) as partner:
        calls = [partner.for_account(ids[i % accounts]).clients.list() for i in range(2 * accounts)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        ok = sum(result == [] for result in results)
        partner_tokens, exchanges = emulator.received("token"), emulator.received("exchange")
        await asyncio.gather(*(partner.for_account(i).clients.list() for i in ids))
        warm = emulator.received("token") + emulator.received("exchange")
    return len(results), ok, partner_tokens, exchanges, warm - partner_tokens - exchanges


def mock_transport(seen: Counter[str]) -> httpx.MockTransport:
    """Token, exchange (a distinct token per request) and list-clients answers."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/auth/token"):
            seen["token"] += 1
            return httpx.Response(200, content=TOKEN_BODY, headers=_JSON)
        if path.endswith("/auth/exchange_token"):
            seen["exchange"] += 1
            token = f"{seen['exchange']:x}".rjust(TOKEN_CHARS, "x")
            body = {"access_token": token, "token_type": "Bearer", "expires_in": 14400}
            return httpx.Response(200, json=body)
        seen["list"] += 1
        return httpx.Response(200, content=LIST_BODY, headers=_JSON)

    return httpx.MockTransport(handler)


def _partner(seen: Counter[str], account_id: str = PARTNER) -> Dintero:
    return Dintero(
        account_id=account_id,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url=BASE_URL,
        transport=mock_transport(seen),
    )


async def memory_per_account(accounts: int) -> float:
    """Bytes the SDK keeps per merchant account it has served (view, token cache, token)."""
    seen = Counter[str]()
    ids = merchant_ids(accounts + 1)  # the first one warms the code paths up
    async with _partner(seen) as partner:
        await partner.for_account(ids[0]).clients.list()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for account in ids[1:]:
            await partner.for_account(account).clients.list()
        await asyncio.sleep(0)  # let the loop drop the finished calls' callbacks and timers
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    if seen["exchange"] != accounts + 1 or seen["token"] != 1:
        raise RuntimeError(f"memory run: transport saw {dict(seen)}")
    return (after - before) / accounts


async def overhead(blocks: int, calls: int) -> dict[str, Blocks]:
    """`blocks` timed blocks of `calls` list calls per side, interleaved; µs per call."""
    seen = {side: Counter[str]() for side in SIDES}
    partner = _partner(seen["merchant"])
    direct = _partner(seen["direct"], MERCHANT)
    merchant = partner.for_account(MERCHANT)
    call: dict[str, Callable[[], Awaitable[Any]]] = {
        "merchant": merchant.clients.list,
        "direct": direct.clients.list,
    }
    for side in SIDES:
        for _ in range(WARMUP):
            if len(await call[side]()) != 3:
                raise RuntimeError(f"{side}: unexpected list result")
    results: dict[str, list[float]] = {side: [] for side in SIDES}
    for side in rounds(SIDES, blocks):
        one = call[side]
        await asyncio.sleep(0)  # let the loop drop the finished calls' timers, as real I/O does
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            await one()
        results[side].append((time.perf_counter() - start) / calls * 1e6)
    await partner.aclose()
    await direct.aclose()
    expected = WARMUP + blocks * calls
    for side in SIDES:
        if seen[side]["list"] != expected:
            raise RuntimeError(f"{side}: transport saw {dict(seen[side])}, expected {expected}")
    return {side: Blocks(values) for side, values in results.items()}


def measure(accounts: int, blocks: int, calls: int) -> Result:
    calls_made, ok, partner_tokens, exchanges, warm = asyncio.run(token_counts(accounts))
    return Result(
        accounts=accounts,
        calls=calls_made,
        ok=ok,
        partner_tokens=partner_tokens,
        exchanges=exchanges,
        warm_extra=warm,
        bytes_per_account=asyncio.run(memory_per_account(accounts)),
        wall=asyncio.run(overhead(blocks, calls)),
    )


def rows(result: Result) -> list[Row]:
    n = result.accounts
    tokens_ok = (
        result.partner_tokens == 1
        and result.exchanges == n
        and result.warm_extra == 0
        and result.ok == result.calls
    )
    out = [
        Row(
            f"5. Partner: token requests for {result.calls:,} concurrent calls on {n:,} merchant "
            "accounts (in-process emulator), then a warm round",
            f"1 partner + {result.exchanges:,} exchange ({result.ok:,}/{result.calls:,} ok); "
            f"warm round +{result.warm_extra}",
            "—",
            "—",
            f"1 + {n:,}; +0",
            verdict(tokens_ok),
        ),
        Row(
            "5. Partner: memory per cached merchant account, bytes (tracemalloc; view, token "
            f"cache and its {TOKEN_CHARS}-character token)",
            f"{result.bytes_per_account:,.0f}",
            "—",
            "—",
            "≤ 4,096",
            verdict(result.bytes_per_account <= 4096),
        ),
    ]
    merchant, direct = result.wall["merchant"], result.wall["direct"]
    for label, pick in (("median block", "median"), ("fastest fifth", "fastest_fifth")):
        m, d = getattr(merchant, pick), getattr(direct, pick)
        out.append(
            Row(
                f"5. Partner: in-memory µs per list call, merchant view vs direct login, {label}",
                f"{m:,.1f}",
                f"direct {d:,.1f}",
                f"{m / d:.2f}",
                "≤ 1.10",
                verdict(m / d <= 1.10),
            )
        )
    out.append(
        Row(
            "5. Partner: merchant vs direct, median of the ratios of adjacent blocks",
            "—",
            "—",
            f"{paired_ratio(merchant, direct):.2f}",
        )
    )
    return out


NOTES = """\
- 5: one partner `Dintero` (account P00000001) serves every merchant account through
  `for_account`. Token requests: the in-process emulator (`Emulator(account_id=..., merchants=...)`
  with `transport=emulator.transport()`) counts what it received; each merchant account gets two
  concurrent `clients.list()` in one `asyncio.gather`, then one more each (the warm round).
  Memory: `tracemalloc` traced memory after one `clients.list()` per account (one account after
  another) minus before (after `gc.collect()`, one account served before as a warm-up), on an
  `httpx.MockTransport` so that the emulator's own memory is not counted; it includes the
  account's view, token cache, token and its header string, the cache dict entries, and the
  SDK's URL cache entry for the account's path (`calls._target`, at most 512 entries).
  Overhead: the same `GET /accounts/T00000001/auth/clients` with the same 3-client body through a
  merchant view of the partner and through a `Dintero` logged in to the merchant account
  directly, both with their token cached; `python bench/partners.py` runs this stage alone.
"""


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    result = measure(1000, 6 if quick else 20, 100 if quick else 300)
    print(markdown_table(rows(result, verdict)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
