"""Node.js functions (nodejs20.x) end to end, held to the bar of the Python suite: CommonJS and ES
module handlers (.js, .mjs, .cjs, "type": "module", a subdirectory), async and callback handlers
with callbackWaitsForEmptyEventLoop, the context object and environment, errors and init errors
as Lambda's Node runtime reports them, crashes, timeouts, the memory limit, logs, warm reuse and
the retirement of environments on updates. Everything runs through the real server and boto3,
with the host's node behind Stratus's runtime client (stratus/runtimes/nodeboot/index.mjs).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.e2e.conftest import ROLE, Server, create, make_zip
from tests.e2e.test_invoke import (
    UUID_RE,
    deploy,
    failed,
    host_pid,
    invoke,
    ok,
    pid_alive,
    poll,
    tail,
    update_code,
    wait_gone,
)

RUNTIME = "nodejs20.x"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"

# What every test handler reports: the environment it ran in (a token of its own, and "uid:pid"
# like the Python suite's handlers, for test_invoke.wait_gone to find the process), a module-level
# counter, the context and the environment variables.
DESCRIBE = """
// Which environment this is: uids and pids are reused, this never is.
const instance = crypto.randomUUID();
let count = 0;
function envId() {
  return `${process.getuid()}:${process.pid}`;
}
function describe(flavour, event, context) {
  count += 1;
  return {
    flavour,
    event,
    count,
    instance,
    env_id: envId(),
    function_name: context.functionName,
    function_version: context.functionVersion,
    invoked_function_arn: context.invokedFunctionArn,
    memory_limit_in_mb: context.memoryLimitInMB,
    aws_request_id: context.awsRequestId,
    log_group_name: context.logGroupName,
    log_stream_name: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop,
    client_context: context.clientContext ?? null,
    env: process.env,
    cwd: process.cwd(),
  };
}
"""

# One zip holding a handler of every module flavour; each function points at one of them.
MAIN_CJS = (
    DESCRIBE
    + """
const timers = [];

exports.handler = (event, context) => {
  switch (event.op) {
    case "throw":  // thrown synchronously by a plain function
      return null.missing;
    case "reject":
      return Promise.reject(new RangeError("rejected on purpose"));
    case "string":
      throw "a plain string";
    case "exit":
      process.exit(3);
    case "uncaught":  // thrown from a timer while the invocation is still running
      setTimeout(() => { throw new Error("thrown from a timer"); }, 50);
      return new Promise((resolve) => setTimeout(resolve, 5000));
    case "unhandled-rejection":
      Promise.reject(new Error("nobody handles this"));
      return new Promise((resolve) => setTimeout(resolve, 5000));
    case "log": {
      console.log("log-line", event.tag);
      console.info("info-line %s", event.tag);
      console.warn("warn-line", event.tag);
      console.error("error-line", event.tag);
      console.log(`multi-line ${event.tag}\\nsecond part\\nthird part`);
      console.log({ an: "object", tag: event.tag });
      return Promise.resolve(context.awsRequestId);
    }
    case "sleep":
      return new Promise((resolve) => setTimeout(() => resolve(describe("cjs", event, context)), event.ms));
    case "pending-timer":  // an async answer does not wait for a timer it leaves behind
      return (async () => {
        const result = { timer: [] };
        setTimeout(() => { result.timer.push("fired"); timers.push(event.tag); }, 300);
        return result;
      })();
    case "timers":
      return Promise.resolve(timers);
    case "heartbeat":  // logs on, between invocations too
      setInterval(() => console.log("heartbeat"), 20);
      break;
    case "busy-after-answer":  // keeps the runtime from getting back to the Runtime API for a while
      setTimeout(() => { const end = Date.now() + event.ms; while (Date.now() < end); }, 0);
      break;
  }
  return Promise.resolve(describe("cjs", event, context));
};

exports.nested = { deeper: { handler: async (event, context) => describe("nested", event, context) } };
"""
)

ESM = (
    DESCRIBE
    + """
// A top-level await: an ES module's init may be asynchronous.
const loadedAt = await new Promise((resolve) => setTimeout(() => resolve("after-tla"), 10));

export const handler = async (event, context) => ({ ...describe("esm", event, context), loadedAt });
"""
)

CJS_EXT = (
    DESCRIBE
    + """
module.exports = { handler: async (event, context) => describe("cjs-ext", event, context) };
"""
)

MODULE_TYPE_JS = (
    DESCRIBE
    + """
import { helper } from "./helper.js";

export async function handler(event, context) {
  return { ...describe("type-module", event, context), helped: helper(21) };
}
"""
)

SUBDIR_JS = (
    DESCRIBE
    + """
const { double } = require("./lib/double");

exports.handler = async (event, context) => ({ ...describe("subdir", event, context), doubled: double(21) });
"""
)

CALLBACK_JS = (
    DESCRIBE
    + """
const fs = require("node:fs");

// The effects of work that outlived its invocation's callback.
const seen = [];

exports.handler = function (event, context, callback) {
  if (event.op === "fail") return callback(new Error("failed through the callback"));
  if (event.op === "describe") return callback(null, describe("callback", event, context));
  if (event.op === "forget") return;  // never calls back: Lambda answers null once the loop empties
  context.callbackWaitsForEmptyEventLoop = event.wait;
  // The answer is the object given to the callback, serialised when the runtime posts it: when
  // the runtime waits for the event loop to empty, the pending work's change is in the answer.
  const result = { seenBefore: [...seen], pending: [] };
  const finish = (what) => { result.pending.push(what); seen.push(event.tag); };
  if (event.io) fs.readFile(__filename, () => finish("read"));
  else setTimeout(() => finish("timer"), 300);
  callback(null, result);
};
"""
)

CODE: dict[str, str | bytes] = {
    "index.js": MAIN_CJS,
    "esm.mjs": ESM,
    "legacy.cjs": CJS_EXT,
    "modern/package.json": json.dumps({"type": "module"}),
    "modern/index.js": MODULE_TYPE_JS,
    "modern/helper.js": "export const helper = (n) => n * 2;\n",
    "src/app.js": SUBDIR_JS,
    "src/lib/double.js": "exports.double = (n) => n * 2;\n",
    "callback.js": CALLBACK_JS,
}

HANDLERS = {
    "index.handler": "cjs",
    "esm.handler": "esm",
    "legacy.handler": "cjs-ext",
    "modern/index.handler": "type-module",
    "src/app.handler": "subdir",
    "index.nested.deeper.handler": "nested",
}


def node_deploy(
    lam: Any, name: str, files: dict[str, Any], handler: str = "index.handler", **kwargs: Any
) -> None:
    deploy(lam, name, files, Runtime=RUNTIME, Handler=handler, **kwargs)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def report_line(log: str) -> str:
    reports = [line for line in log.split("\n") if line.startswith("REPORT RequestId:")]
    assert len(reports) == 1, log
    return reports[0]


def wait_reaped(env_id: str, timeout: float = 15) -> None:
    """Wait until an environment's process is gone entirely (not even a zombie), then give the
    server a moment to take in its exit. Needed before invoking a function whose environment
    exits after answering: see test_invoke_right_after_a_crash_runs_in_a_fresh_environment."""
    deadline = time.monotonic() + timeout
    while (pid := host_pid(env_id)) is not None and Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"environment process {env_id} still exists after {timeout} s"
        time.sleep(0.05)
    time.sleep(0.3)


@pytest.fixture(scope="module")
def functions(mlam: Any) -> Iterator[Callable[..., str]]:
    """The function for a handler of the shared zip, created on first use and kept for the module."""
    created: dict[str, str] = {}

    def get(handler: str, **kwargs: Any) -> str:
        key = handler + json.dumps(kwargs, sort_keys=True)
        if key not in created:
            name = unique("node")
            node_deploy(mlam, name, CODE, handler, **kwargs)
            created[key] = name
        return created[key]

    yield get
    for name in created.values():
        mlam.delete_function(FunctionName=name)


@pytest.fixture(scope="module")
def main_fn(functions: Callable[..., str]) -> str:
    """The CommonJS function most tests share: Timeout 7 s, 256 MB, two variables of its own."""
    return functions(
        "index.handler",
        Timeout=7,
        MemorySize=256,
        Environment={"Variables": {"MY_VAR": "hello", "WITH_EQUALS": "a=b c"}},
    )


# -- 1. handlers of every module flavour --------------------------------------------------------------


@pytest.mark.parametrize("handler", list(HANDLERS))
def test_module_flavours(lam: Any, functions: Callable[..., str], handler: str) -> None:
    name = functions(handler)
    first = ok(*invoke(lam, name, {"n": 1}))
    assert first["flavour"] == HANDLERS[handler]
    assert first["event"] == {"n": 1}
    assert first["function_name"] == name
    assert first["env"]["_HANDLER"] == handler
    if handler == "esm.handler":
        assert first["loadedAt"] == "after-tla"
    if handler == "modern/index.handler":
        assert first["helped"] == 42
    if handler == "src/app.handler":
        assert first["doubled"] == 42
    second = ok(*invoke(lam, name, {"n": 2}))
    assert second["event"] == {"n": 2}
    assert (second["instance"], second["count"]) == (first["instance"], first["count"] + 1)


def test_package_json_type_module_at_the_root(lam: Any, fn_name: str) -> None:
    files = {
        "package.json": json.dumps({"name": "app", "type": "module"}),
        "index.js": MODULE_TYPE_JS,
        "helper.js": "export const helper = (n) => n * 3;\n",
    }
    node_deploy(lam, fn_name, files)
    out = ok(*invoke(lam, fn_name, {"n": 1}))
    assert (out["flavour"], out["helped"], out["event"]) == ("type-module", 63, {"n": 1})


def test_callback_handler(lam: Any, functions: Callable[..., str]) -> None:
    name = functions("callback.handler")
    out = ok(*invoke(lam, name, {"op": "describe"}))
    assert out["flavour"] == "callback"
    assert out["waits"] is True  # Lambda's default
    err = failed(*invoke(lam, name, {"op": "fail"}))
    assert err["errorType"] == "Error"
    assert err["errorMessage"] == "failed through the callback"
    assert any("callback.js" in line for line in err["trace"]), err


@pytest.mark.parametrize("work", ["timer", "read"])
def test_callback_waits_for_the_empty_event_loop(lam: Any, functions: Callable[..., str], work: str) -> None:
    name = functions("callback.handler")
    io = work == "read"
    before = ok(*invoke(lam, name, {"op": "describe"}))
    tags = [uuid.uuid4().hex for _ in range(3)]
    answers = [ok(*invoke(lam, name, {"wait": True, "io": io, "tag": tag})) for tag in tags]
    for i, answer in enumerate(answers):
        # The answer was posted only once the pending work (a 300 ms timer, or a file read) had
        # run: its change is in it... (The file read, whose end leaves nothing that keeps node
        # alive, once made node exit with status 0 before the answer was posted.)
        assert answer["pending"] == [work], answer
        # ...and its effect on the module is there for the next invoke of the environment.
        if i:
            assert answer["seenBefore"][-1] == tags[i - 1], answer
    after = ok(*invoke(lam, name, {"op": "describe"}))
    assert (after["instance"], after["count"]) == (before["instance"], before["count"] + 1)


def test_callback_without_waiting_answers_at_once(lam: Any, functions: Callable[..., str]) -> None:
    name = functions("callback.handler")
    out = ok(*invoke(lam, name, {"wait": False, "tag": "no-wait"}))
    # Posted at the callback, before the timer could run (it runs later, in the environment).
    assert out["pending"] == [], out


def test_callback_never_called_answers_null(lam: Any, functions: Callable[..., str]) -> None:
    name = functions("callback.handler")
    before = ok(*invoke(lam, name, {"op": "describe"}))
    assert ok(*invoke(lam, name, {"op": "forget"})) is None
    after = ok(*invoke(lam, name, {"op": "describe"}))
    assert after["instance"] == before["instance"]  # the environment lives on


def test_async_handler_does_not_wait_for_its_timers(lam: Any, main_fn: str) -> None:
    out = ok(*invoke(lam, main_fn, {"op": "pending-timer", "tag": "t1"}))
    assert out == {"timer": []}
    # The timer still runs in the environment afterwards.
    later = poll(lambda: ok(*invoke(lam, main_fn, {"op": "timers"})), lambda timers: "t1" in timers)
    assert "t1" in later, later


# -- 2. the context object and the environment -----------------------------------------------------------


def test_context_object(lam: Any, main_fn: str) -> None:
    resp, payload = invoke(lam, main_fn, LogType="Tail")
    out = ok(resp, payload)
    assert out["function_name"] == main_fn
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == ARN_PREFIX + main_fn
    assert out["memory_limit_in_mb"] == "256"  # a string, as Lambda's Node runtime gives it
    assert UUID_RE.match(out["aws_request_id"]), out
    assert f"START RequestId: {out['aws_request_id']} Version: $LATEST" in tail(resp)
    assert f"REPORT RequestId: {out['aws_request_id']}\t" in report_line(tail(resp))
    assert out["log_group_name"] == f"/aws/lambda/{main_fn}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", out["log_stream_name"]), out
    assert 0 < out["remaining"] <= 7000
    assert out["waits"] is True
    assert out["client_context"] is None

    second = ok(*invoke(lam, main_fn))
    assert second["aws_request_id"] != out["aws_request_id"]

    qualified = ok(*invoke(lam, main_fn, Qualifier="$LATEST"))
    assert qualified["invoked_function_arn"] == f"{ARN_PREFIX}{main_fn}:$LATEST"

    client_context = {
        "custom": {"tenant": "t-1", "n": 2},
        "env": {"locale": "en"},
        "client": {"appTitle": "x"},
    }
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    with_cc = ok(*invoke(lam, main_fn, ClientContext=encoded))
    assert with_cc["client_context"] == client_context


def test_invoke_response_carries_the_request_id(lam: Any, main_fn: str) -> None:
    resp, out = invoke(lam, main_fn)
    assert ok(resp, out)["aws_request_id"] == resp["ResponseMetadata"].get("RequestId")


def test_context_through_a_version_and_an_alias(lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, CODE)
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    lam.create_alias(FunctionName=fn_name, Name="live", FunctionVersion=version)

    resp, payload = invoke(lam, fn_name, Qualifier="live")
    out = ok(resp, payload)
    assert resp["ExecutedVersion"] == version
    assert out["invoked_function_arn"] == f"{ARN_PREFIX}{fn_name}:live"
    assert out["function_version"] == version
    assert out["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == version

    by_version = ok(*invoke(lam, fn_name, Qualifier=version))
    assert by_version["invoked_function_arn"] == f"{ARN_PREFIX}{fn_name}:{version}"


def test_environment_variables(lam: Any, main_fn: str) -> None:
    out = ok(*invoke(lam, main_fn))
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == main_fn
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{main_fn}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == out["log_stream_name"]
    assert env["_HANDLER"] == "index.handler"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"]), env
    assert env["TZ"] == ":UTC"
    assert env["MY_VAR"] == "hello"
    assert env["WITH_EQUALS"] == "a=b c"
    assert env["LAMBDA_TASK_ROOT"] == out["cwd"]
    if out["cwd"] == "/var/task":  # full isolation; the process backend runs the code where it is
        assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert "/var/task" in env["NODE_PATH"].split(":")
    assert not any(k.startswith(("STRATUS_", "_STRATUS")) for k in env), sorted(env)


# -- 3. errors as Lambda's Node runtime reports them -------------------------------------------------------


def test_errors_are_reported_and_the_environment_keeps_serving(lam: Any, main_fn: str) -> None:
    before = ok(*invoke(lam, main_fn))

    resp, payload = invoke(lam, main_fn, {"op": "throw"}, LogType="Tail")
    thrown = failed(resp, payload)
    assert thrown["errorType"] == "TypeError"
    assert thrown["errorMessage"] == "Cannot read properties of null (reading 'missing')"
    assert thrown["trace"][0] == "TypeError: Cannot read properties of null (reading 'missing')"
    assert any("index.js" in line for line in thrown["trace"]), thrown
    # The runtime logs the error as Lambda's does: one line, tab-separated, level ERROR.
    assert re.search(r"\tERROR\tInvoke Error \t\{.*\"errorType\":\"TypeError\"", tail(resp)), tail(resp)

    rejected = failed(*invoke(lam, main_fn, {"op": "reject"}))
    assert rejected["errorType"] == "RangeError"
    assert rejected["errorMessage"] == "rejected on purpose"
    assert rejected["trace"][0] == "RangeError: rejected on purpose"

    string = failed(*invoke(lam, main_fn, {"op": "string"}))
    assert string == {"errorType": "string", "errorMessage": "a plain string", "trace": []}

    after = ok(*invoke(lam, main_fn))
    assert after["instance"] == before["instance"]  # handled errors do not cost the environment
    assert after["count"] == before["count"] + 1  # the failed invokes never reached describe()


# -- 4. init errors ------------------------------------------------------------------------------------------

GOOD_INDEX: dict[str, str | bytes] = {"index.js": "exports.handler = async () => 'fixed';\n"}

INIT_FAILURES: dict[str, tuple[dict[str, str], str, str, str]] = {
    "missing-module": (
        {"other.js": "exports.handler = async () => 1;\n"},
        "index.handler",
        "Runtime.ImportModuleError",
        "Cannot find module 'index'",
    ),
    "missing-dependency": (
        {"index.js": "const x = require('no-such-package');\nexports.handler = async () => x;\n"},
        "index.handler",
        "Runtime.ImportModuleError",
        "Cannot find module 'no-such-package'",
    ),
    "handler-not-exported": (
        {"index.js": "exports.other = async () => 1;\n"},
        "index.handler",
        "Runtime.HandlerNotFound",
        "index.handler is undefined or not exported",
    ),
    "syntax-error": (
        {"index.js": "exports.handler = async (event => {\n  return 1;\n};\n"},
        "index.handler",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError",
    ),
    # Lambda's Node runtime reports any other error of the module's load as itself.
    "import-raises": (
        {"index.js": "throw new RangeError('boom at import');\n"},
        "index.handler",
        "RangeError",
        "boom at import",
    ),
    "esm-import-raises": (
        {"index.mjs": "await Promise.resolve();\nthrow new TypeError('boom in an ES module');\n"},
        "index.handler",
        "TypeError",
        "boom in an ES module",
    ),
    "esm-missing-package": (
        {"index.mjs": "import x from 'no-such-package';\nexport const handler = async () => x;\n"},
        "index.handler",
        "Runtime.ImportModuleError",
        "no-such-package",
    ),
    "malformed-handler": (
        {"index.js": "exports.handler = async () => 1;\n"},
        "index",
        "Runtime.MalformedHandlerName",
        "Bad handler",
    ),
}


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [pytest.param(*case, id=name) for name, case in INIT_FAILURES.items()],
)
def test_init_error_is_reported_and_fixing_the_code_recovers(
    lam: Any, fn_name: str, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    node_deploy(lam, fn_name, files, handler)
    for _ in range(2):  # each invoke retries init in a fresh environment and fails the same way
        resp, payload = invoke(lam, fn_name, LogType="Tail")
        err = failed(resp, payload)
        assert err["errorType"] == error_type, err
        assert message in err["errorMessage"], err
        log = tail(resp)
        assert "START RequestId" in log and "REPORT RequestId" in log, log
    if handler != "index.handler":
        lam.update_function_configuration(FunctionName=fn_name, Handler="index.handler")
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    update_code(lam, fn_name, GOOD_INDEX)
    assert ok(*invoke(lam, fn_name)) == "fixed"


# -- 5. crashes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "error_type", "message", "log_line"),
    [
        ("exit", "Runtime.ExitError", "Runtime exited with error: exit status 3", None),
        # Lambda's Node runtime posts an uncaught exception as the invocation's error, then exits.
        ("uncaught", "Error", "thrown from a timer", "Uncaught Exception"),
        (
            "unhandled-rejection",
            "Runtime.UnhandledPromiseRejection",
            "nobody handles this",
            "Unhandled Promise Rejection",
        ),
    ],
)
def test_crash_is_reported_and_next_invoke_gets_a_fresh_environment(
    lam: Any, fn_name: str, op: str, error_type: str, message: str, log_line: str | None
) -> None:
    node_deploy(lam, fn_name, CODE, Timeout=10)
    before = ok(*invoke(lam, fn_name))
    resp, payload = invoke(lam, fn_name, {"op": op}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == error_type, err
    assert message in err["errorMessage"], err
    log = tail(resp)
    assert "REPORT RequestId" in log
    if log_line:  # the runtime says why it is going down, as Lambda's does
        assert re.search(f"\tERROR\t{log_line} \t\\{{.*{message}", log), log
    wait_reaped(before["env_id"])

    after = ok(*invoke(lam, fn_name))
    assert after["instance"] != before["instance"]
    assert after["count"] == 1


@pytest.mark.parametrize("op", ["uncaught", "unhandled-rejection"])
def test_invoke_right_after_a_crash_runs_in_a_fresh_environment(lam: Any, fn_name: str, op: str) -> None:
    node_deploy(lam, fn_name, CODE, Timeout=10)
    before = ok(*invoke(lam, fn_name))
    failed(*invoke(lam, fn_name, {"op": op}))
    # At once, as a busy caller would: Lambda runs this in a new environment.
    after = ok(*invoke(lam, fn_name))
    assert after["instance"] != before["instance"] and after["count"] == 1


def test_work_after_the_answer_is_bounded_by_the_timeout(lam: Any, fn_name: str) -> None:
    # 2 s rather than 1: the next invoke starts a new environment (128 MB: half a vCPU) while the
    # busy one still burns its share, and on a loaded two-core machine 1 s was seen to pass.
    node_deploy(lam, fn_name, CODE, Timeout=2)
    busy = ok(*invoke(lam, fn_name, {"op": "busy-after-answer", "ms": 8000}))
    # Lambda's invoke phase lasts until the runtime asks for the next event, and the timeout limits
    # all of it: the busy environment is stopped at 2 s, and the next invoke runs in a new one.
    after = ok(*invoke(lam, fn_name))
    assert after["instance"] != busy["instance"]


# -- 6. timeout and memory -------------------------------------------------------------------------------


def test_timeout(lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, CODE, Timeout=1)
    before = ok(*invoke(lam, fn_name))
    resp, payload = invoke(lam, fn_name, {"op": "sleep", "ms": 3000}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == "Sandbox.Timedout", err
    assert "Task timed out after 1.00 seconds" in err["errorMessage"], err
    assert "Task timed out after 1.00 seconds" in tail(resp)
    wait_gone(before["env_id"])
    after = ok(*invoke(lam, fn_name))
    assert after["instance"] != before["instance"] and after["count"] == 1


MEMORY_JS = """
const instance = crypto.randomUUID();
const held = [];
exports.handler = async (event) => {
  for (let i = 0; i < event.mb / 10; i++) held.push(Buffer.alloc(10 * 1024 * 1024, 1));
  const envId = `${process.getuid()}:${process.pid}`;
  const mb = held.reduce((n, b) => n + b.length, 0) / (1024 * 1024);
  held.length = 0;
  return { instance, env_id: envId, mb };
};
"""


def test_memory_limit_is_enforced(lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, {"index.js": MEMORY_JS}, MemorySize=128)
    small = ok(*invoke(lam, fn_name, {"mb": 20}))
    assert small["mb"] == 20

    resp, payload = invoke(lam, fn_name, {"mb": 400}, LogType="Tail")
    err = failed(resp, payload)
    # Buffers live outside V8's heap, so node's heap limit never triggers: the environment's
    # memory limit kills node, as it does a Python function (test_invoke.test_memory_limit_is_enforced).
    assert err["errorType"] == "Runtime.OutOfMemory", err
    assert "Memory Size: 128 MB" in tail(resp)
    wait_gone(small["env_id"])

    again = ok(*invoke(lam, fn_name, {"mb": 20}))
    assert again["instance"] != small["instance"]


# -- 7. logs ----------------------------------------------------------------------------------------------


def test_log_tail_and_report_lines(lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, CODE)
    resp, request_id = invoke(lam, fn_name, {"op": "log", "tag": "first"}, LogType="Tail")
    ok(resp, request_id)
    log = tail(resp)
    lines = log.split("\n")  # not splitlines(): a multi-line message keeps its \r inside one line
    stamp = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
    rid = re.escape(request_id)
    for level, text in [
        ("INFO", "log-line first"),
        ("INFO", "info-line first"),
        ("WARN", "warn-line first"),
        ("ERROR", "error-line first"),
        ("INFO", "multi-line first\rsecond part\rthird part"),
        ("INFO", "{ an: 'object', tag: 'first' }"),
    ]:
        pattern = re.compile(f"{stamp}\t{rid}\t{level}\t{re.escape(text)}")
        assert any(pattern.fullmatch(line) for line in lines), (text, log)

    assert f"START RequestId: {request_id} Version: $LATEST" in lines, log
    assert f"END RequestId: {request_id}" in lines, log
    report = report_line(log)
    for part in (
        "Duration:",
        "Billed Duration:",
        "Memory Size: 128 MB",
        "Max Memory Used:",
        "Init Duration:",
    ):
        assert part in report, report
    order = [log.index(s) for s in ("START RequestId", "log-line first", "END RequestId", "REPORT")]
    assert order == sorted(order), log

    resp, request_id2 = invoke(lam, fn_name, {"op": "log", "tag": "second"}, LogType="Tail")
    ok(resp, request_id2)
    log2 = tail(resp)
    assert f"{request_id2}\tINFO\tlog-line second" in log2
    assert "log-line first" not in log2
    assert "Init Duration" not in report_line(log2)  # warm


def test_logs_are_stored(server: Server, lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, CODE)
    tag = uuid.uuid4().hex
    resp, request_id = invoke(lam, fn_name, {"op": "log", "tag": tag})
    ok(resp, request_id)
    logs = server.client("logs")
    events = poll(
        lambda: logs.filter_log_events(logGroupName=f"/aws/lambda/{fn_name}")["events"],
        lambda evs: any(e["message"].startswith("REPORT RequestId") for e in evs),
    )
    messages = [e["message"].rstrip("\n") for e in events or []]
    assert any(m.endswith(f"\t{request_id}\tWARN\twarn-line {tag}") for m in messages), messages
    # The multi-line message is one log event.
    multi = [m for m in messages if f"multi-line {tag}" in m]
    assert len(multi) == 1 and multi[0].endswith("\rsecond part\rthird part"), messages
    assert any(m.startswith(f"START RequestId: {request_id}") for m in messages), messages
    assert any(m.startswith(f"REPORT RequestId: {request_id}") for m in messages), messages


# -- 8. warm reuse and retirement on updates -----------------------------------------------------------


def test_updates_retire_old_environments(lam: Any, fn_name: str) -> None:
    node_deploy(lam, fn_name, CODE)
    one = ok(*invoke(lam, fn_name))
    two = ok(*invoke(lam, fn_name))
    assert (two["instance"], two["count"]) == (one["instance"], one["count"] + 1)
    assert "SETTING" not in two["env"]

    lam.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {"SETTING": "on"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    three = ok(*invoke(lam, fn_name))
    assert three["env"]["SETTING"] == "on"
    assert three["instance"] != one["instance"] and three["count"] == 1
    wait_gone(one["env_id"])

    update_code(
        lam, fn_name, {"index.js": DESCRIBE + "exports.handler = async (e, c) => describe('v2', e, c);\n"}
    )
    four = ok(*invoke(lam, fn_name))
    assert four["flavour"] == "v2"
    assert four["env"]["SETTING"] == "on"
    assert four["instance"] != three["instance"] and four["count"] == 1
    wait_gone(three["env_id"])


# -- 9. a runtime without its node -----------------------------------------------------------------------


def host_node_major() -> int | None:
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def test_nodejs22_needs_a_node_22(lam: Any, fn_name: str) -> None:
    code = {"ZipFile": make_zip(GOOD_INDEX)}
    if host_node_major() == 22:
        node_deploy(lam, fn_name, GOOD_INDEX)
        lam.update_function_configuration(FunctionName=fn_name, Runtime="nodejs22.x")
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
        assert ok(*invoke(lam, fn_name)) == "fixed"
        return
    with pytest.raises(ClientError) as info:
        lam.create_function(
            FunctionName=fn_name, Runtime="nodejs22.x", Role=ROLE, Handler="index.handler", Code=code
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "node 22" in info.value.response["Error"]["Message"], info.value.response
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName=fn_name)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"  # nothing was created


# -- 10. the process backend ------------------------------------------------------------------------------


def test_process_backend_runs_node(fresh_server: Any, fn_name: str) -> None:
    srv = fresh_server(STRATUS_ISOLATION="process")
    lam = srv.client("lambda")
    create(lam, fn_name, CODE, Runtime=RUNTIME, Handler="esm.handler")
    lam.get_waiter("function_active_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    resp, payload = invoke(lam, fn_name, {"n": 7}, LogType="Tail")
    out = ok(resp, payload)
    assert out["flavour"] == "esm" and out["event"] == {"n": 7}
    assert out["env"]["LAMBDA_TASK_ROOT"] == out["cwd"]
    assert "Init Duration" in report_line(tail(resp))
    again = ok(*invoke(lam, fn_name))
    assert (again["instance"], again["count"]) == (out["instance"], 2)

    # An environment of this backend can outlive a server that is killed outright; its runtime
    # client must then notice the Runtime API is gone and exit, even when the function logs on
    # into the pipe nobody reads any more. Here the server dies in the middle of an invocation.
    chatty = unique("chatty")
    create(lam, chatty, CODE, Runtime=RUNTIME, Handler="index.handler")
    lam.get_waiter("function_active_v2").wait(FunctionName=chatty, WaiterConfig={"Delay": 1})
    env_id = ok(*invoke(lam, chatty, {"op": "heartbeat"}))["env_id"]
    pid = host_pid(env_id)
    assert pid is not None and pid_alive(pid)
    running = threading.Thread(
        target=invoke_quietly, args=(srv.client("lambda"), chatty, {"op": "sleep", "ms": 1500})
    )
    running.start()
    time.sleep(0.5)
    srv.stop(signal.SIGKILL)
    running.join(timeout=30)
    try:
        wait_gone(pid, timeout=10)
    finally:
        if pid_alive(pid):  # what this test started does not outlive it
            os.kill(pid, signal.SIGKILL)


def invoke_quietly(lam: Any, name: str, event: Any) -> None:
    """An invoke whose server is killed before it answers."""
    with contextlib.suppress(BotoCoreError, ClientError):
        invoke(lam, name, event)
