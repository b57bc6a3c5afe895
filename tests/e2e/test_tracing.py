"""Tracing end to end: the caller's X-Amzn-Trace-Id reaches the function as `_X_AMZN_TRACE_ID`
(Python's official runtime client and Stratus's Node client), through Invoke and function URLs,
and the optional OpenTelemetry exporter sends invoke, init and handler spans to a real OTLP/HTTP
receiver in the caller's trace."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stratus.observe import tracing
from tests.e2e.conftest import Server, create
from tests.e2e.http_client import call

ROOT = "1-6740a1b2-0123456789abcdef01234567"
CALLER_PARENT = "53995c3f42cd8ad8"
INCOMING = f"Root={ROOT};Parent={CALLER_PARENT};Sampled=1"

PYTHON_APP: dict[str, str | bytes] = {
    "app.py": """
        import os
        def handler(event, context):
            return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
        """
}
NODE_APP: dict[str, str | bytes] = {
    "index.js": """
        exports.handler = async () => ({ trace: process.env._X_AMZN_TRACE_ID });
        """
}


def invoke_with_trace(lam: Any, name: str, header: str | None) -> tuple[str, str]:
    """(the function's _X_AMZN_TRACE_ID, the X-Amzn-Trace-Id of Invoke's answer)."""

    def add_header(request: Any, **_: Any) -> None:
        if header is not None:
            request.headers["X-Amzn-Trace-Id"] = header

    lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
    try:
        out = lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
    seen = json.loads(out["Payload"].read())["trace"]
    return seen, out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-trace-id"]


@pytest.mark.parametrize(
    ("runtime", "handler", "files"),
    [
        ("python3.11", "app.handler", PYTHON_APP),
        ("nodejs20.x", "index.handler", NODE_APP),
    ],
)
def test_the_callers_trace_reaches_the_function(
    lam: Any, fn_name: str, runtime: str, handler: str, files: dict[str, str | bytes]
) -> None:
    create(lam, fn_name, files, Runtime=runtime, Handler=handler)
    seen, answered = invoke_with_trace(lam, fn_name, INCOMING)
    header = tracing.parse(seen)
    assert header is not None, seen
    assert header.root == ROOT and header.sampled == "1"
    assert header.parent is not None and header.parent != CALLER_PARENT  # Lambda's own segment
    assert answered == seen


def test_without_a_header_each_invoke_gets_a_trace_of_its_own(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, PYTHON_APP)
    first, _ = invoke_with_trace(lam, fn_name, None)
    second, _ = invoke_with_trace(lam, fn_name, "not a trace header")
    one, two = tracing.parse(first), tracing.parse(second)
    assert one is not None and two is not None
    assert one.root != two.root and one.sampled == two.sampled == "0"  # PassThrough samples nothing
    lam.update_function_configuration(FunctionName=fn_name, TracingConfig={"Mode": "Active"})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    active = tracing.parse(invoke_with_trace(lam, fn_name, None)[0])
    assert active is not None and active.sampled == "1"


def test_a_function_url_request_carries_its_trace_in(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, PYTHON_APP)
    url = lam.create_function_url_config(FunctionName=fn_name, AuthType="NONE")["FunctionUrl"]
    reply = call(url, headers={"X-Amzn-Trace-Id": INCOMING})
    assert reply.status == 200, reply.body
    header = tracing.parse(reply.json()["trace"])
    assert header is not None and header.root == ROOT and header.parent != CALLER_PARENT


class Collector(http.server.ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: decodes each export with OpenTelemetry's own protobufs."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.spans: list[Any] = []
        self.lock = threading.Lock()


class _Receive(http.server.BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend(scope_spans.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def test_spans_are_exported_in_the_callers_trace(
    fresh_server: Any, fn_name: str, collector: Collector
) -> None:
    srv: Server = fresh_server(
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{collector.server_address[1]}/v1/traces",
        OTEL_BSP_SCHEDULE_DELAY="100",
    )
    lam = srv.client()
    create(lam, fn_name, PYTHON_APP)
    seen, _ = invoke_with_trace(lam, fn_name, INCOMING)  # cold
    warm, _ = invoke_with_trace(lam, fn_name, None)
    function_parent = tracing.parse(seen).parent  # type: ignore[union-attr]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with collector.lock:
            if len(collector.spans) >= 5:
                break
        time.sleep(0.1)
    with collector.lock:
        spans = list(collector.spans)
    by_trace: dict[str, list[Any]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id.hex(), []).append(span)
    cold = {s.name: s for s in by_trace[ROOT[2:10] + ROOT[11:]]}
    assert set(cold) == {f"invoke {fn_name}", "init", "handler"}
    invoke = cold[f"invoke {fn_name}"]
    assert invoke.span_id.hex() == function_parent  # the function's own spans nest under it
    assert invoke.parent_span_id.hex() == CALLER_PARENT
    assert cold["init"].parent_span_id == invoke.span_id == cold["handler"].parent_span_id
    assert invoke.start_time_unix_nano <= cold["init"].start_time_unix_nano
    assert cold["init"].end_time_unix_nano <= cold["handler"].start_time_unix_nano
    assert cold["handler"].end_time_unix_nano <= invoke.end_time_unix_nano
    attributes = {a.key: a.value for a in invoke.attributes}
    assert attributes["faas.coldstart"].bool_value is True
    assert attributes["faas.name"].string_value == fn_name
    warm_root = tracing.parse(warm).root  # type: ignore[union-attr]
    warm_spans = {s.name for s in by_trace[warm_root[2:10] + warm_root[11:]]}
    assert warm_spans == {f"invoke {fn_name}", "handler"}  # no init on a warm start


def test_an_event_invoke_carries_the_callers_trace(server: Server, lam: Any, fn_name: str) -> None:
    """The header is stored with the queued event, so it survives to the attempt (and a restart)."""
    create(
        lam,
        fn_name,
        {"app.py": "import os\ndef handler(e, c):\n    print('TRACE=' + os.environ['_X_AMZN_TRACE_ID'])\n"},
    )

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = INCOMING

    lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
    try:
        assert lam.invoke(FunctionName=fn_name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    finally:
        lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
    logs = server.client("logs")
    deadline = time.monotonic() + 15
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn_name}", filterPattern="TRACE")[
                "events"
            ]
        except logs.exceptions.ResourceNotFoundException:
            events = []  # the event has not run yet: its log group comes with its first line
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert events, "the event never ran"
    header = tracing.parse(events[0]["message"].strip().removeprefix("TRACE="))
    assert header is not None and header.root == ROOT and header.sampled == "1"
    assert header.parent != CALLER_PARENT
