"""What OpenTelemetry costs per call: instructions per `clients.create` (callgrind, as
bench/instructions.py) on three sides, each in a process of its own doing the same creates on an
`httpx.MockTransport` (bench/overhead.py's), token cached after the warm-up:

- none: the `opentelemetry` package cannot be imported (blocked in `sys.modules` before the SDK
  is imported), so the SDK uses no observer and imports nothing of it;
- api:  opentelemetry-api importable and no provider configured, the case of an app that has the
  package but does not trace: the SDK's observer runs against the API's no-op tracer and meter
  (goal: at most 1.03x none);
- sdk:  the OpenTelemetry SDK with an in-memory span exporter (`SimpleSpanProcessor`, every span
  exported as it ends) and an in-memory metric reader, passed as `tracer_provider` /
  `meter_provider`: what tracing and metrics cost when they are on (measured and shown).

Each side checks itself: the transport saw every create, the none side imported nothing of
`opentelemetry`, the api side no SDK, and the sdk side exported exactly two spans per create (the
call and its attempt) and counted every create in `dintero.calls`.

`python bench/telemetry.py [--quick]` runs this stage alone and prints its rows (`--quick`: 15 and
90 counted creates per side instead of 60 and 360; `make bench ARGS=--quick` skips it, as it skips
every callgrind count). `python bench/telemetry.py --marks SIDE N` is the program callgrind
counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from common import CLIENT_ID, CLIENT_SECRET, CREATE_ARGS, Row, markdown_table, verdict
from instructions import Job, marked_calls

SIDES = ("none", "api", "sdk")
WARMUP = 50  # creates before the first mark (the first fetches the token)
GOAL = 1.03  # api over none
FULL_N, QUICK_N = 60, 15


def _block_opentelemetry() -> None:
    """Make `import opentelemetry` fail in this process, as if the package were not installed."""
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]


def _providers(side: str) -> tuple[dict[str, Any], Any, Any]:
    """The `Dintero` arguments of `side`, and the sdk side's exporter and metric reader."""
    if side != "sdk":
        return {}, None, None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader])
    arguments = {"tracer_provider": tracer_provider, "meter_provider": meter_provider}
    return arguments, exporter, reader


def _calls_counted(reader: Any) -> int:
    """`dintero.calls` of clients.create, as the metric reader has it."""
    total = 0
    for resource in reader.get_metrics_data().resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "dintero.calls":
                    total += sum(
                        point.value
                        for point in metric.data.data_points
                        if point.attributes.get("dintero.operation") == "clients.create"
                    )
    return total


async def _marked(side: str, n: int) -> dict[str, int]:
    """Warm-up, mark, N creates, mark, 6N creates, mark (see instructions.py); then the checks."""
    if side == "none":
        _block_opentelemetry()
    from overhead import mock_transport

    from dintero_aio import Dintero

    arguments, exporter, reader = _providers(side)
    seen: Counter[str] = Counter()
    dintero = Dintero(
        account_id="T12345678",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        base_url="https://api.dintero.com/v1",
        transport=mock_transport(seen),
        **arguments,
    )
    await marked_calls(lambda: dintero.clients.create(**CREATE_ARGS), n, WARMUP)
    await dintero.aclose()
    _check(side, seen, exporter, reader)
    return {"responses": seen["create"]}


def _check(side: str, seen: Counter[str], exporter: Any, reader: Any) -> None:
    """A side that did less (no spans, no SDK import blocked) must not look cheap."""
    loaded = {name for name in sys.modules if name.startswith("opentelemetry")}
    if side == "none" and loaded != {"opentelemetry"}:  # the blocked entry itself
        raise RuntimeError(f"none: imported {sorted(loaded)}")
    if side == "api" and ("opentelemetry.trace" not in loaded or "opentelemetry.sdk" in loaded):
        raise RuntimeError("api: the API should be imported, the SDK not")
    if side == "sdk":
        creates = seen["create"]
        spans = Counter(span.name for span in exporter.get_finished_spans())
        wanted = {"dintero clients.create": creates, "dintero clients.create attempt": creates}
        if any(spans[name] != count for name, count in wanted.items()):
            raise RuntimeError(f"sdk: spans {dict(spans)}, expected {wanted}")
        if _calls_counted(reader) != creates:
            raise RuntimeError("sdk: dintero.calls does not count every create")
    if seen["token"] != 1:
        raise RuntimeError(f"{side}: {seen['token']} token requests, expected 1")


@dataclass
class Result:
    per_create: dict[str, float] | None  # None: skipped
    why: str = ""  # why it was skipped


def measure(n: int | None) -> Result:
    """Instructions per create on each side (the three callgrind runs side by side), with N and
    6N counted creates; None skips them (run.py's --quick)."""
    valgrind = shutil.which("valgrind")
    if n is None or valgrind is None:
        return Result(None, "skipped (--quick)" if n is None else "valgrind not installed")
    print(f"      telemetry: callgrind, {n} and {6 * n} creates per side ...", flush=True)
    jobs = {
        side: Job(valgrind, "telemetry.py", side, str(n), expected=WARMUP + 7 * n) for side in SIDES
    }
    try:
        counts = {side: job.intervals() for side, job in jobs.items()}
    finally:
        for job in jobs.values():
            job.kill()
    return Result({side: (c[2] - c[1]) / (5 * n) for side, c in counts.items()})


def rows(result: Result) -> list[Row]:
    name = "T. Instructions per create (callgrind), OpenTelemetry"
    if result.per_create is None:
        return [Row(name, result.why, result.why)]
    per = result.per_create
    api, sdk = per["api"] / per["none"], per["sdk"] / per["none"]
    return [
        Row(
            f"{name}: opentelemetry-api installed, no provider vs the package not installed",
            f"{per['api']:,.0f}",
            f"{per['none']:,.0f}",
            f"{api:.3f}",
            f"≤ {GOAL}",
            verdict(api <= GOAL),
        ),
        Row(
            f"{name}: the SDK with in-memory exporter and reader vs the package not installed",
            f"{per['sdk']:,.0f}",
            f"{per['none']:,.0f}",
            f"{sdk:.2f}",
            "(shown)",
        ),
    ]


NOTES = """\
- T (bench/telemetry.py, its docstring says how): `clients.create` on an `httpx.MockTransport`
  under callgrind, as in note 1, in three processes: `opentelemetry` not importable (the SDK then
  imports nothing of it), opentelemetry-api with no provider configured (the API's no-op tracer
  and meter), and the OpenTelemetry SDK with `SimpleSpanProcessor(InMemorySpanExporter())` and
  `InMemoryMetricReader()` passed as `tracer_provider` / `meter_provider` (two spans and five
  metric updates per create). Each side checks that it did its work (spans exported and calls
  counted on the sdk side, nothing imported on the first).
"""


def main() -> int:
    if sys.argv[1:2] == ["--marks"]:
        print(json.dumps(asyncio.run(_marked(sys.argv[2], int(sys.argv[3])))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer creates per side")
    args = parser.parse_args()
    print(markdown_table(rows(measure(QUICK_N if args.quick else FULL_N))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
