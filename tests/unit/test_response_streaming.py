"""Response streaming's pure parts: the function URL prelude, the event stream framing of
InvokeWithResponseStream (read back with botocore's own parser), how an invocation's end
becomes InvokeComplete, the ResponseStream's limit and back-pressure, and the trailer watch."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from botocore.eventstream import EventStream
from botocore.parsers import EventStreamJSONParser

from stratus.errors import TooManyRequests
from stratus.httpapi import prelude
from stratus.invoke.records import InvocationResult
from stratus.invoke.streaming import ResponseStream
from stratus.invoke.target import Invoked
from stratus.invoke.trailers import TrailerWatch
from stratus.lambda_api.streaming import completion, error_parts, events
from stratus.observe.tracing import TraceHeader
from stratus.wire.models import service_model


def test_the_prelude_is_json_then_eight_nuls() -> None:
    head = json.dumps({"statusCode": 201, "headers": {"x-a": "1"}, "cookies": ["c=1", "d=2"]}).encode()
    assert prelude.split(head) is None  # the delimiter has not come yet
    text, rest = prelude.split(head + b"\0" * 8 + b"body") or (b"", b"")
    assert rest == b"body"
    parsed = prelude.parse(text)
    assert parsed.status == 201
    assert parsed.headers == (
        ("x-a", "1"),
        ("set-cookie", "c=1"),
        ("set-cookie", "d=2"),
        ("content-type", "application/octet-stream"),
    )


def test_a_prelude_names_what_it_sets_and_nothing_else() -> None:
    assert prelude.parse(b"{}") == prelude.Prelude(200, (("content-type", "application/octet-stream"),))
    assert prelude.parse(b'{"headers": {"Content-Type": "text/html"}}').headers == (
        ("Content-Type", "text/html"),
    )
    assert prelude.has_prelude("application/vnd.awslambda.http-integration-response; charset=utf-8")
    assert not prelude.has_prelude("application/octet-stream")
    assert not prelude.has_prelude(None)


@pytest.mark.parametrize(
    "text",
    [
        b"not json",
        b"[1]",
        b'{"statusCode": "200"}',
        b'{"statusCode": 42}',
        b'{"headers": []}',
        b'{"headers": {"a": {"b": 1}}}',
        b'{"cookies": "a=1"}',
    ],
)
def test_a_malformed_prelude_is_refused(text: bytes) -> None:
    with pytest.raises(prelude.MalformedPrelude):
        prelude.parse(text)


def test_a_prelude_that_never_ends_is_refused() -> None:
    with pytest.raises(prelude.MalformedPrelude):
        prelude.split(b"x" * (prelude.MAX_PRELUDE + 1))


def _parse(body: bytes) -> list[dict[str, object]]:
    """What boto3 reads from these bytes (its own event stream reader, parser and the model)."""
    output = service_model("lambda").operation_model("InvokeWithResponseStream").output_shape
    raw = SimpleNamespace(stream=lambda: iter([body[:5], body[5:]]), close=lambda: None)
    return list(
        EventStream(raw, output.members["EventStream"], EventStreamJSONParser(), "InvokeWithResponseStream")
    )


def test_chunks_and_the_completion_are_framed_as_boto3_reads_them() -> None:
    body = events({"PayloadChunk": {"Payload": b"\x00bytes\xff"}}) + events(
        {"InvokeComplete": {"ErrorCode": "Error", "ErrorDetails": "boom", "LogResult": "bG9n"}}
    )
    assert _parse(body) == [
        {"PayloadChunk": {"Payload": b"\x00bytes\xff"}},
        {"InvokeComplete": {"ErrorCode": "Error", "ErrorDetails": "boom", "LogResult": "bG9n"}},
    ]


def _invoked(payload: bytes, function_error: str | None = None, error_type: str | None = None) -> Invoked:
    result = InvocationResult(payload, "$LATEST", function_error, "the log", error_type=error_type)
    return Invoked(result, TraceHeader("1-00000000-000000000000000000000000"))


def test_how_an_invocation_ended_becomes_invoke_complete() -> None:
    assert completion(_invoked(b"{}"), None) == {"InvokeComplete": {}}
    tail = completion(_invoked(b"{}"), "Tail")["InvokeComplete"]
    assert tail == {"LogResult": "dGhlIGxvZw=="}
    failed = _invoked(
        b'{"errorType": "Sandbox.Timedout", "errorMessage": "late"}', "Unhandled", "Sandbox.Timedout"
    )
    assert completion(failed, None) == {
        "InvokeComplete": {"ErrorCode": "Sandbox.Timedout", "ErrorDetails": "late"}
    }
    refused = completion(TooManyRequests("Rate exceeded"), None)
    assert refused == {
        "InvokeComplete": {"ErrorCode": "TooManyRequestsException", "ErrorDetails": "Rate exceeded"}
    }
    assert error_parts(b"plain text", "Unhandled") == ("Unhandled", "plain text")


def test_a_stream_passes_chunks_in_order_up_to_its_limit() -> None:
    async def run() -> None:
        stream = ResponseStream(limit=10, high_water=4)
        stream.begin("text/plain", "3")
        assert stream.started and stream.content_type == "text/plain" and stream.executed_version == "3"
        assert stream.write(b"abc")
        assert stream.write(b"defg")
        reader = asyncio.ensure_future(stream.drained())
        await asyncio.sleep(0)
        assert not reader.done()  # 7 bytes queued, past the high-water mark: the writer waits
        assert await stream.read() == b"abc"
        assert await stream.read() == b"defg"
        await reader
        assert not stream.write(b"hijkl")  # only 3 more fit
        assert stream.written == 10
        stream.close()
        assert await stream.read() == b"hij"
        assert await stream.read() == b""

    asyncio.run(run())


def test_an_abandoned_stream_takes_nothing_and_holds_no_writer() -> None:
    async def run() -> None:
        stream = ResponseStream(limit=100, high_water=1)
        stream.write(b"queued")
        stream.abandon()
        assert stream.write(b"more")  # accepted (counted), dropped
        await asyncio.wait_for(stream.drained(), 1)
        stream.close()
        assert await stream.read() == b""

    asyncio.run(run())


class _Inner(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = b""

    def data_received(self, data: bytes) -> None:
        self.data += data


def test_the_trailer_watch_records_each_requests_trailers_and_passes_everything_on() -> None:
    inner = _Inner()
    watches: dict[object, TrailerWatch] = {}
    watch = TrailerWatch(inner, watches)
    transport = object()
    watch.connection_made(transport)  # type: ignore[arg-type]
    assert watches[transport] is watch
    request = (
        b"POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n5\r\nhello\r\n0\r\n"
        b"Lambda-Runtime-Function-Error-Type: Custom.Broken\r\n"
        b"Lambda-Runtime-Function-Error-Body: e30=\r\n\r\n"
    )
    for i in range(0, len(request), 7):  # in pieces, as a socket delivers them
        watch.data_received(request[i : i + 7])
    assert inner.data == request
    assert watch.last == {
        "lambda-runtime-function-error-type": "Custom.Broken",
        "lambda-runtime-function-error-body": "e30=",
    }
    watch.data_received(b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    assert watch.last == {}  # a request without trailers
    watch.connection_lost(None)
    assert transport not in watches
