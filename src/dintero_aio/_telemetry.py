"""OpenTelemetry spans and metrics for every call, through the `_observe` seam.

Only the OpenTelemetry API is used: the application brings the SDK and its exporters, or nothing,
in which case the API's no-op tracer and meter make this cost a few calls per call (the span is
checked once per call, and nothing more is built for a span that does not record).

What is emitted is listed in docs/observability.md. Three decisions shape it:

- A span per public call (`dintero clients.create`), made current for the call, and a child span
  per attempt, current while the attempt's request is sent: so the HTTP client's own span (from
  opentelemetry-instrumentation-httpx) is a child of the attempt it belongs to.
- A token fetch runs in a fresh context, because one fetch serves every call waiting for it (see
  `_auth.Tokens._start`); its span is therefore the root of a trace of its own, with a link to
  the span that was current when the fetch started (the attempt, or the call, that needed it).
  Every call that waited for a token, the one that started the fetch or any other, records how
  long on its own spans (`dintero.token.wait`) and in `dintero.wait.duration`.
- Nothing from an error's message, a header or a body reaches a span or a metric: messages can
  quote the server's bytes, and so a secret. An error is recorded by its class name, an answer
  by its status code.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from time import monotonic
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from ._errors import APIStatusError, InvalidInputError
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from ._errors import DinteroError

#: The instrumentation scope of every span and metric.
SCOPE = "dintero_aio"
#: The semantic conventions whose names are used (`http.request.method`, `error.type`, ...).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.26.0"
#: Each generated operation (its OpenAPI operationId) as the SDK's users know it.
OPERATIONS = {
    "aid_auths_oauth_token_post": "auth.token",
    "aid_auths_oauth_exchange_token_post": "auth.exchange_token",
    "aid_auth_clients_post": "clients.create",
    "aid_auth_clients_get": "clients.list",
    "aid_auths_clients_id_get": "clients.get",
    "aid_auths_clients_id_delete": "clients.delete",
    "aid_auths_clients_id_rotate_post": "clients.rotate_secret",
    "aid_auths_client_grants_post": "grants.create",
    "aid_auths_client_grants_get": "grants.list",
    "aid_auths_client_grants_id_delete": "grants.delete",
}
#: The calls made of several requests (`Caller.run`), by the name the SDK gives them.
COMPOSITE = {
    "create client with grants": "clients.create_with_grants",
    "token check": "verify_credentials",
}
#: Seconds: calls take milliseconds on a good day and up to `total_timeout` (60 s) on a bad one.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_NOTHING = nullcontext()


class _Operation:
    """What is the same for every call of one operation: names and attribute sets, built once
    (the dicts are shared; OpenTelemetry copies what it keeps)."""

    __slots__ = ("attempt_name", "labels", "outcomes", "span_attributes", "span_name", "success")

    def __init__(self, name: str) -> None:
        operation = OPERATIONS.get(name) or COMPOSITE.get(name) or name.replace(" ", "_")
        self.span_name = f"dintero {operation}"
        self.attempt_name = f"dintero {operation} attempt"
        self.labels = {"dintero.operation": operation}
        self.span_attributes = dict(self.labels)
        if name in OPERATIONS:
            self.span_attributes["dintero.operation_id"] = name
        self.outcomes: dict[tuple[str, str | None], dict[str, str]] = {}
        self.success = self.outcome("success", None)

    def outcome(self, outcome: str, error_type: str | None) -> dict[str, str]:
        """The labels of a call of this operation that ended so."""
        labels = self.outcomes.get((outcome, error_type))
        if labels is None:
            labels = {**self.labels, "dintero.outcome": outcome}
            if error_type is not None:
                labels["error.type"] = error_type
            self.outcomes[outcome, error_type] = labels
        return labels


#: One per name the SDK gives calls: a few dozen at most.
_operations: dict[str, _Operation] = {}


def _operation(name: str) -> _Operation:
    operation = _operations.get(name)
    if operation is None:
        operation = _operations[name] = _Operation(name)
    return operation


class OpenTelemetryObserver:
    """An `_observe.Observer` that makes spans with `tracer_provider` and records metrics with
    `meter_provider` (the global ones, as set by the application, when None)."""

    __slots__ = (
        "active",
        "attempts",
        "calls",
        "duration",
        "fetches",
        "retries",
        "tracer",
        "waits",
    )

    def __init__(self, tracer_provider: object = None, meter_provider: object = None) -> None:
        if tracer_provider is not None and not isinstance(tracer_provider, trace.TracerProvider):
            raise InvalidInputError(
                "tracer_provider must be an opentelemetry.trace.TracerProvider, got "
                + type(tracer_provider).__name__
            )
        if meter_provider is not None and not isinstance(meter_provider, metrics.MeterProvider):
            raise InvalidInputError(
                "meter_provider must be an opentelemetry.metrics.MeterProvider, got "
                + type(meter_provider).__name__
            )
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
        self.calls = meter.create_counter(
            "dintero.calls", "{call}", "Calls of the SDK's operations, by outcome"
        )
        self.duration = _histogram(
            meter, "dintero.call.duration", "Duration of calls, retries and waits included"
        )
        self.active = meter.create_up_down_counter(
            "dintero.calls.active", "{call}", "Calls under way"
        )
        self.attempts = meter.create_counter(
            "dintero.attempts", "{attempt}", "Requests sent for calls (first tries and retries)"
        )
        self.retries = meter.create_counter(
            "dintero.retries", "{retry}", "Retries, by the failure that caused them"
        )
        self.fetches = meter.create_counter(
            "dintero.token.fetches", "{fetch}", "Token fetches, by kind and source"
        )
        self.waits = _histogram(
            meter, "dintero.wait.duration", "Time calls waited for a token or a queue slot"
        )

    def call(self, name: str, account_id: str) -> _Call:
        return _Call(self, _operations.get(name) or _operation(name), account_id)

    def token_fetch(self, what: str) -> _Fetch:
        kind, _, account_id = what.partition(" token of ")
        return _Fetch(self, kind, account_id, trace.get_current_span().get_span_context())


#: The observer of the global providers, shared by every instance that uses them (it keeps no
#: state of its own, and the API's proxies follow a provider the application sets later).
_global: OpenTelemetryObserver | None = None


def observer(tracer_provider: object, meter_provider: object) -> OpenTelemetryObserver:
    """The observer for these providers (None: the global ones)."""
    global _global
    if tracer_provider is not None or meter_provider is not None:
        return OpenTelemetryObserver(tracer_provider, meter_provider)
    if _global is None:
        _global = OpenTelemetryObserver()
    return _global


def _histogram(meter: metrics.Meter, name: str, description: str) -> metrics.Histogram:
    """A histogram in seconds with buckets for calls (opentelemetry-api 1.30 and later take the
    advice; an SDK's own views still win)."""
    try:
        return meter.create_histogram(
            name, "s", description, explicit_bucket_boundaries_advisory=DURATION_BUCKETS
        )
    except TypeError:  # opentelemetry-api < 1.30: no bucket advice
        return meter.create_histogram(name, "s", description)


class _Call:
    """One call: its span (None when it does not record) and what its metrics need."""

    __slots__ = (
        "_context",
        "_detach",
        "_observer",
        "_operation",
        "_span",
        "_started",
        "_waits",
        "attempts",
        "current",
        "retries",
        "status",
    )

    def __init__(self, observer: OpenTelemetryObserver, operation: _Operation, account: str):
        self._observer = observer
        self._operation = operation
        self.attempts = 0
        self.retries = 0
        self.status: int | None = None  # of the last answer
        self.current: _Attempt | None = None
        self._waits: dict[str, float] | None = None
        # Attributes are set once the span is known to record: building them for the API's
        # no-op span was a third of what telemetry costs a call (samplers do not see them).
        span = observer.tracer.start_span(operation.span_name)
        if span.is_recording():
            span.set_attributes(operation.span_attributes)
            span.set_attribute("dintero.account_id", account)
            self._span: trace.Span | None = span
            self._context = trace.set_span_in_context(span)
            self._detach = otel_context.attach(self._context)
        else:
            self._span = None
        observer.active.add(1, operation.labels)
        self._started = monotonic()

    def attempt(self, request: httpx.Request) -> AbstractContextManager[None]:
        self.attempts += 1
        if self._span is None:
            return _NOTHING
        return _Attempt(self, request)

    def answered(self, status: int) -> None:
        self.status = status
        if self.current is not None:
            self.current.answered(status)

    def retrying(self, error: DinteroError, wait: float, token: bool) -> None:
        self.retries += 1
        reason = str(error.status_code) if isinstance(error, APIStatusError) else _kind(error)
        of = "token" if token else "request"
        labels = {**self._operation.labels, "dintero.retry.reason": reason, "dintero.retry.of": of}
        self._observer.retries.add(1, labels)
        if self._span is not None:
            self._span.add_event(
                "dintero.retry",
                {
                    "dintero.retry.number": self.retries,
                    "dintero.retry.reason": reason,
                    "dintero.retry.of": of,
                    "dintero.retry.delay": wait,
                },
            )

    def waited(self, what: str, seconds: float) -> None:
        labels = {**self._operation.labels, "dintero.wait.kind": what}
        self._observer.waits.record(seconds, labels)
        waits = self._waits = self._waits or {}
        waits[what] = waits.get(what, 0.0) + seconds
        if self.current is not None:
            self.current.waited(what, seconds)

    def token(self, source: str) -> None:
        if self.current is not None:
            self.current.token(source)

    def ended(self, error: DinteroError | None, *, cancelled: bool = False) -> None:
        observer, operation = self._observer, self._operation
        error_type = None
        if cancelled:
            error_type = "CancelledError"
            labels = operation.outcome("cancelled", error_type)
        elif error is None:
            labels = operation.success
        else:
            error_type = _kind(error)
            labels = operation.outcome("unknown" if error.outcome_unknown else "error", error_type)
        observer.active.add(-1, operation.labels)
        observer.calls.add(1, labels)
        observer.duration.record(monotonic() - self._started, labels)
        if self.attempts:
            observer.attempts.add(self.attempts, operation.labels)
        span = self._span
        if span is None:
            return
        span.set_attribute("dintero.attempts", self.attempts)
        span.set_attribute("dintero.retries", self.retries)
        if self.status is not None:
            span.set_attribute("http.response.status_code", self.status)
        for what, seconds in (self._waits or {}).items():
            span.set_attribute(f"dintero.{what}.wait", seconds)
        if error is not None:
            span.set_attribute("dintero.outcome_unknown", error.outcome_unknown)
        if error_type is not None:
            _failed(span, error_type)
        otel_context.detach(self._detach)
        span.end()


class _Attempt:
    """The span of one attempt, current while its request is sent."""

    __slots__ = ("_call", "_detach", "_request", "_span", "_waits")

    def __init__(self, call: _Call, request: httpx.Request) -> None:
        self._call = call
        self._request = request
        self._waits: dict[str, float] = {}

    def __enter__(self) -> None:
        call, url = self._call, self._request.url
        attributes: dict[str, Any] = {
            "http.request.method": self._request.method,
            "server.address": url.host,
            "server.port": url.port or (443 if url.scheme == "https" else 80),
            "url.full": str(url),
        }
        if call.attempts > 1:
            attributes["http.request.resend_count"] = call.attempts - 1
        self._span = call._observer.tracer.start_span(
            call._operation.attempt_name,
            context=call._context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        self._detach = otel_context.attach(trace.set_span_in_context(self._span))
        call.current = self

    def answered(self, status: int) -> None:
        self._span.set_attribute("http.response.status_code", status)
        if status >= 400:
            _failed(self._span, str(status))

    def waited(self, what: str, seconds: float) -> None:
        self._waits[what] = self._waits.get(what, 0.0) + seconds
        self._span.set_attribute(f"dintero.{what}.wait", self._waits[what])

    def token(self, source: str) -> None:
        self._span.set_attribute("dintero.token.source", source)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self._call.current = None
        if kind is not None:
            _failed(self._span, kind.__name__)
        otel_context.detach(self._detach)
        self._span.end()


class _Fetch:
    """The span and count of one token fetch; entered in the fetch's own (fresh) context."""

    __slots__ = ("_account", "_detach", "_kind", "_link", "_observer", "_source", "_span")

    def __init__(
        self,
        observer: OpenTelemetryObserver,
        kind: str,
        account: str,
        link: trace.SpanContext,
    ) -> None:
        self._observer = observer
        self._kind = kind
        self._account = account
        self._link = link
        self._source: str | None = None

    def __enter__(self) -> None:
        links: Sequence[Link] = [Link(self._link)] if self._link.is_valid else ()
        self._span = self._observer.tracer.start_span(
            "dintero token.fetch",
            context=otel_context.Context(),  # a root: it serves every waiting call
            kind=SpanKind.INTERNAL,
            attributes={"dintero.token.kind": self._kind, "dintero.account_id": self._account},
            links=links,
        )
        self._detach = otel_context.attach(trace.set_span_in_context(self._span))

    def fetched(self, source: str) -> None:
        self._source = source
        self._span.set_attribute("dintero.token.source", source)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        labels = {"dintero.token.kind": self._kind}
        if self._source is not None:
            labels["dintero.token.source"] = self._source
        if kind is not None:
            labels["error.type"] = kind.__name__
            _failed(self._span, kind.__name__)
        self._observer.fetches.add(1, labels)
        otel_context.detach(self._detach)
        self._span.end()


def _kind(error: BaseException) -> str:
    """What telemetry says of an error: its class's name, never its message."""
    return type(error).__name__


def _failed(span: trace.Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))
