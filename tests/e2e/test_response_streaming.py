"""Response streaming end to end: boto3's invoke_with_response_stream, function URLs in
RESPONSE_STREAM mode read with a streaming HTTP client, Node's awslambda.streamifyResponse and
HttpResponseStream, a custom runtime's chunked Runtime API response with error trailers, the
20 MiB limit, runtimes that answer whole, and errors after the first byte.

"Before the function finishes" is shown without clocks: the function writes its first chunk,
then waits until an S3 object exists (polling a presigned URL the test gives it); the test
creates that object only after it has read the first chunk. Were chunks held until the end,
the function would wait out its timeout and the stream would end with Sandbox.Timedout.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import ROLE, Server, create

NODE = "nodejs20.x"
MIB = 1024 * 1024
STREAM_LIMIT = 20 * MIB

# Waits until the gate URL (a presigned S3 GET) answers 200.
GATE_JS = """
async function gate(url) {
  for (;;) {
    const r = await fetch(url);
    if (r.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
"""

STREAMING_JS = (
    GATE_JS
    + """
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType("text/plain");
  console.log("streaming for", context.awsRequestId);
  responseStream.write("first chunk\\n");
  await gate(event.gate);
  responseStream.write("second chunk\\n");
  responseStream.end();
});
"""
)

URL_JS = (
    GATE_JS
    + """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const query = event.queryStringParameters || {};
  if (query.plain) {
    responseStream.write("plain ");
    responseStream.write("bytes");
    responseStream.end();
    return;
  }
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/event-stream", "x-streamed": "yes" },
    cookies: ["a=1", "b=2"],
  });
  stream.write("data: one\\n\\n");
  await gate(query.gate);
  stream.write("data: two\\n\\n");
  stream.end();
});
"""
)

BIG_JS = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const block = Buffer.alloc(1024 * 1024, 120);
  for (let i = 0; i < event.mib; i++) {
    if (!responseStream.write(block)) await new Promise((r) => responseStream.once("drain", r));
  }
  if (event.extra) responseStream.write(Buffer.alloc(event.extra, 121));
  responseStream.end();
});
"""

FAILING_JS = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write("partial");
  await new Promise((r) => setTimeout(r, 10));
  throw new Error("boom after the first byte");
});
"""

PLAIN_NODE_JS = """
export const handler = async (event) => ({ plain: true, got: event });
"""

# A custom runtime streaming over the Runtime API by hand: chunked POST with the streaming mode
# header, each chunk flushed as written, and (for {"fail": true}) the error in the trailers.
BOOTSTRAP = r"""#!/usr/bin/env python3
import base64, json, os, socket, time, urllib.request

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")


def next_event():
    with urllib.request.urlopen(f"http://{host}:{port}/2018-06-01/runtime/invocation/next") as r:
        return r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())


def gate(url):
    while True:
        try:
            with urllib.request.urlopen(url) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.025)


while True:
    request_id, event = next_event()
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nContent-Type: text/plain\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    )
    sock.sendall(head.encode())

    def chunk(data):
        sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    chunk(b"custom first\n")
    if event.get("gate"):
        gate(event["gate"])
    chunk(b"custom second\n")
    if event.get("fail"):
        error = {"errorType": "Custom.Broken", "errorMessage": "went wrong"}
        body = base64.b64encode(json.dumps(error).encode())
        sock.sendall(
            b"0\r\nLambda-Runtime-Function-Error-Type: Custom.Broken\r\n"
            b"Lambda-Runtime-Function-Error-Body: " + body + b"\r\n\r\n"
        )
    else:
        sock.sendall(b"0\r\n\r\n")
    sock.recv(65536)
    sock.close()
"""


def node(lam: Any, name: str, source: str, timeout: int = 30) -> None:
    create(lam, name, {"index.mjs": source}, Runtime=NODE, Handler="index.handler", Timeout=timeout)


@pytest.fixture
def gate(server: Server) -> Iterator[tuple[str, Any]]:
    """(a presigned URL that answers 200 once opened, the function that opens it)."""
    s3 = server.client("s3", signature_version="s3v4")
    bucket = f"gate-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "open"}, ExpiresIn=600)

    def open_gate() -> None:
        s3.put_object(Bucket=bucket, Key="open", Body=b"go")

    yield url, open_gate


def events_of(resp: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from resp["EventStream"]


def drain(events: Iterator[dict[str, Any]]) -> tuple[bytes, dict[str, Any]]:
    """The payload of the remaining chunks and the InvokeComplete event."""
    body = bytearray()
    for event in events:
        if "PayloadChunk" in event:
            body += event["PayloadChunk"]["Payload"]
        elif "InvokeComplete" in event:
            return bytes(body), event["InvokeComplete"]
    raise AssertionError("the stream ended without InvokeComplete")


def test_invoke_with_response_stream_sends_the_first_chunk_before_the_function_finishes(
    server: Server, lam: Any, fn_name: str, gate: tuple[str, Any]
) -> None:
    node(lam, fn_name, STREAMING_JS)
    url, open_gate = gate
    resp = lam.invoke_with_response_stream(
        FunctionName=fn_name, Payload=json.dumps({"gate": url}), LogType="Tail"
    )
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseStreamContentType"] == "text/plain"
    events = events_of(resp)
    first = next(events)
    assert first == {"PayloadChunk": {"Payload": b"first chunk\n"}}
    open_gate()  # only now can the function finish
    rest, complete = drain(events)
    assert rest == b"second chunk\n"
    assert "ErrorCode" not in complete
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "streaming for" in log and "REPORT RequestId" in log


def test_a_function_url_in_response_stream_mode_streams_with_the_prelude_status_and_headers(
    server: Server, lam: Any, fn_name: str, gate: tuple[str, Any]
) -> None:
    node(lam, fn_name, URL_JS)
    config = lam.create_function_url_config(
        FunctionName=fn_name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )
    assert config["InvokeMode"] == "RESPONSE_STREAM"
    parts = urlsplit(config["FunctionUrl"])
    url, open_gate = gate
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", f"{parts.path}?gate={quote(url, safe='')}")
        resp = conn.getresponse()
        assert resp.status == 201
        assert resp.getheader("content-type") == "text/event-stream"
        assert resp.getheader("x-streamed") == "yes"
        assert sorted(v for k, v in resp.getheaders() if k.lower() == "set-cookie") == ["a=1", "b=2"]
        assert resp.getheader("transfer-encoding") == "chunked"
        first = b""
        while len(first) < len(b"data: one\n\n"):
            got = resp.read1(65536)
            assert got, "the answer ended before its first chunk"
            first += got
        assert first == b"data: one\n\n"
        open_gate()
        assert resp.read() == b"data: two\n\n"
    finally:
        conn.close()

    # Without a prelude: 200, application/octet-stream, the bytes as written.
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", f"{parts.path}?plain=1")
        resp = conn.getresponse()
        assert resp.status == 200
        assert resp.getheader("content-type") == "application/octet-stream"
        assert resp.read() == b"plain bytes"
    finally:
        conn.close()


def test_a_custom_runtime_streams_through_the_runtime_api_with_error_trailers(
    server: Server, lam: Any, fn_name: str, gate: tuple[str, Any]
) -> None:
    lam.create_function(
        FunctionName=fn_name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="function.handler",
        Timeout=30,
        Code={"ZipFile": _zip_executable("bootstrap", BOOTSTRAP)},
    )
    url, open_gate = gate
    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=json.dumps({"gate": url}))
    assert resp["ResponseStreamContentType"] == "text/plain"
    events = events_of(resp)
    assert next(events) == {"PayloadChunk": {"Payload": b"custom first\n"}}
    open_gate()
    rest, complete = drain(events)
    assert rest == b"custom second\n"
    assert "ErrorCode" not in complete

    # An error after the first byte travels in the trailers, and reaches the caller.
    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=json.dumps({"fail": True}))
    body, complete = drain(events_of(resp))
    assert body == b"custom first\ncustom second\n"
    assert complete["ErrorCode"] == "Custom.Broken"
    assert complete["ErrorDetails"] == "went wrong"

    # The ordinary Invoke gathers the stream: the same bytes, or the trailers' error.
    whole = lam.invoke(FunctionName=fn_name, Payload=json.dumps({}))
    assert whole["Payload"].read() == b"custom first\ncustom second\n"
    assert "FunctionError" not in whole
    failed = lam.invoke(FunctionName=fn_name, Payload=json.dumps({"fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "Custom.Broken"


def test_a_streamed_response_stops_at_20_mib_with_lambdas_error(lam: Any, fn_name: str) -> None:
    node(lam, fn_name, BIG_JS, timeout=60)
    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=json.dumps({"mib": 20}))
    body, complete = drain(events_of(resp))
    assert len(body) == STREAM_LIMIT
    assert "ErrorCode" not in complete

    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=json.dumps({"mib": 20, "extra": 1}))
    body, complete = drain(events_of(resp))
    assert len(body) == STREAM_LIMIT  # what fit was sent; nothing past the limit
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert str(STREAM_LIMIT) in complete["ErrorDetails"]


def test_runtimes_that_answer_whole_stream_one_chunk(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": "def handler(event, context):\n    return {'hello': event['name']}\n"})
    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=json.dumps({"name": "py"}))
    assert resp["StatusCode"] == 200
    events = list(events_of(resp))
    assert events[0] == {"PayloadChunk": {"Payload": b'{"hello": "py"}'}}
    assert len(events) == 2 and "ErrorCode" not in events[1]["InvokeComplete"]

    plain = f"{fn_name}-node"
    node(lam, plain, PLAIN_NODE_JS)
    resp = lam.invoke_with_response_stream(FunctionName=plain, Payload=json.dumps({"n": 1}))
    body, complete = drain(events_of(resp))
    assert json.loads(body) == {"plain": True, "got": {"n": 1}}
    assert "ErrorCode" not in complete

    # A function that fails answering whole: no chunk, its error in InvokeComplete.
    failing = f"{fn_name}-fails"
    create(lam, failing, {"app.py": "def handler(event, context):\n    raise ValueError('nope')\n"})
    resp = lam.invoke_with_response_stream(FunctionName=failing, Payload=b"{}")
    body, complete = drain(events_of(resp))
    assert body == b""
    assert complete["ErrorCode"] == "ValueError"
    assert complete["ErrorDetails"] == "nope"


def test_an_error_after_the_first_byte_ends_the_stream_with_its_code(lam: Any, fn_name: str) -> None:
    node(lam, fn_name, FAILING_JS)
    resp = lam.invoke_with_response_stream(FunctionName=fn_name, Payload=b"{}")
    body, complete = drain(events_of(resp))
    assert body == b"partial"
    assert complete["ErrorCode"] == "Error"
    assert complete["ErrorDetails"] == "boom after the first byte"


def test_invoke_with_response_stream_refuses_what_invoke_refuses(lam: Any, fn_name: str) -> None:
    with pytest.raises(ClientError) as missing:
        lam.invoke_with_response_stream(FunctionName=f"{fn_name}-missing", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    create(lam, fn_name, {"app.py": "def handler(event, context):\n    return 1\n"})
    with pytest.raises(ClientError) as bad:
        lam.invoke_with_response_stream(FunctionName=fn_name, Payload=b"{not json")
    assert bad.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as bad_context:
        lam.invoke_with_response_stream(FunctionName=fn_name, Payload=b"{}", ClientContext="not base64!")
    assert bad_context.value.response["Error"]["Code"] == "InvalidParameterValueException"
    dry = lam.invoke_with_response_stream(FunctionName=fn_name, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204


def _zip_executable(name: str, source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        zf.writestr(info, source)
    return buf.getvalue()
