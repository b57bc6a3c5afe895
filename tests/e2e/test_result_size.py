"""Function results are capped at Lambda's 6 MB on every path a runtime answers through.

The attack: a 128 MB function sent 1 GB through its result channel and the server held all of it
(83 MB -> 1.13 GB RSS), and 7 MB or 100 MB results came back whole. Here each runtime path (Python
over the private channel, Python over the HTTP Runtime API, the process backend, Node.js, a custom
`bootstrap` with curl) answers too large a result, error or init error with Lambda's
`Function.ResponseSizeTooLarge`; a 1 GB stream, made lazily by the function, leaves the server's
peak RSS within 64 MB of where it was; the environment is replaced; a result of exactly the
limit still comes back whole.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROLE, Server, allow_api_gateway, create
from tests.e2e.http_client import call
from tests.e2e.test_custom_runtime import zip_with
from tests.e2e.test_invoke import deploy, invoke, ok

LIMIT = 6291556  # bytes: Lambda's synchronous response limit, as its error message states it
TOO_LARGE = {
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({LIMIT} bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
GROWTH_LIMIT = 64 * 1024 * 1024  # what the server may grow by while a 1 GB answer is attempted

PY_APP = """
import http.client, json, os, struct, sys, uuid

INSTANCE = uuid.uuid4().hex  # which environment this is: pids and uids are reused, this is not
LIMIT = 6291556
GIB = 1 << 30
CHUNK = b"x" * (1 << 20)


def handler(event, context):
    op = event.get("op")
    if op == "exact":
        return "x" * (LIMIT - 2)  # the JSON quotes make it exactly LIMIT bytes
    if op == "big":
        return "x" * (7 * 1024 * 1024)
    if op == "raise":
        raise RuntimeError("m" * (10 * 1024 * 1024))
    if op == "stream":
        return stream(event["via"], context.aws_request_id)
    return {"instance": INSTANCE}


def stream(via, request_id):
    # 1 GB, made a megabyte at a time: the function never holds it.
    if via == "channel":  # a RESPONSE frame that declares 1 GB, written straight to the channel
        sock = sys.modules["runtime_client"]._sock
        head = json.dumps({"id": request_id}).encode()
        sock.sendall(struct.pack("!IBH", 3 + len(head) + GIB, 3, len(head)) + head)
        for _ in range(GIB // len(CHUNK)):
            sock.sendall(CHUNK)
        return "sent"
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    path = f"/2018-06-01/runtime/invocation/{request_id}/response"
    body = (CHUNK for _ in range(GIB // len(CHUNK)))
    if via == "chunked":
        conn.request("POST", path, body=body, encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    else:
        conn.request("POST", path, body=body, headers={"Content-Length": str(GIB)})
    return conn.getresponse().status
"""

PY_INIT_ERROR = """
raise RuntimeError("m" * (10 * 1024 * 1024))

def handler(event, context):
    return "unreachable"
"""

NODE_APP = """
const http = require("node:http");
const instance = require("node:crypto").randomUUID();
const LIMIT = 6291556;
const GIB = 1 << 30;

function stream(requestId, chunked) {
  // 1 GB, written a megabyte at a time as the socket drains: the function never holds it.
  return new Promise((resolve, reject) => {
    const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
    const headers = chunked ? {} : { "Content-Length": String(GIB) };
    const path = `/2018-06-01/runtime/invocation/${requestId}/response`;
    const req = http.request({ host, port, method: "POST", path, headers }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", reject);
    const chunk = Buffer.alloc(1 << 20, 120);
    let sent = 0;
    const pump = () => {
      while (sent < GIB / chunk.length) {
        sent += 1;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      req.end();
    };
    pump();
  });
}

exports.handler = async (event, context) => {
  switch (event.op) {
    case "exact": return "x".repeat(LIMIT - 2);
    case "big": return "x".repeat(7 * 1024 * 1024);
    case "raise": throw new Error("m".repeat(10 * 1024 * 1024));
    case "stream": return await stream(context.awsRequestId, event.via === "chunked");
    default: return { instance };
  }
};
"""

# A custom runtime in shell: curl posts files with a Content-Length, and stdin chunked.
BOOTSTRAP = """\
#!/bin/sh
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
LIMIT=6291556
INSTANCE="$(cat /proc/sys/kernel/random/uuid)"
post() {  # post ROUTE FILE-OR-DASH [extra curl args]: a file goes with its length, - chunked
  route=$1; src=$2; shift 2
  curl -sS -o /dev/null -X POST -H 'Expect:' "$@" -T "$src" "$API/$route" || true
}
xs() { head -c "$1" /dev/zero | tr '\\0' "$2"; }
if [ "$_HANDLER" = "huge.init" ]; then
  head -c 1073741824 /dev/zero | post init/error - -H 'Lambda-Runtime-Function-Error-Type: Big'
  exit 1
fi
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  rm -f "$HEADERS" /tmp/body
  case "$EVENT" in
    *exact*) { printf '"'; xs $((LIMIT - 2)) x; printf '"'; } > /tmp/body
             post "invocation/$ID/response" /tmp/body ;;
    *big*) { printf '"'; xs 7340032 x; printf '"'; } > /tmp/body
           post "invocation/$ID/response" /tmp/body ;;
    *raise*) { printf '{"errorType": "Big", "errorMessage": "'; xs 10485760 m; printf '"}'; } > /tmp/body
             post "invocation/$ID/error" /tmp/body -H 'Lambda-Runtime-Function-Error-Type: Big' ;;
    *stream*) head -c 1073741824 /dev/zero | post "invocation/$ID/response" - ;;
    *) printf '{"instance": "%s"}' "$INSTANCE" > /tmp/body
       post "invocation/$ID/response" /tmp/body ;;
  esac
done
"""


# -- helpers ----------------------------------------------------------------------------------


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@contextlib.contextmanager
def bounded_growth(server: Server) -> Iterator[None]:
    """The server's peak RSS during the block stays within GROWTH_LIMIT of its RSS before it.
    The peak (VmHWM) is reset first, so memory held only for a moment counts too."""
    assert server.proc is not None
    pid = server.proc.pid
    before = status_kb(pid, "VmRSS") * 1024
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    yield
    peak = status_kb(pid, "VmHWM") * 1024
    assert peak - before <= GROWTH_LIMIT, f"server grew from {before >> 20} MB to a peak of {peak >> 20} MB"


def too_large(resp: dict[str, Any], payload: Any) -> None:
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", str(payload)[:200]
    assert payload == TOO_LARGE, str(payload)[:200]


def instance(lam: Any, name: str) -> str:
    return str(ok(*invoke(lam, name, {}))["instance"])


def exact(lam: Any, name: str) -> None:
    """A result of exactly the limit comes back whole, and does not cost the environment."""
    before = instance(lam, name)
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"op": "exact"}))
    raw = resp["Payload"].read()
    assert "FunctionError" not in resp, raw[:200]
    assert len(raw) == LIMIT
    assert raw == b'"' + b"x" * (LIMIT - 2) + b'"'
    assert instance(lam, name) == before


def refused_then_fresh(lam: Any, name: str, event: dict[str, Any], server: Server | None = None) -> None:
    """The invoke gets Lambda's error, and the next one runs in a new environment."""
    before = instance(lam, name)
    with bounded_growth(server) if server is not None else contextlib.nullcontext():
        too_large(*invoke(lam, name, event))
    assert instance(lam, name) != before


def new_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Python -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "attacks"),
    [
        ({}, ("channel", "chunked")),
        ({"STRATUS_FAST_CHANNEL": "0"}, ("chunked", "length")),
        ({"STRATUS_ISOLATION": "process"}, ("chunked", "length")),
    ],
    ids=["fast-channel", "http-runtime-api", "process-backend"],
)
def test_python_results_are_capped(
    fresh_server: Any, fn_name: str, env: dict[str, str], attacks: tuple[str, ...]
) -> None:
    srv: Server = fresh_server(**env)
    lam = srv.client()
    deploy(lam, fn_name, {"app.py": PY_APP}, Timeout=60)
    exact(lam, fn_name)
    refused_then_fresh(lam, fn_name, {"op": "big"})
    refused_then_fresh(lam, fn_name, {"op": "raise"})  # an error document of 10 MB
    for via in attacks:
        refused_then_fresh(lam, fn_name, {"op": "stream", "via": via}, srv)


def test_python_init_error_is_capped(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PY_INIT_ERROR})
    too_large(*invoke(lam, fn_name, {}))


# -- Node.js ------------------------------------------------------------------------------------


def test_node_results_are_capped(server: Server, lam: Any, fn_name: str) -> None:
    # 512 MB: the Node client logs and posts the 10 MB error document, a few copies of it at once.
    create(
        lam,
        fn_name,
        {"index.js": NODE_APP},
        Runtime="nodejs20.x",
        Handler="index.handler",
        Timeout=60,
        MemorySize=512,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    exact(lam, fn_name)
    refused_then_fresh(lam, fn_name, {"op": "big"})
    refused_then_fresh(lam, fn_name, {"op": "raise"})
    for via in ("chunked", "length"):
        refused_then_fresh(lam, fn_name, {"op": "stream", "via": via}, server)


# -- custom runtimes ----------------------------------------------------------------------------


def deploy_bootstrap(lam: Any, name: str, handler: str = "function.handler") -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler=handler,
        Timeout=60,
        Code={"ZipFile": zip_with({"bootstrap": (BOOTSTRAP.encode(), 0o755)})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def test_custom_runtime_results_are_capped(server: Server, lam: Any, fn_name: str) -> None:
    deploy_bootstrap(lam, fn_name)
    exact(lam, fn_name)
    refused_then_fresh(lam, fn_name, {"op": "big"})
    refused_then_fresh(lam, fn_name, {"op": "raise"})
    refused_then_fresh(lam, fn_name, {"op": "stream"}, server)


def test_custom_runtime_init_error_is_capped(server: Server, lam: Any, fn_name: str) -> None:
    deploy_bootstrap(lam, fn_name, handler="huge.init")
    with bounded_growth(server):
        too_large(*invoke(lam, fn_name, {}))


# -- HTTP fronts ---------------------------------------------------------------------------------

URL_APP = """
def handler(event, context):
    size = int((event.get("queryStringParameters") or {}).get("size", "2"))
    return {"statusCode": 200, "body": "x" * size}
"""


def test_http_fronts_answer_too_large_results_as_aws_does(server: Server, mlam: Any) -> None:
    name = new_name("url-size")
    arn = deploy(mlam, name, {"app.py": URL_APP}, Timeout=30)["FunctionArn"]
    url = mlam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    small = call(url + "?size=5")
    assert small.status == 200 and small.body == b"xxxxx"
    # A function URL answers a function error, this one included, with 502 as AWS does.
    reply = call(url + f"?size={7 * 1024 * 1024}")
    assert reply.status == 502, reply.body[:200]
    assert reply.json() == {"Message": "Internal Server Error"}
    # An HTTP API answers it as it answers any function error here (500).
    gw = server.client("apigatewayv2")
    allow_api_gateway(mlam, name)
    api = gw.create_api(Name=new_name("size"), ProtocolType="HTTP", Target=arn)
    try:
        reply = call(api["ApiEndpoint"] + f"/?size={7 * 1024 * 1024}")
        assert reply.status == 500, reply.body[:200]
        assert reply.json() == {"message": "Internal Server Error"}
    finally:
        gw.delete_api(ApiId=api["ApiId"])
    assert call(url + "?size=3").body == b"xxx"
    mlam.delete_function(FunctionName=name)
