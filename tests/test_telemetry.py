"""OpenTelemetry spans and metrics (`_telemetry`), read back through the OpenTelemetry SDK's
in-memory span exporter and metric reader: the span tree and attributes of each kind of call,
parenting under the application's span and above httpx's own, the metrics after a known sequence
of calls and faults, and telemetry turned off."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dintero_aio_api.api import auth as generated_operations
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from redis.asyncio import Redis

from dintero_aio import (
    APIConnectionError,
    ClientClosedError,
    Dintero,
    InternalServerError,
    InvalidInputError,
    NotFoundError,
    RedisTokenCache,
    RetryPolicy,
    _http_client,
    _observe,
)
from dintero_aio._telemetry import OPERATIONS
from dintero_aio.testing import DEFAULT_CLIENT_SECRET, IN_PROCESS_BASE_URL, Emulator, serve

from .redis_server import running_redis

FAST = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.005, total_timeout=5.0)
MERCHANT = "T00000002"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "observability.md"


@dataclass
class Otel:
    """An SDK tracer and meter provider, and what they recorded."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return sorted(span.name for span in self.spans())

    def metrics(self) -> dict[str, dict[frozenset[tuple[str, Any]], float]]:
        """Every metric: its points by their attributes; a sum's value, a histogram's count."""
        out: dict[str, dict[frozenset[tuple[str, Any]], float]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = out.setdefault(metric.name, {})
                    for point in metric.data.data_points:
                        key = frozenset(point.attributes.items())
                        value = (
                            point.count if isinstance(point, HistogramDataPoint) else point.value
                        )
                        points[key] = value
        return out


def key(**values: Any) -> frozenset[tuple[str, Any]]:
    return frozenset(values.items())


def op(name: str, **more: Any) -> frozenset[tuple[str, Any]]:
    return frozenset({("dintero.operation", name), *more.items()})


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Otel(tracer_provider, meter_provider, exporter, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(merchants=[MERCHANT])


@pytest.fixture
async def make(otel: Otel, emulator: Emulator) -> AsyncIterator[Callable[..., Dintero]]:
    """Dintero instances on the emulator in-process, traced by `otel`, closed after the test."""
    made: list[Dintero] = []

    def build(**overrides: Any) -> Dintero:
        settings: dict[str, Any] = {
            "account_id": emulator.account_id,
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "base_url": IN_PROCESS_BASE_URL,
            "transport": emulator.transport(),
            "retry": FAST,
            "tracer_provider": otel.tracer_provider,
            "meter_provider": otel.meter_provider,
        }
        settings.update(overrides)
        made.append(Dintero(**settings))
        return made[-1]

    yield build
    for dintero in made:
        await dintero.aclose()


def child_of(span: ReadableSpan, parent: ReadableSpan) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def without_waits(attributes: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(attributes).items() if not k.endswith(".wait")}


# --- span trees --------------------------------------------------------------------------------


async def test_a_create_is_a_call_span_with_its_attempt_and_a_linked_token_fetch(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.clients.create(name="pos")

    create, attempt = otel.one("dintero clients.create"), otel.one("dintero clients.create attempt")
    assert create.parent is None
    assert create.kind is SpanKind.INTERNAL
    assert without_waits(create.attributes) == {
        "dintero.operation": "clients.create",
        "dintero.operation_id": "aid_auth_clients_post",
        "dintero.account_id": emulator.account_id,
        "dintero.attempts": 1,
        "dintero.retries": 0,
        "http.response.status_code": 200,
    }
    assert create.status.status_code is StatusCode.UNSET
    assert not create.events
    assert child_of(attempt, create)
    assert without_waits(attempt.attributes) == {
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "server.port": 80,
        "url.full": f"{IN_PROCESS_BASE_URL}/accounts/{emulator.account_id}/auth/clients",
        "http.response.status_code": 200,
        "dintero.token.source": "dintero",  # fetched for it
    }
    # The first call waited for the token, on the call and on the attempt that waited.
    wait = attempt.attributes["dintero.token.wait"]
    assert 0 < wait == create.attributes["dintero.token.wait"] < 5

    # The fetch is a trace of its own (it serves every waiting call), linked to the attempt
    # that started it; Get Token is a call of its own beneath it.
    fetch, token_call = otel.one("dintero token.fetch"), otel.one("dintero auth.token")
    assert fetch.parent is None
    assert fetch.context.trace_id != create.context.trace_id
    assert [link.context.span_id for link in fetch.links] == [attempt.context.span_id]
    assert dict(fetch.attributes) == {
        "dintero.token.kind": "access",
        "dintero.account_id": emulator.account_id,
        "dintero.token.source": "dintero",
    }
    assert child_of(token_call, fetch)
    assert token_call.attributes["dintero.operation_id"] == "aid_auths_oauth_token_post"
    assert child_of(otel.one("dintero auth.token attempt"), token_call)
    assert len(otel.spans()) == 5

    otel.exporter.clear()
    await dintero.clients.create(name="pos")  # the token is in memory now: no fetch, no wait
    assert otel.names() == ["dintero clients.create", "dintero clients.create attempt"]
    assert "dintero.token.wait" not in otel.one("dintero clients.create").attributes
    assert otel.one("dintero clients.create attempt").attributes["dintero.token.source"] == (
        "memory"
    )


async def test_a_retried_list_has_an_attempt_span_each_and_a_retry_event_each(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.verify_credentials()
    otel.exporter.clear()
    emulator.fail_next("list", status=503, times=2)

    assert await dintero.clients.list() == []

    call = otel.one("dintero clients.list")
    attempts = sorted(otel.named("dintero clients.list attempt"), key=lambda s: s.start_time or 0)
    assert call.attributes["dintero.attempts"] == 3
    assert call.attributes["dintero.retries"] == 2
    assert call.attributes["http.response.status_code"] == 200
    assert call.status.status_code is StatusCode.UNSET
    assert [event.name for event in call.events] == ["dintero.retry", "dintero.retry"]
    for number, event in enumerate(call.events, 1):
        assert event.attributes is not None
        delay = event.attributes["dintero.retry.delay"]
        assert isinstance(delay, float)
        assert 0 < delay <= FAST.max_delay
        assert without_delay(event.attributes) == {
            "dintero.retry.number": number,
            "dintero.retry.reason": "503",
            "dintero.retry.of": "request",
        }
    assert all(child_of(attempt, call) for attempt in attempts)
    assert [a.attributes.get("http.request.resend_count") for a in attempts] == [None, 1, 2]
    assert [a.attributes["http.response.status_code"] for a in attempts] == [503, 503, 200]
    assert [a.attributes.get("error.type") for a in attempts] == ["503", "503", None]
    assert [a.status.status_code for a in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]


def without_delay(attributes: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(attributes).items() if k != "dintero.retry.delay"}


async def test_a_create_whose_outcome_is_unknown_says_so_and_why_by_class_name(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.verify_credentials()
    otel.exporter.clear()
    emulator.drop_next("create", after_processing=True)

    with pytest.raises(APIConnectionError) as raised:
        await dintero.clients.create(name="pos")

    assert raised.value.outcome_unknown
    call, attempt = otel.one("dintero clients.create"), otel.one("dintero clients.create attempt")
    assert call.attributes["dintero.outcome_unknown"] is True
    assert call.attributes["error.type"] == "APIConnectionError"
    assert call.attributes["dintero.attempts"] == 1
    assert not call.events  # never retried
    assert "http.response.status_code" not in call.attributes  # no answer came
    assert call.status.status_code is StatusCode.ERROR
    assert call.status.description == "APIConnectionError"  # the class, never the message
    assert attempt.attributes["error.type"] == "APIConnectionError"

    otel.exporter.clear()
    emulator.fail_next("create", status=500)
    with pytest.raises(InternalServerError):
        await dintero.clients.create(name="pos")
    call, attempt = otel.one("dintero clients.create"), otel.one("dintero clients.create attempt")
    assert call.attributes["dintero.outcome_unknown"] is True
    assert call.attributes["error.type"] == "InternalServerError"
    assert call.attributes["http.response.status_code"] == 500
    assert attempt.attributes["error.type"] == "500"


async def test_a_merchant_call_acts_for_the_merchant_with_an_exchange_fetch_span(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    partner = make()
    await partner.for_account(MERCHANT).clients.list()

    call = otel.one("dintero clients.list")
    attempt = otel.one("dintero clients.list attempt")
    assert call.attributes["dintero.account_id"] == MERCHANT
    assert attempt.attributes["url.full"].endswith(f"/accounts/{MERCHANT}/auth/clients")
    fetches = {
        span.attributes["dintero.token.kind"]: span for span in otel.named("dintero token.fetch")
    }
    exchange, access = fetches["exchange"], fetches["access"]
    assert exchange.attributes["dintero.account_id"] == MERCHANT
    assert exchange.attributes["dintero.token.source"] == "dintero"
    assert [link.context.span_id for link in exchange.links] == [attempt.context.span_id]
    # The exchange is the partner's call (its account, its token)...
    exchange_call = otel.one("dintero auth.exchange_token")
    assert child_of(exchange_call, exchange)
    assert exchange_call.attributes["dintero.account_id"] == emulator.account_id
    # ...whose attempt waited for the partner's own token, fetched in a trace of its own.
    exchange_attempt = otel.one("dintero auth.exchange_token attempt")
    assert exchange_attempt.attributes["dintero.token.wait"] > 0
    assert access.attributes["dintero.account_id"] == emulator.account_id
    assert [link.context.span_id for link in access.links] == [exchange_attempt.context.span_id]


async def test_a_401_refreshes_the_token_inside_the_same_attempt(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.verify_credentials()
    emulator.expire_tokens()
    otel.exporter.clear()

    assert await dintero.clients.list() == []

    call, attempt = otel.one("dintero clients.list"), otel.one("dintero clients.list attempt")
    assert call.attributes["dintero.attempts"] == 1
    assert not call.events  # a replay, not a retry
    assert attempt.attributes["http.response.status_code"] == 200
    assert attempt.attributes["dintero.token.wait"] > 0
    fetch = otel.one("dintero token.fetch")
    assert [link.context.span_id for link in fetch.links] == [attempt.context.span_id]
    assert emulator.processed("token") == 2


async def wait_until_received(emulator: Emulator, operation: str) -> None:
    """Poll: the emulator has no event to wait on, and its count is all the test needs."""
    async with asyncio.timeout(5):
        while emulator.received(operation) == 0:  # type: ignore[arg-type]  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def test_a_call_stopped_by_aclose_ends_its_spans_with_client_closed(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.verify_credentials()
    emulator.delay_next("list", 30)
    call = asyncio.create_task(dintero.clients.list())
    await wait_until_received(emulator, "list")

    await dintero.aclose()

    with pytest.raises(ClientClosedError):
        await call
    span, attempt = otel.one("dintero clients.list"), otel.one("dintero clients.list attempt")
    assert span.attributes["error.type"] == "ClientClosedError"
    assert span.status.status_code is StatusCode.ERROR
    assert attempt.attributes["error.type"] == "CancelledError"
    assert attempt.end_time is not None
    assert span.end_time is not None
    metrics = otel.metrics()
    assert metrics["dintero.calls.active"][op("clients.list")] == 0
    closed = op("clients.list", **{"dintero.outcome": "error", "error.type": "ClientClosedError"})
    assert metrics["dintero.calls"][closed] == 1


async def test_a_call_cancelled_by_its_caller_ends_its_spans_as_cancelled(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.verify_credentials()
    emulator.delay_next("list", 30)
    call = asyncio.create_task(dintero.clients.list())
    await wait_until_received(emulator, "list")

    call.cancel()

    with pytest.raises(asyncio.CancelledError):
        await call
    span, attempt = otel.one("dintero clients.list"), otel.one("dintero clients.list attempt")
    for ended in (span, attempt):
        assert ended.end_time is not None
        assert ended.attributes["error.type"] == "CancelledError"
        assert ended.status.status_code is StatusCode.ERROR
    assert "dintero.outcome_unknown" not in span.attributes
    metrics = otel.metrics()
    assert metrics["dintero.calls.active"][op("clients.list")] == 0
    cancelled = op(
        "clients.list", **{"dintero.outcome": "cancelled", "error.type": "CancelledError"}
    )
    assert metrics["dintero.calls"][cancelled] == 1


async def test_a_create_with_grants_is_one_span_over_the_requests_it_makes(
    make: Callable[..., Dintero], otel: Otel
) -> None:
    from dintero_aio import GrantSpec

    dintero = make()
    grant = GrantSpec(audience=dintero.audience, scopes=["admin:accounts"])
    await dintero.clients.create(name="pos", grants=[grant])

    outer = otel.one("dintero clients.create_with_grants")
    assert "dintero.operation_id" not in outer.attributes  # not one operation of the API
    assert outer.attributes["dintero.attempts"] == 0
    assert child_of(otel.one("dintero clients.create"), outer)
    assert child_of(otel.one("dintero grants.create"), outer)


# --- parenting ---------------------------------------------------------------------------------


@pytest.fixture
def instrumented(otel: Otel) -> Iterator[None]:
    instrumentor = HTTPXClientInstrumentor()
    instrumentor.instrument(tracer_provider=otel.tracer_provider)
    yield
    instrumentor.uninstrument()


async def test_the_app_span_parents_the_call_and_the_attempt_parents_httpx_span(
    otel: Otel, emulator: Emulator, instrumented: None
) -> None:
    tracer = otel.tracer_provider.get_tracer("the app")
    with serve(emulator) as running:
        async with Dintero(
            account_id=emulator.account_id,
            client_id=emulator.client_id,
            client_secret=emulator.client_secret,
            base_url=running.base_url,
            retry=FAST,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        ) as dintero:
            with tracer.start_as_current_span("handle request") as app:
                await dintero.clients.create(name="pos")
            emulator.expire_tokens()
            await dintero.clients.list()

    create = otel.one("dintero clients.create")
    assert create.parent is not None
    assert create.parent.span_id == app.get_span_context().span_id
    assert create.context.trace_id == app.get_span_context().trace_id
    http = [span for span in otel.spans() if "httpx" in span.instrumentation_scope.name]
    assert http
    assert all(span.kind is SpanKind.CLIENT for span in http)

    def http_under(name: str) -> list[int]:
        attempt = otel.one(name)
        # The instrumentation's own names: the stable ones, or the old ones it uses by default.
        return [
            s.attributes.get("http.response.status_code", s.attributes.get("http.status_code"))
            for s in http
            if child_of(s, attempt)
        ]

    assert http_under("dintero clients.create attempt") == [200]
    # Get Token (twice: the first token, and the one after expire_tokens): under its attempts.
    token_calls = otel.named("dintero auth.token")
    token_attempts = otel.named("dintero auth.token attempt")
    assert len(token_calls) == len(token_attempts) == 2
    assert [len(http_under_span(http, span)) for span in token_calls] == [0, 0]
    assert [len(http_under_span(http, span)) for span in token_attempts] == [1, 1]
    # A 401 and its replay are two HTTP requests of one attempt.
    assert http_under("dintero clients.list attempt") == [401, 200]


def http_under_span(http: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in http if child_of(span, parent)]


async def test_a_wait_for_a_queue_slot_is_reported(
    otel: Otel, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_http_client, "MAX_CONNECTIONS", 1)  # one request at a time
    emulator.delay_next("list", 0.05)
    with serve(emulator) as running:
        async with Dintero(
            account_id=emulator.account_id,
            client_id=emulator.client_id,
            client_secret=emulator.client_secret,
            base_url=running.base_url,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        ) as dintero:
            await dintero.verify_credentials()
            await asyncio.gather(dintero.clients.list(), dintero.clients.list())

    waits = sorted(
        span.attributes.get("dintero.queue.wait", 0.0)
        for span in otel.named("dintero clients.list")
    )
    assert waits[0] == 0.0
    assert waits[1] >= 0.04  # the second waited for the first
    points = otel.metrics()["dintero.wait.duration"]
    assert points[op("clients.list", **{"dintero.wait.kind": "queue"})] == 1


# --- metrics -----------------------------------------------------------------------------------


async def test_metrics_count_calls_attempts_retries_fetches_and_waits(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    dintero = make()
    await dintero.clients.create(name="pos")  # fetches the token first
    emulator.fail_next("list", status=503)
    await dintero.clients.list()  # one retry
    with pytest.raises(NotFoundError):
        await dintero.clients.get("5f0c1f7e-3b8a-4a5e-9f7d-2c1e8b6a9d40")
    emulator.fail_next("create", status=500)
    with pytest.raises(InternalServerError):
        await dintero.clients.create(name="again")  # never retried: outcome unknown
    emulator.fail_next("token", status=503)
    emulator.expire_tokens()
    await dintero.clients.list()  # a 401, a failed fetch, a retry of the token, a replay

    metrics = otel.metrics()
    outcome = "dintero.outcome"
    assert metrics["dintero.calls"] == {
        op("auth.token", **{outcome: "success"}): 2,
        op("auth.token", **{outcome: "error", "error.type": "InternalServerError"}): 1,
        op("clients.create", **{outcome: "success"}): 1,
        op("clients.create", **{outcome: "unknown", "error.type": "InternalServerError"}): 1,
        op("clients.list", **{outcome: "success"}): 2,
        op("clients.get", **{outcome: "error", "error.type": "NotFoundError"}): 1,
    }
    assert metrics["dintero.call.duration"] == metrics["dintero.calls"]  # one point per call
    assert metrics["dintero.attempts"] == {
        op("auth.token"): 3,
        op("clients.create"): 2,
        op("clients.list"): 4,  # 503 + retry, then 401 (token failed) + retry
        op("clients.get"): 1,
    }
    assert metrics["dintero.retries"] == {
        op("clients.list", **{"dintero.retry.reason": "503", "dintero.retry.of": "request"}): 1,
        op("clients.list", **{"dintero.retry.reason": "503", "dintero.retry.of": "token"}): 1,
    }
    access = {"dintero.token.kind": "access"}
    assert metrics["dintero.token.fetches"] == {
        key(**access, **{"dintero.token.source": "dintero"}): 2,
        key(**access, **{"error.type": "InternalServerError"}): 1,
    }
    assert set(metrics["dintero.calls.active"].values()) == {0}
    token_waits = {
        labels_: count
        for labels_, count in metrics["dintero.wait.duration"].items()
        if ("dintero.wait.kind", "token") in labels_
    }
    assert token_waits == {
        op("clients.create", **{"dintero.wait.kind": "token"}): 1,
        op("clients.list", **{"dintero.wait.kind": "token"}): 2,
    }


# --- off, and without the package ---------------------------------------------------------------


async def test_telemetry_false_emits_nothing_for_the_instance_its_views_and_merchants(
    make: Callable[..., Dintero], otel: Otel
) -> None:
    dintero = make(telemetry=False)
    await dintero.clients.create(name="pos")
    await dintero.with_options(timeout=3).clients.list()
    await dintero.for_account(MERCHANT).clients.list()
    assert otel.spans() == []
    assert otel.metrics() == {}


async def test_a_view_is_traced_as_its_instance(make: Callable[..., Dintero], otel: Otel) -> None:
    await make().with_options(timeout=3).clients.list()
    assert otel.one("dintero clients.list").attributes["dintero.attempts"] == 1


async def test_from_env_takes_the_telemetry_settings(
    otel: Otel, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DINTERO_ACCOUNT_ID", emulator.account_id)
    monkeypatch.setenv("DINTERO_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", emulator.client_secret)
    monkeypatch.setenv("DINTERO_BASE_URL", IN_PROCESS_BASE_URL)
    for telemetry in (False, True):
        async with Dintero.from_env(
            transport=emulator.transport(),
            telemetry=telemetry,
            tracer_provider=otel.tracer_provider,
            meter_provider=otel.meter_provider,
        ) as dintero:
            await dintero.clients.list()
        assert len(otel.named("dintero clients.list")) == int(telemetry)


def test_without_providers_the_global_ones_are_used_even_when_set_later() -> None:
    program = textwrap.dedent(
        """
        import asyncio
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from dintero_aio import Dintero
        from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

        async def main():
            emulator = Emulator()
            async with Dintero(
                account_id=emulator.account_id, client_id=emulator.client_id,
                client_secret=emulator.client_secret, base_url=IN_PROCESS_BASE_URL,
                transport=emulator.transport(),
            ) as dintero:
                await dintero.clients.list()  # no provider yet: nothing recorded
                spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
                tracer_provider = TracerProvider()
                tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
                trace.set_tracer_provider(tracer_provider)
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                await dintero.clients.list()
            print(sorted(span.name for span in spans.get_finished_spans()))
            data = reader.get_metrics_data().resource_metrics[0].scope_metrics[0].metrics
            calls = next(m for m in data if m.name == "dintero.calls").data.data_points
            print([point.value for point in calls])

        asyncio.run(main())
        """
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, a fixed program
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == [
        "['dintero clients.list', 'dintero clients.list attempt']",
        "[1]",  # the second list only
    ]


def test_telemetry_must_be_a_bool() -> None:
    with pytest.raises(InvalidInputError, match="telemetry must be True or False"):
        Dintero(account_id="T12345678", client_id="c", client_secret="s", telemetry="no")  # type: ignore[arg-type]


@pytest.mark.parametrize("argument", ["tracer_provider", "meter_provider"])
def test_a_provider_of_the_wrong_kind_is_refused(argument: str) -> None:
    with pytest.raises(InvalidInputError, match=f"{argument} must be an opentelemetry"):
        Dintero(account_id="T12345678", client_id="c", client_secret="s", **{argument: object()})


@pytest.mark.parametrize("argument", ["tracer_provider", "meter_provider"])
def test_a_provider_without_the_package_names_the_extra(
    argument: str, monkeypatch: pytest.MonkeyPatch, otel: Otel
) -> None:
    monkeypatch.setattr(_observe, "_importable", False)
    provider = getattr(otel, argument)
    with pytest.raises(InvalidInputError, match=re.escape("pip install 'dintero-aio[otel]'")):
        Dintero(account_id="T12345678", client_id="c", client_secret="s", **{argument: provider})


def test_without_the_package_nothing_of_it_is_imported_and_calls_work() -> None:
    program = textwrap.dedent(
        """
        import asyncio, sys
        sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
        from dintero_aio import Dintero, InvalidInputError
        from dintero_aio.testing import IN_PROCESS_BASE_URL, Emulator

        async def main():
            emulator = Emulator()
            async with Dintero(
                account_id=emulator.account_id, client_id=emulator.client_id,
                client_secret=emulator.client_secret, base_url=IN_PROCESS_BASE_URL,
                transport=emulator.transport(),
            ) as dintero:
                await dintero.clients.create(name="pos")
            try:
                Dintero(account_id="T12345678", client_id="c", client_secret="s",
                        tracer_provider=object())
            except InvalidInputError as exc:
                print(exc)
            print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))

        asyncio.run(main())
        """
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, a fixed program
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == [
        "tracer_provider and meter_provider need the opentelemetry-api package: "
        "pip install 'dintero-aio[otel]'",
        "['opentelemetry']",  # the blocked entry itself, nothing imported
    ]


# --- names and documentation -------------------------------------------------------------------


def test_every_generated_operation_has_a_public_name() -> None:
    modules = {path.stem for path in Path(generated_operations.__file__).parent.glob("aid_*.py")}
    assert modules == set(OPERATIONS)
    assert len(set(OPERATIONS.values())) == len(OPERATIONS)


async def test_every_name_emitted_is_documented(
    make: Callable[..., Dintero], otel: Otel, emulator: Emulator
) -> None:
    """Run calls that emit every attribute and metric, and find each name in the docs."""
    dintero = make()
    emulator.fail_next("create", status=503)
    await dintero.clients.create(name="pos")
    emulator.fail_next("token", status=503)
    emulator.expire_tokens()
    emulator.fail_next("create", status=500)
    with pytest.raises(InternalServerError):
        await dintero.clients.create(name="pos")
    await dintero.for_account(MERCHANT).clients.list()

    names: set[str] = set()
    for span in otel.spans():
        if span.instrumentation_scope.name == "dintero_aio":
            names |= set(span.attributes)
            names |= {a for event in span.events for a in (event.attributes or {})}
            names.add(span.name)
    metrics = otel.metrics()
    names |= set(metrics)
    names |= {name for points in metrics.values() for key_ in points for name, _ in key_}
    documented = DOCS.read_text()
    missing = sorted(name for name in names if f"`{_generic(name)}`" not in documented)
    assert not missing, f"not in {DOCS.name}: {missing}"


def _generic(name: str) -> str:
    """A span name as the docs spell it: `dintero <operation>`, `dintero <operation> attempt`."""
    if name.startswith("dintero ") and name != "dintero token.fetch":
        return "dintero <operation>" + (" attempt" if name.endswith(" attempt") else "")
    return name


# --- the demo ----------------------------------------------------------------------------------


def test_the_trace_demo_prints_the_tree_of_a_retried_create() -> None:
    demo = Path(__file__).resolve().parent.parent / "examples" / "trace_demo.py"
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, str(demo)], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [line for line in done.stdout.splitlines()[2:] if line.strip()]
    shape = [
        line[: len(line) - len(line.lstrip())] + line.split("  (")[0].strip() for line in lines
    ]
    assert shape == [
        "dintero clients.create",
        "    event dintero.retry: dintero.retry.number=1, dintero.retry.reason=503, "
        "dintero.retry.of=request, dintero.retry.delay=" + lines[1].rsplit("=", 1)[1],
        "    dintero clients.create attempt",
        "        POST",
        "    dintero clients.create attempt",
        "        POST",
        "dintero token.fetch",
        "    linked to: dintero clients.create attempt",
        "    dintero auth.token",
        "        dintero auth.token attempt",
        "            POST",
    ]
    assert "http.request.resend_count=1" in lines[4]
    assert "error.type=503" in lines[2]
    assert DEFAULT_CLIENT_SECRET not in done.stdout
    assert "Bearer" not in done.stdout


async def test_a_token_from_the_fleet_s_cache_is_said_to_come_from_it(
    make: Callable[..., Dintero], otel: Otel
) -> None:
    """On a real redis-server: a second instance (another process of the fleet) finds the first
    one's token in the shared cache, and its fetch span, its attempt and the fetch counter say
    `shared`; its next call carries the token from memory."""
    with running_redis() as server:
        clients = [Redis.from_url(server.url), Redis.from_url(server.url)]
        try:
            first, second = (make(token_cache=RedisTokenCache(c)) for c in clients)
            await first.clients.list()
            otel.exporter.clear()
            await second.clients.list()
            fetch = otel.one("dintero token.fetch")
            assert fetch.attributes["dintero.token.source"] == "shared"
            attempt = otel.one("dintero clients.list attempt")
            assert attempt.attributes["dintero.token.source"] == "shared"
            assert otel.metrics()["dintero.token.fetches"] == {
                key(**{"dintero.token.kind": "access", "dintero.token.source": "dintero"}): 1,
                key(**{"dintero.token.kind": "access", "dintero.token.source": "shared"}): 1,
            }
            otel.exporter.clear()
            await second.clients.list()
            attempt = otel.one("dintero clients.list attempt")
            assert attempt.attributes["dintero.token.source"] == "memory"
        finally:
            for client in clients:
                await client.aclose()
