"""No secret reaches telemetry, whatever the server answers: every public operation against the
hostile server of tests/hostile.py (hypothesis draws its answers, to the operation or to the
token request under it), traced and measured by the OpenTelemetry SDK.

For each example: no secret (the client secret, the Basic credentials, any token or client
secret the server handed out, and their base64 forms) is anywhere in the exported spans (names,
attributes, events, links, status) or metrics, as their JSON has them; every span that was
started was ended, the call's own span records exactly the error the caller got (by class name)
and no call is left counted as active. DINTERO_FUZZ_EXAMPLES sets the examples per backend (25
by default, to keep `make test` short).
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
import warnings
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dintero_aio import Dintero, DinteroError, RetryPolicy
from dintero_aio._http_client import BACKENDS

from .hostile import OPERATIONS, Behaviour, HostileServer, find_secrets, new_secret, scripts

EXAMPLES = int(os.environ.get("DINTERO_FUZZ_EXAMPLES", "25"))
ACCOUNT = "T12345678"
CLIENT_ID = "hostile-client"
CLIENT_SECRET = new_secret("hostile-secret-")
BASIC = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
POLICY = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, total_timeout=1.0)
#: The call span each operation of tests/hostile.py makes.
SPAN = {
    "token": "dintero verify_credentials",
    "create": "dintero clients.create",
    "list": "dintero clients.list",
    "get": "dintero clients.get",
    "delete": "dintero clients.delete",
    "rotate": "dintero clients.rotate_secret",
}


class Unended(SpanProcessor):
    """The spans started and not (yet) ended."""

    def __init__(self) -> None:
        self.open: dict[int, str] = {}

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.open[span.context.span_id] = span.name

    def on_end(self, span: ReadableSpan) -> None:
        self.open.pop(span.context.span_id, None)


@dataclass
class Recorded:
    spans: list[ReadableSpan] = field(default_factory=list)
    metrics_json: str = ""
    unended: list[str] = field(default_factory=list)
    active: list[float] = field(default_factory=list)
    error: BaseException | None = None
    issued: list[str] = field(default_factory=list)


def call(dintero: Dintero, operation: str) -> Awaitable[Any]:
    some_id = uuid.uuid4()
    calls = {
        "token": dintero.verify_credentials,
        "create": lambda: dintero.clients.create(name="pos", client_id="pos-1"),
        "list": dintero.clients.list,
        "get": lambda: dintero.clients.get(some_id),
        "delete": lambda: dintero.clients.delete(some_id),
        "rotate": lambda: dintero.clients.rotate_secret(some_id),
    }
    return calls[operation]()


async def example(operation: str, target: str, script: list[Behaviour], backend: str) -> Recorded:
    exporter, reader, unended = InMemorySpanExporter(), InMemoryMetricReader(), Unended()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(unended)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    recorded = Recorded()
    async with HostileServer(target, script) as server:
        dintero = Dintero(
            account_id=ACCOUNT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            base_url=server.base_url,
            retry=POLICY,
            timeout=0.2,
            backend=backend,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
        )
        try:
            async with asyncio.timeout(10):
                await call(dintero, operation)
        except DinteroError as exc:
            recorded.error = exc
        await dintero.aclose()
        recorded.issued = list(server.issued)
    recorded.spans = list(exporter.get_finished_spans())
    recorded.unended = list(unended.open.values())
    data = reader.get_metrics_data()
    recorded.metrics_json = data.to_json() if data else ""
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "dintero.calls.active":
                    recorded.active += [point.value for point in metric.data.data_points]
    tracer_provider.shutdown()
    meter_provider.shutdown()
    return recorded


def run_and_check(operation: str, target: str, script: list[Behaviour], backend: str) -> None:
    # Warnings are the business of tests/test_hostile.py; here they would only stop the check.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        recorded = asyncio.run(example(operation, target, script, backend))
    story = f"{operation} ({target} hostile, {backend}): " + "; ".join(b.describe() for b in script)

    forbidden = [CLIENT_SECRET, f"{CLIENT_ID}:{CLIENT_SECRET}", BASIC, *recorded.issued]
    exported = "\n".join(span.to_json() for span in recorded.spans) + recorded.metrics_json
    leaked = find_secrets(exported, forbidden)
    assert not leaked, f"a secret reached telemetry: {leaked[:3]}\n{story}"

    assert not recorded.unended, f"spans never ended: {recorded.unended}\n{story}"
    assert set(recorded.active) <= {0}, f"calls still counted active\n{story}"
    mine = [span for span in recorded.spans if span.name == SPAN[operation]]
    top = [span for span in mine if span.parent is None]
    assert len(top) == 1, f"{len(top)} top-level {SPAN[operation]} spans\n{story}"
    expected = None if recorded.error is None else type(recorded.error).__name__
    assert top[0].attributes is not None
    assert top[0].attributes.get("error.type") == expected, story


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_secret_reaches_telemetry_whatever_the_server_answers(backend: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), operation=st.sampled_from(OPERATIONS), token=st.booleans())
    def run(data: st.DataObject, operation: str, token: bool) -> None:
        target = "token" if token or operation == "token" else operation
        script = data.draw(scripts(target), label="script")
        run_and_check(operation, target, script, backend)

    run()
