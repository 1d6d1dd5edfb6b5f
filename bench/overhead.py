"""Per-call overhead on an in-memory transport: `dintero.clients.create` vs raw httpx.

Every side talks to its own `httpx.MockTransport`, which answers the token endpoint with a token
and the create endpoint with a realistic ClientWithSecret body, so what is measured is the
client-side work of one call. Sides (issue 12's three baselines, and one informational):

- sdk:       `await dintero.clients.create(...)`, token cached after the warm-up;
- raw-rel:   (a) `httpx.AsyncClient(base_url=..., headers={Authorization: Bearer ...})`,
             `await raw.post("/accounts/.../auth/clients", json=...)` then `.json()`: httpx
             parses the relative URL and merges it with base_url on every call;
- raw-abs:   (b) `httpx.AsyncClient(headers={Authorization: ...})`, `await raw.post(URL,
             json=...)` with `URL` an `httpx.URL` parsed once, then `.json()`;
- raw-model: (c) (b) and `ClientWithSecret.from_dict(...)` of the body (the generated model);
- raw-same:  (d) (c) sending the SDK's header lines (User-Agent, Dintero-System-Name/-Version,
             Accept-Encoding "gzip, deflate" as client headers): the same bytes on the wire.

`python bench/overhead.py SIDE N` runs a 50-call warm-up, then N calls, and prints one JSON line
(responses seen by the transport, peak RSS): the subprocess used for memory.
`python bench/overhead.py --marks SIDE N` runs the warm-up, N calls and 6N calls with a mark
after each (see instructions.py): the program callgrind counts.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from common import (
    ACCESS_TOKEN,
    ACCOUNT_ID,
    BASE_URL,
    BENCH_DIR,
    CLIENT_ID,
    CLIENT_SECRET,
    CLIENTS_PATH,
    CLIENTS_URL,
    CREATE_ARGS,
    CREATED_BODY,
    PYTHON,
    TOKEN_BODY,
    Blocks,
    rounds,
)
from instructions import marked_calls

SIDES = ("sdk", "raw-rel", "raw-abs", "raw-model")  # timed in-memory; callgrind adds raw-same
CALLGRIND_SIDES = (*SIDES, "raw-same")
LETTER = {"raw-rel": "a", "raw-abs": "b", "raw-model": "c", "raw-same": "d"}
WARMUP = 50
_JSON = {"Content-Type": "application/json"}


def mock_transport(
    seen: Counter[str], *, suspend: bool = False, sent: list[httpx.Request] | None = None
) -> httpx.MockTransport:
    """Answers the token endpoint and creates, counting both. `suspend`: every answer yields to
    the event loop once, as real I/O does (see concurrency.py). `sent`: keeps the first create
    request, to show which headers a side sends."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/auth/token"):
            seen["token"] += 1
            return httpx.Response(200, content=TOKEN_BODY, headers=_JSON)
        seen["create"] += 1
        if sent is not None and not sent:
            sent.append(request)
        return httpx.Response(200, content=CREATED_BODY, headers=_JSON)

    if not suspend:
        return httpx.MockTransport(answer)

    async def answer_later(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)
        return answer(request)

    return httpx.MockTransport(answer_later)


def sdk_headers() -> dict[str, str]:
    """The client-level headers the SDK sends (raw-same sends the same lines)."""
    from dintero_aio import __version__

    return {
        "User-Agent": f"dintero-aio/{__version__}",
        "Dintero-System-Name": "dintero-aio",
        "Dintero-System-Version": __version__,
        "Accept-Encoding": "gzip, deflate",
    }


def make_side(
    side: str, transport: httpx.AsyncBaseTransport
) -> tuple[Callable[[], Awaitable[Any]], Any]:
    """(one call, the object to close) for `side`."""
    if side == "sdk":
        from dintero_aio import Dintero  # not imported by the raw sides' processes

        dintero = Dintero(
            account_id=ACCOUNT_ID,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            base_url=BASE_URL,
            transport=transport,
        )

        async def sdk() -> Any:
            return await dintero.clients.create(**CREATE_ARGS)

        return sdk, dintero
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    if side == "raw-rel":
        raw = httpx.AsyncClient(base_url=BASE_URL, headers=headers, transport=transport)

        async def raw_rel() -> Any:
            return (await raw.post(CLIENTS_PATH, json=CREATE_ARGS)).json()

        return raw_rel, raw
    url = httpx.URL(CLIENTS_URL)  # parsed once
    if side == "raw-abs":
        raw = httpx.AsyncClient(headers=headers, transport=transport)

        async def raw_abs() -> Any:
            return (await raw.post(url, json=CREATE_ARGS)).json()

        return raw_abs, raw
    from dintero_aio_api.models import ClientWithSecret

    if side == "raw-same":
        headers |= sdk_headers()
    elif side != "raw-model":
        raise ValueError(f"unknown side {side!r}")
    raw = httpx.AsyncClient(headers=headers, transport=transport)

    async def raw_model() -> Any:
        return ClientWithSecret.from_dict((await raw.post(url, json=CREATE_ARGS)).json())

    return raw_model, raw


async def headers_sent(side: str) -> list[str]:
    """The header lines of `side`'s create request, in order; credentials masked."""
    seen = Counter[str]()
    sent: list[httpx.Request] = []
    call, closer = make_side(side, mock_transport(seen, sent=sent))
    await call()
    await closer.aclose()
    masked = {"authorization": "Bearer …"}
    return [
        f"{name}: {masked.get(name.lower()) or value}"
        for name, value in sent[0].headers.multi_items()
    ]


def check(side: str, result: Any) -> None:
    """A side that silently failed must not look fast."""
    name = result["name"] if isinstance(result, dict) else result.name
    if name != CREATE_ARGS["name"]:
        raise RuntimeError(f"{side}: unexpected create result")


async def measure(blocks: int, calls: int) -> dict[str, Blocks]:
    """`blocks` timed blocks of `calls` calls per side, interleaved A B C C B A ...; µs/call."""
    seen = {side: Counter[str]() for side in SIDES}
    made = {side: make_side(side, mock_transport(seen[side])) for side in SIDES}
    for side, (call, _) in made.items():
        for _ in range(WARMUP):
            check(side, await call())
    results: dict[str, list[float]] = {side: [] for side in SIDES}
    for side in rounds(SIDES, blocks):
        call = made[side][0]
        await asyncio.sleep(0)  # see _worker
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        results[side].append((time.perf_counter() - start) / calls * 1e6)
    for side in SIDES:
        await made[side][1].aclose()
        expected = WARMUP + blocks * calls
        if seen[side]["create"] != expected or seen[side]["token"] != (side == "sdk"):
            raise RuntimeError(f"{side}: transport saw {dict(seen[side])}, expected {expected}")
    return {side: Blocks(values) for side, values in results.items()}


def worker_rss(side: str, calls: int) -> dict[str, int]:
    """Run `calls` calls of `side` in a fresh process: responses seen and peak RSS (KiB)."""
    proc = subprocess.run(  # noqa: S603 - our own interpreter and fixed arguments
        [PYTHON, str(BENCH_DIR / "overhead.py"), side, str(calls)],
        capture_output=True,
        text=True,
        check=True,
    )
    done: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    if done["responses"] != WARMUP + calls:
        raise RuntimeError(f"{side}: {done['responses']} responses, expected {WARMUP + calls}")
    return done


def _maxrss_kb() -> int:
    """Peak RSS of this process image in KiB: VmHWM. Not `ru_maxrss`: on Linux a process started
    by a larger one inherits that one's RSS in `ru_maxrss` (both sides read 64 MiB when started
    by run.py), while VmHWM starts afresh at exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # no /proc: KiB on Linux


async def _worker(side: str, calls: int) -> dict[str, int]:
    seen = Counter[str]()
    call, closer = make_side(side, mock_transport(seen))
    for _ in range(WARMUP):
        check(side, await call())
    warm = _maxrss_kb()
    for i in range(calls):
        await call()
        if i % 100 == 99:
            # MockTransport never suspends, so without this the loop would never run (no timer
            # would fire); real I/O lets it run.
            await asyncio.sleep(0)
    await closer.aclose()
    return {"responses": seen["create"], "warm_maxrss_kb": warm, "maxrss_kb": _maxrss_kb()}


async def _marked(side: str, n: int) -> dict[str, int]:
    """Warm-up, mark, N calls, mark, 6N calls, mark (see instructions.py)."""
    seen = Counter[str]()
    call, closer = make_side(side, mock_transport(seen))
    for _ in range(WARMUP):
        check(side, await call())
    await marked_calls(call, n, 0)
    await closer.aclose()
    return {"responses": seen["create"]}


if __name__ == "__main__":
    if sys.argv[1] == "--marks":
        print(json.dumps(asyncio.run(_marked(sys.argv[2], int(sys.argv[3])))))
    else:
        print(json.dumps(asyncio.run(_worker(sys.argv[1], int(sys.argv[2])))))
