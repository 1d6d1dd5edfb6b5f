"""`make bench` (`make bench ARGS=--quick` for a short run): every comparison of dintero-aio
with its baseline, measured side by side in this one run, printed as a table; a full run also
writes the table to docs/benchmarks.md.

Stages run in this order: the wall-clock ones first, one at a time (per-call overhead, loopback,
import time, one partner serving many merchant accounts), then the load-insensitive ones (token
counts; callgrind instruction counts in the background while peak RSS is measured). See each
module's docstring for what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import footprint
import loopback
import overhead
import partners
import tokens
from common import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    CREATED_BODY,
    Blocks,
    Row,
    markdown_table,
    paired_ratio,
    verdict,
)

from dintero_aio.testing import DEFAULT_CLIENT_SECRET

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    overhead_blocks: int  # per side
    overhead_calls: int  # per block
    loopback_blocks: int
    loopback_calls: int
    token_creates: int
    token_lifetime: int  # seconds
    import_rounds: int
    rss_calls: int
    rss_runs: int
    callgrind_n: int | None
    partner_accounts: int
    partner_blocks: int  # per side
    partner_calls: int  # per block


FULL = Sizes(20, 300, 6, 1000, 1000, 40, 15, 10_000, 3, 120, 1000, 20, 300)
QUICK = Sizes(6, 100, 4, 300, 200, 8, 5, 2_000, 1, None, 1000, 6, 100)


def _f(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}"


def _stage(number: int, title: str) -> float:
    print(f"[{number}/6] {title} ...", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"      done in {time.perf_counter() - started:.1f} s", flush=True)


def overhead_rows(wall: dict[str, Blocks]) -> list[Row]:
    sdk, rel, abs_ = wall["sdk"], wall["raw-rel"], wall["raw-abs"]
    rows = []
    for label, pick in (("median block", "median"), ("fastest fifth", "fastest_fifth")):
        s, r = getattr(sdk, pick), getattr(rel, pick)
        rows.append(
            Row(
                f"1. In-memory µs per create, {label}, vs raw (a)",
                _f(s, 1),
                f"(a) {_f(r, 1)}",
                _ratio(s, r),
                "≤ 1.25",
                verdict(s / r <= 1.25),
            )
        )
    rows.append(
        Row(
            "1. In-memory µs per create vs raw (b) absolute URL: median / fastest fifth",
            f"{_f(sdk.median, 1)} / {_f(sdk.fastest_fifth, 1)}",
            f"(b) {_f(abs_.median, 1)} / {_f(abs_.fastest_fifth, 1)}",
            f"{_ratio(sdk.median, abs_.median)} / {_ratio(sdk.fastest_fifth, abs_.fastest_fifth)}",
            "judged on (a)",
        )
    )
    return rows


def callgrind_rows(instr: dict[str, float] | None, reason: str) -> list[Row]:
    if instr is None:
        return [Row("1. Instructions per create (callgrind)", reason, reason)]
    sdk, rel, abs_ = instr["sdk"], instr["raw-rel"], instr["raw-abs"]
    return [
        Row(
            "1. Instructions per create (callgrind), vs raw (a)",
            _f(sdk),
            f"(a) {_f(rel)}",
            _ratio(sdk, rel),
            "≤ 1.25",
            verdict(sdk / rel <= 1.25),
        ),
        Row(
            "1. Instructions per create (callgrind), vs raw (b)",
            _f(sdk),
            f"(b) {_f(abs_)}",
            _ratio(sdk, abs_),
            "judged on (a)",
        ),
    ]


def loopback_rows(per_second: dict[str, Blocks], cpu: dict[str, Blocks]) -> list[Row]:
    rows = []
    for label, pick in (("median block", "median"), ("fastest fifth", "fastest_fifth")):
        s, r = getattr(per_second["sdk"], pick), getattr(per_second["raw"], pick)
        rows.append(
            Row(
                f"2. Loopback creates/s, {label}",
                _f(s),
                _f(r),
                _ratio(s, r),
                "≥ 0.9",
                verdict(s / r >= 0.9),
            )
        )
    rows.append(
        Row(
            "2. Loopback creates/s, median of the ratios of adjacent SDK and raw blocks",
            "—",
            "—",
            f"{paired_ratio(per_second['sdk'], per_second['raw']):.2f}",
            "(see notes)",
        )
    )
    s, r = cpu["sdk"].median, cpu["raw"].median
    rows.append(
        Row("2. Loopback client CPU µs per create, median block", _f(s), _f(r), _ratio(s, r))
    )
    return rows


def token_rows(result: dict[str, tokens.Contender], creates: int) -> list[Row]:
    what = {
        "cold": "cold start",
        "expired": "after expiry on the client's clock",
        "revoked": "after server-side revocation (`expire_tokens()`)",
    }
    rows = []
    for phase in ("cold", "expired", "revoked"):

        def cell(name: str, phase: str = phase) -> str:
            c = result[name]
            p = c.phases[phase]
            text = f"{p.tokens} ({p.ok:,}/{creates:,} ok"
            if p.creates_received > p.ok:
                text += f"; {p.creates_received - p.ok:,} got 401"
                text += ", replayed" if p.ok == creates else ", not retried"
            return text + (")" if c.clean else "; timing unclean, see notes)")

        ours = result["dintero-aio"].phases[phase]
        rows.append(
            Row(
                f"3. Token requests the server received, {what[phase]}",
                cell("dintero-aio"),
                f"authlib {cell('authlib')} · httpx-auth {cell('httpx-auth')}",
                "—",
                "exactly 1",
                verdict(ours.tokens == 1 and ours.ok == creates),
            )
        )
    return rows


def footprint_rows(imports: dict[str, Blocks], rss: dict[str, tuple[float, float]]) -> list[Row]:
    ours, base = imports["dintero_aio"], imports["httpx"]
    return [
        Row(
            "4. Import time, ms over a bare start: median (fastest fifth)",
            f"`import dintero_aio` {_f(ours.median, 1)} ({_f(ours.fastest_fifth, 1)})",
            f"`import httpx` {_f(base.median, 1)} ({_f(base.fastest_fifth, 1)})",
            f"{_ratio(ours.median, base.median)} "
            f"({_ratio(ours.fastest_fifth, base.fastest_fifth)})",
        ),
        Row(
            "4. Peak RSS, MiB, sequential creates via MockTransport (+ growth during the calls)",
            f"{_f(rss['sdk'][0], 1)} (+{_f(rss['sdk'][1], 1)})",
            f"raw (a) {_f(rss['raw-rel'][0], 1)} (+{_f(rss['raw-rel'][1], 1)})",
            _ratio(rss["sdk"][0], rss["raw-rel"][0]),
        ),
    ]


def sizes_line(z: Sizes, pass_ms: float) -> str:
    n = z.callgrind_n
    callgrind = "no callgrind" if n is None else f"callgrind runs of {6 * n} minus {n} calls"
    return (
        f"Sizes: 1: {z.overhead_blocks} blocks of {z.overhead_calls} calls per side, "
        f"{callgrind}; 2: {z.loopback_blocks} blocks of {z.loopback_calls:,} "
        f"creates per side at concurrency 50; 3: {z.token_creates:,} concurrent creates per "
        f"phase, {z.token_lifetime} s tokens; 4: {z.import_rounds} rounds of imports (bare start "
        f"{pass_ms:.0f} ms), {z.rss_calls:,} creates in each of {z.rss_runs} fresh process(es) "
        f"per side (median); 5: {z.partner_accounts:,} merchant accounts, {z.partner_blocks} "
        f"blocks of {z.partner_calls} list calls per side."
    )


NOTES = """\
- Every comparison was measured side by side in this one run, in interleaved blocks (A B B A;
  A B C C B A for three sides). "Median block" is the median of the per-block figures; "fastest
  fifth" is the mean of the best fifth of the blocks, the ones least disturbed by other load on
  this shared machine. Ratios are dintero-aio / baseline.
- 1: `httpx.MockTransport` answers the token endpoint with a token and the create endpoint with a
  realistic ClientWithSecret body. dintero-aio: `await dintero.clients.create(name=...,
  client_id=..., callbacks=[...])`, token cached in the warm-up. Raw (a): `httpx.AsyncClient`
  with `base_url` and a fixed `Authorization: Bearer` header, `await raw.post(relative path,
  json=...)` then `.json()` — the idiomatic equivalent of the SDK's configuration, on which the
  goal is judged. Raw (b): the same with no base_url and an absolute URL string. The transport
  counts the responses of each side and the run fails unless every call reached it.
  Callgrind: `PYTHONHASHSEED=0 valgrind --tool=callgrind` of `bench/overhead.py SIDE N` and
  `SIDE 6N` (same 50-call warm-up), instructions per call = difference / 5N.
- 2: the emulator runs in its own process (`python -m dintero_aio.testing serve --port 0`, its
  printed base URL read, terminated at the end). Raw: one token fetched first with HTTP Basic +
  Dintero's JSON body, then `post` with a fixed bearer header and `.json()`. 50 workers share each
  block; every create is checked, and the server's client list must hold every one sent. Both
  sides spend ~1.5-2 ms of client CPU per create, nearly all of it in httpcore, which dwarfs the
  SDK's in-memory extra of 7-25 µs: httpcore's pool polls every idle connection on every
  request, and when `sniffio` is not installed (anyio >= 4.11 no longer brings it) httpcore
  1.0.9 retries a failing `import sniffio` for every lock it sets up (encode/httpcore#1103). With
  a stub `sniffio` on the path, separate runs of this stage (not part of this benchmark) gave
  about twice the throughput, on both sides alike. The loopback ratio swings by about ±0.1 from
  run to run here (other jobs share the two cores; one block's client CPU per create can be 3x
  another's), so a single run can land either side of 0.9; the ratio of adjacent blocks (each
  pair sees nearly the same load) is shown as well.
  (Callgrind does not help here: the client's instructions per create over loopback depend on
  how many pooled connections happen to be open, and two identical runs differed by 40%.)
- 3: each client gets its own emulator served in this process by `dintero_aio.testing.serve()`
  (uvicorn in a thread), so the counts are what the server received. Phases: cold cache; tokens
  revoked on the server with `expire_tokens()` (the client still thinks its token is good: only a
  401 can tell it); tokens expired on the client's clock (every client set to refresh half a
  lifetime early — ours: min(60 s, lifetime / 2), authlib `leeway`, httpx-auth `early_expiry` —
  and the phase starts after that point). "N got 401" counts creates that the server refused
  because of the revoked token. authlib `AsyncOAuth2Client(grant_type="client_credentials")`
  speaks Dintero's token request (HTTP Basic + JSON body with the audience) through a custom
  `token_endpoint_auth_method` registered with `register_client_auth_method`; it has no lazy
  first fetch (a request without a token raises MissingTokenError), so its cold phase starts with
  one explicit `fetch_token()`. httpx-auth `OAuth2ClientCredentials(audience=...)` gets an
  `httpx.Client` whose transport re-encodes its form-encoded token request as JSON; the emulator
  accepts a token request only with HTTP Basic, a JSON body and the audience, so every counted
  token proves the adaptation worked. Neither refreshes on a 401. Before its cold and expired
  phases each client sends one request that needs no token (a 404), so that every burst starts
  with one open connection, as ours and authlib's do after their token request: on an empty
  httpx pool a burst of 1,000 takes ~25 s instead of ~5 s in httpcore's pool bookkeeping, for
  any client (raw httpx included).
- 4: import time is the wall time of `python -c "import X"` minus `python -c "pass"` in the same
  round, fresh processes, after one untimed round. Peak RSS is the VmHWM of a fresh process (the
  raw one does not import dintero_aio), read from /proc/self/status: not `ru_maxrss`, because on
  Linux a process started by a larger one inherits that one's RSS in `ru_maxrss` (both sides read
  64 MiB when started by run.py). "+N" is what the calls added after the 50-call warm-up. The
  loop gets to run once every 100 calls (`await asyncio.sleep(0)`, both sides), as real I/O lets
  it: MockTransport never suspends, and without that each SDK call's cancelled
  `asyncio.timeout_at` timer (retry.run) stays in the loop's heap, +8.6 MiB per 40,000 calls.
- No secret is printed: run.py checks its output for the fixed test credentials, token and
  created-client secret, and the emulator's printed credentials are read, never echoed.
- Stage order: the wall-clock stages (1 in-memory, 2, 4 import time, 5 partner) run alone; the
  token counts, the callgrind runs and the peak-RSS runs (which load does not change) run last,
  callgrind in the background during the RSS runs.
"""


def machine(quick: bool, elapsed: float, load: tuple[float, float, float]) -> str:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    command = "make bench" + (" ARGS=--quick" if quick else "")
    argv = " ".join(["bench/run.py", *sys.argv[1:]])
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("dintero-aio", "httpx", "authlib", "httpx-auth")
    )
    return (
        f"- command: `{command}` (runs `.venv/bin/python {argv}`), {elapsed:.0f} s\n"
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}\n"
        f"- machine: {len(os.sched_getaffinity(0))} CPUs (`nproc`), {model}, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
        f"- Python {platform.python_version()} ({platform.platform()}); {packages}; "
        f"sniffio {'importable' if find_spec('sniffio') else 'NOT installed (see notes)'}\n"
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)  # unwinds like Ctrl-C, so the emulator process and valgrind runs end


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (no callgrind)")
    parser.add_argument(
        "--write-docs", action="store_true", help="write docs/benchmarks.md after a --quick run too"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    load = os.getloadavg()
    begun = time.perf_counter()

    t = _stage(1, "per-call overhead on an in-memory transport")
    wall = asyncio.run(overhead.measure(sizes.overhead_blocks, sizes.overhead_calls))
    _done(t)
    t = _stage(2, "loopback HTTP against the emulator in its own process")
    loop = loopback.measure(sizes.loopback_blocks, sizes.loopback_calls)
    _done(t)
    t = _stage(3, "import time")
    imports = footprint.import_times(sizes.import_rounds)
    _done(t)
    t = _stage(4, f"partner: {sizes.partner_accounts:,} merchant accounts on one instance")
    partner = partners.measure(sizes.partner_accounts, sizes.partner_blocks, sizes.partner_calls)
    _done(t)
    t = _stage(5, "token single-flight (dintero-aio, authlib, httpx-auth)")
    flights = tokens.measure(sizes.token_creates, sizes.token_lifetime)
    _done(t)

    t = _stage(6, "peak RSS" + ("" if sizes.callgrind_n is None else " and callgrind"))
    valgrind = shutil.which("valgrind")
    callgrind = None
    if sizes.callgrind_n is not None and valgrind is not None:
        callgrind = overhead.Callgrind(valgrind, overhead.SIDES, sizes.callgrind_n)
    try:
        rss = footprint.peak_rss(sizes.rss_calls, sizes.rss_runs)
        instructions = None if callgrind is None else callgrind.results()
    finally:
        if callgrind is not None:
            callgrind.kill()
    _done(t)
    reason = "skipped (--quick)" if args.quick else "valgrind not installed"

    rows = [
        *overhead_rows(wall),
        *callgrind_rows(instructions, reason),
        *loopback_rows(loop["per_second"], loop["cpu_us"]),
        *token_rows(flights, sizes.token_creates),
        *footprint_rows(imports, rss),
        *partners.rows(partner),
    ]
    unclean = [c.name for c in flights.values() if not c.clean]
    notes = NOTES + partners.NOTES
    if args.quick:
        notes += (
            "- QUICK RUN: few, short blocks on a shared machine, so the wall-clock verdicts are "
            "indicative only (the loopback ratio of 300-create blocks swings by ±20%); the full "
            "run is the measurement.\n"
        )
    if unclean:
        notes += (
            f"- TIMING UNCLEAN for {', '.join(unclean)}: a token burst outlasted half a token "
            "lifetime, so a scheduled refresh may be counted in a phase. Rerun on a quieter "
            "machine.\n"
        )
    table = markdown_table(rows) + "\n\n" + sizes_line(sizes, imports["pass"].median)
    about = machine(args.quick, time.perf_counter() - begun, load)
    output = f"\n{table}\n\n{about}\nNotes:\n{notes}"
    for secret in (CLIENT_SECRET, ACCESS_TOKEN, DEFAULT_CLIENT_SECRET, "created-client-secret"):
        if secret in output:
            raise RuntimeError("a secret reached the benchmark output")
    assert b"created-client-secret" in CREATED_BODY  # the check above looks for the right thing
    print(output)
    if args.quick and not args.write_docs:
        print(f"(quick run: {DOCS.relative_to(Path.cwd())} left as it is)")
        return 0
    DOCS.write_text(
        "# Benchmarks\n\n"
        "What `make bench` prints: dintero-aio against raw httpx (and, for tokens, authlib and\n"
        "httpx-auth), each comparison measured side by side in one run. Regenerate with\n"
        "`make bench`; the code is in `bench/` (each module's docstring says what it measures).\n\n"
        f"{table}\n\n{about}\n## Notes\n\n{notes}"
    )
    print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
