"""`make demo-trace`: the trace of one `clients.create` that is retried once, as OpenTelemetry
sees it, printed by the OpenTelemetry SDK's console exporter.

Serves the bundled emulator on a loopback port, makes its first create answer 503 (refused: safe
to retry), and creates one client with an SDK tracer provider whose exporter is the SDK's
`ConsoleSpanExporter`, formatted as one line per span and indented under its parent. With
opentelemetry-instrumentation-httpx installed (it is in the dev environment) the HTTP requests'
own spans show under the attempts that sent them. Needs the `otel` and `testing` extras and the
OpenTelemetry SDK; no credentials, no network.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExportResult,
)

from dintero_aio import Dintero, RetryPolicy
from dintero_aio.testing import Emulator, serve

#: Attributes not worth a column here (the URL is long; the ids are in every span).
QUIET = {"url.full", "dintero.account_id", "dintero.operation", "server.address", "server.port"}


class TreeConsoleExporter(ConsoleSpanExporter):
    """The SDK's console exporter, one line per span, each trace as a tree in start order."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        children: dict[int | None, list[ReadableSpan]] = {}
        for span in sorted(spans, key=lambda s: s.start_time or 0):
            children.setdefault(span.parent.span_id if span.parent else None, []).append(span)
        ordered: list[tuple[int, ReadableSpan]] = []

        def walk(parent: int | None, depth: int) -> None:
            for span in children.get(parent, []):
                ordered.append((depth, span))
                walk(span.context.span_id, depth + 1)

        walk(None, 0)
        names = {span.context.span_id: span.name for span in spans}
        depths = {id(span): depth for depth, span in ordered}
        self.formatter = lambda span: describe(span, depths[id(span)], names) + os.linesep
        return super().export([span for _, span in ordered])


def describe(span: ReadableSpan, depth: int, names: dict[int, str]) -> str:
    took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    attributes = {k: v for k, v in (span.attributes or {}).items() if k not in QUIET}
    shown = " ".join(f"{k}={_value(v)}" for k, v in attributes.items())
    line = f"{'    ' * depth}{span.name}  ({took:.1f} ms)  {shown}".rstrip()
    for event in span.events:
        details = ", ".join(f"{k}={_value(v)}" for k, v in (event.attributes or {}).items())
        line += f"\n{'    ' * (depth + 1)}event {event.name}: {details}"
    for link in span.links:
        line += f"\n{'    ' * (depth + 1)}linked to: {names.get(link.context.span_id, '?')}"
    return line


def _value(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


async def main() -> None:
    exporter = TreeConsoleExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    except ImportError:  # the HTTP spans are the instrumentation's: without it, none
        pass
    else:
        HTTPXClientInstrumentor().instrument(tracer_provider=tracer_provider)

    emulator = Emulator()
    emulator.fail_next("create", status=503)  # refused, so retried
    with serve(emulator) as running:
        async with Dintero(
            account_id=emulator.account_id,
            client_id=emulator.client_id,
            client_secret=emulator.client_secret,
            base_url=running.base_url,
            retry=RetryPolicy(initial_delay=0.05, max_delay=0.1),
            tracer_provider=tracer_provider,
        ) as dintero:
            created = await dintero.clients.create(name="pos")
    print(f"created client {created.client_id}; its trace, and the token fetch's:\n")
    tracer_provider.shutdown()  # exports the batch: every span, then printed as trees


if __name__ == "__main__":
    asyncio.run(main())
