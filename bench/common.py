"""What every benchmark shares: fixed test data, A/B/B/A interleaving, block statistics, the
emulator in a separate process, and the result table."""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PYTHON = sys.executable

# Fixed data for the in-memory transport. None of these values is ever printed.
ACCOUNT_ID = "T12345678"
BASE_URL = "https://api.dintero.com/v1"
CLIENTS_PATH = f"/accounts/{ACCOUNT_ID}/auth/clients"
CLIENTS_URL = BASE_URL + CLIENTS_PATH
CLIENT_ID = "bench-client"
CLIENT_SECRET = "bench-client-secret-not-real"
ACCESS_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.bench-access-token"
#: No `client_id`: a client_id is unique in its account (the emulator refuses a second with 409),
#: and the loopback stages create thousands; Dintero (and the emulator) issue one instead.
CREATE_ARGS = {
    "name": "pos",
    "callbacks": ["https://example.com/callback", "https://example.com/callback2"],
}
TOKEN_BODY = json.dumps(
    {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 14400}
).encode()
CREATED_BODY = json.dumps(  # a realistic ClientWithSecret
    {
        "id": "5f0c1f7e-3b8a-4a5e-9f7d-2c1e8b6a9d40",
        "name": "pos",
        "client_id": "pos-1",
        "callbacks": CREATE_ARGS["callbacks"],
        "created_at": "2026-11-29T12:00:00.123Z",
        "updated_at": "2026-11-29T12:00:00.123Z",
        "created_by": CLIENT_ID,
        "client_secret": "created-client-secret-Zx81-not-real",
    }
).encode()


def rounds(sides: Sequence[str], count: int) -> Iterator[str]:
    """`count` blocks of every side, in A B B A order (A B C C B A ... for three sides)."""
    for i in range(count):
        yield from sides if i % 2 == 0 else reversed(sides)


@dataclass
class Blocks:
    """One figure per block (µs per call, calls per second, ...)."""

    values: list[float]
    higher_is_better: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def fastest_fifth(self) -> float:
        """Mean of the best fifth of the blocks: the ones least disturbed by other load."""
        best = sorted(self.values, reverse=self.higher_is_better)
        return statistics.fmean(best[: max(1, math.ceil(len(best) / 5))])


def paired_ratio(a: Blocks, b: Blocks) -> float:
    """Median of block-by-block ratios a[i] / b[i]: `rounds` runs a[i] and b[i] next to each
    other, so each ratio sees the same load and slow drifts of the machine cancel out."""
    return statistics.median(x / y for x, y in zip(a.values, b.values, strict=True))


@dataclass
class Row:
    benchmark: str
    ours: str
    baseline: str
    ratio: str = "—"
    goal: str = "—"
    met: str = "—"


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


def markdown_table(rows: Sequence[Row]) -> str:
    head = ["benchmark", "dintero-aio", "baseline", "ratio", "goal", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = (r.benchmark, r.ours, r.baseline, r.ratio, r.goal, r.met)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass
class ServedEmulator:
    base_url: str
    account_id: str
    client_id: str
    client_secret: str = ""

    def __repr__(self) -> str:  # keep the secret out of any accidental print
        return f"ServedEmulator({self.base_url!r})"


def served_by(proc: subprocess.Popen[str]) -> ServedEmulator:
    """Where an emulator process serves, read from the lines it prints at start (`key: value`,
    the audience last); never echoed, since they show the test credentials."""
    fields: dict[str, str] = {}
    assert proc.stdout is not None
    while "audience" not in fields:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited early (status {proc.wait()})")
        key, _, value = line.strip().partition(": ")
        fields[key] = value
    return ServedEmulator(
        fields["base_url"], fields["account_id"], fields["client_id"], fields["client_secret"]
    )


async def drive(call: Callable[[], Awaitable[bool]], calls: int, concurrency: int) -> int:
    """`calls` calls by `concurrency` workers; the number that succeeded."""
    ok = 0

    async def worker(share: int) -> None:
        nonlocal ok
        for _ in range(share):
            succeeded = await call()  # not `ok += await call()`: that reads `ok` before awaiting
            ok += succeeded

    shares = [calls // concurrency + (i < calls % concurrency) for i in range(concurrency)]
    await asyncio.gather(*(worker(share) for share in shares))
    return ok


@contextmanager
def emulator_process() -> Iterator[ServedEmulator]:
    """`python -m dintero_aio.testing serve` in its own process (through serve_emulator.py: the
    server keeps idle connections longer than the clients do, see there), on a free port it picks
    itself (--port 0), terminated on the way out whatever happens. Its output (which shows the test
    credentials) is read here and never echoed."""
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
        [PYTHON, str(BENCH_DIR / "serve_emulator.py"), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield served_by(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
