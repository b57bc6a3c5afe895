"""Optional OpenTelemetry export of each invocation as spans: `invoke` with `init` (on a cold
start) and `handler` beneath it, in the caller's X-Ray trace.

It is on when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
is set and the SDK is installed (`pip install 'stratus[otel]'`); the SDK's OTLP/HTTP exporter
reads the rest of its standard variables itself. Spans are built after the invocation from the
times already measured, with the ids the function saw: the `invoke` span's id is the `Parent`
in the function's `_X_AMZN_TRACE_ID`, so spans the function exports itself nest under it. The
SDK's batch processor exports from its own thread; nothing waits on the collector.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from stratus.observe.tracing import TraceHeader

if TYPE_CHECKING:
    from stratus.control.models import FunctionConfig
    from stratus.invoke.records import InvocationResult

log = logging.getLogger("stratus.spans")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


class SpanExport:
    def __init__(self, processor: Any, resource: Any) -> None:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self._trace = trace
        self._span = ReadableSpan
        self._processor = processor
        self._resource = resource
        self._scope = InstrumentationScope("stratus")

    def invocation(
        self,
        config: FunctionConfig,
        trace: TraceHeader,
        request_id: str,
        result: InvocationResult,
        start_ns: int,
        end_ns: int,
    ) -> None:
        t = self._trace
        trace_id = trace.otel_trace_id
        sampled = t.TraceFlags(t.TraceFlags.SAMPLED)
        invoke_ctx = t.SpanContext(trace_id, int(trace.parent or "1", 16), False, sampled)
        caller = None
        if trace.caller is not None:
            caller = t.SpanContext(trace_id, int(trace.caller, 16), True, sampled)
        failed = result.function_error is not None
        attributes = {
            "faas.name": config.name,
            "faas.version": config.version,
            "faas.invocation_id": request_id,
            "faas.coldstart": result.init_ms is not None,
            "faas.max_memory": config.memory_size * 1024 * 1024,
            "cloud.provider": "aws",
            "stratus.billed_ms": result.billed_ms,
        }
        if result.error_type:
            attributes["error.type"] = result.error_type
        error = t.Status(t.StatusCode.ERROR, result.error_type or "Unhandled")
        ok = t.Status(t.StatusCode.UNSET)
        handler_start = max(start_ns, end_ns - int(result.duration_ms * 1e6))
        spans = [
            self._make(
                f"invoke {config.name}",
                invoke_ctx,
                caller,
                start_ns,
                end_ns,
                attributes,
                t.SpanKind.SERVER,
                error if failed else ok,
            ),
            self._make(
                "handler",
                self._child(trace_id, sampled),
                invoke_ctx,
                handler_start,
                end_ns,
                {"faas.invocation_id": request_id},
                t.SpanKind.INTERNAL,
                error if failed else ok,
            ),
        ]
        if result.init_ms is not None:
            init_start = max(start_ns, handler_start - int(result.init_ms * 1e6))
            spans.append(
                self._make(
                    "init",
                    self._child(trace_id, sampled),
                    invoke_ctx,
                    init_start,
                    handler_start,
                    {"faas.name": config.name},
                    t.SpanKind.INTERNAL,
                    ok,
                )
            )
        for span in spans:
            self._processor.on_end(span)

    def _child(self, trace_id: int, flags: Any) -> Any:
        from stratus.observe.tracing import new_span_id

        return self._trace.SpanContext(trace_id, int(new_span_id(), 16), False, flags)

    def _make(
        self,
        name: str,
        context: Any,
        parent: Any,
        start: int,
        end: int,
        attributes: dict[str, Any],
        kind: Any,
        status: Any,
    ) -> Any:
        return self._span(
            name=name,
            context=context,
            parent=parent,
            resource=self._resource,
            attributes=attributes,
            kind=kind,
            status=status,
            start_time=start,
            end_time=end,
            instrumentation_scope=self._scope,
        )

    def close(self) -> None:
        self._processor.shutdown()  # exports what is queued, within the SDK's own timeout


def from_environment() -> tuple[SpanExport | None, str | None]:
    """The exporter the environment asks for, or None; the second value says why it is off
    when it was asked for but cannot run."""
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return None, None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return (
            None,
            "OTEL_EXPORTER_OTLP_ENDPOINT is set, but the OpenTelemetry SDK is not installed "
            "(pip install 'stratus[otel]')",
        )
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "stratus")})
    return SpanExport(BatchSpanProcessor(OTLPSpanExporter()), resource), None
