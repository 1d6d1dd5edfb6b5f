"""Long lists: instructions per listed item, `clients.list()` vs the generated parser alone.

Each side handles the same JSON array of realistic ClientInfo objects (every field set), K times
with SHORT items and K times with LONG items; (I(LONG) - I(SHORT)) / (K * (LONG - SHORT)) is the
cost of one more item, free of the per-call cost (callgrind, see instructions.py).

- sdk:    `await dintero.clients.list()` on an `httpx.MockTransport` answering the array (token
          cached): the body limit, the generated parser and the SDK's type check of every item;
- parser: `aid_auth_clients_get._parse_response(client=..., response=httpx.Response(200,
          content=body))`: the generated code alone (`response.json()` and
          `ClientInfo.from_dict` per item), on a fresh response each call.

`python bench/listing.py --marks SIDE K` is the program callgrind counts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from common import (
    ACCOUNT_ID,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    TOKEN_BODY,
)
from instructions import mark

SIDES = ("sdk", "parser")
SHORT, LONG = 200, 1200
_JSON = {"Content-Type": "application/json"}


def items(count: int) -> bytes:
    """A JSON array of `count` ClientInfo objects, every field set."""
    return json.dumps(
        [
            {
                "id": f"5f0c1f7e-3b8a-4a5e-9f7d-{i:012x}",
                "name": f"pos-{i}",
                "description": "Till software",
                "client_id": f"pos-{i}",
                "callbacks": ["https://example.com/callback", "https://example.com/callback2"],
                "created_at": "2026-11-29T12:00:00.123Z",
                "updated_at": "2026-11-29T12:00:00.123Z",
                "created_by": CLIENT_ID,
            }
            for i in range(count)
        ]
    ).encode()


def make_side(side: str, body: list[bytes], seen: Counter[str]) -> Callable[[], Awaitable[Any]]:
    """One list call of `side`, answering with body[0] (the caller swaps it between sizes)."""
    if side == "parser":
        from dintero_aio_api import Client
        from dintero_aio_api.api.auth import aid_auth_clients_get

        client = Client(base_url=BASE_URL)
        request = httpx.Request("GET", BASE_URL)

        async def parser() -> Any:
            seen["list"] += 1
            response = httpx.Response(200, content=body[0], headers=_JSON, request=request)
            return aid_auth_clients_get._parse_response(client=client, response=response)

        return parser

    from dintero_aio import Dintero

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            seen["token"] += 1
            return httpx.Response(200, content=TOKEN_BODY, headers=_JSON)
        seen["list"] += 1
        return httpx.Response(200, content=body[0], headers=_JSON)

    dintero = Dintero(
        account_id=ACCOUNT_ID,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url=BASE_URL,
        transport=httpx.MockTransport(answer),
    )

    async def sdk() -> Any:
        return await dintero.clients.list()

    return sdk


async def _marked(side: str, k: int) -> dict[str, int]:
    """Warm-up on both sizes, mark, K calls on SHORT, mark, K calls on LONG, mark."""
    seen = Counter[str]()
    bodies = {n: items(n) for n in (SHORT, LONG)}
    body = [bodies[SHORT]]
    call = make_side(side, body, seen)
    checked = 0
    for n in (SHORT, LONG, SHORT):  # warm-up: every code path and cache
        body[0] = bodies[n]
        result = await call()
        if len(result) != n or str(result[-1].id)[-12:] != f"{n - 1:012x}":
            raise RuntimeError(f"{side}: unexpected list result")
        checked += 1
    gc.collect()
    for n in (SHORT, LONG):
        body[0] = bodies[n]
        mark()
        for _ in range(k):
            checked += len(await call()) == n
    mark()
    if seen["list"] != checked:
        raise RuntimeError(f"{side}: {seen['list']} calls, {checked} checked")
    return {"responses": checked}


def expected(k: int) -> int:
    return 3 + 2 * k


if __name__ == "__main__":
    assert sys.argv[1] == "--marks"
    print(json.dumps(asyncio.run(_marked(sys.argv[2], int(sys.argv[3])))))
