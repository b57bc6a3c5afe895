"""The invoke path end to end: real environments (one OS process each) behind the real server,
driven by boto3. Nothing here is mocked and nothing asserts how long something took."""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create, make_zip

# A handler that reports its environment: the pid, a module-level counter, and optionally sleeps.
PID_APP = """
import os, time, uuid

TOKEN = uuid.uuid4().hex  # one per environment (see CRASH_APP)

COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    env = "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)
    return {"pid": env, "count": COUNT, "stream": context.log_stream_name}
"""

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# -- helpers ----------------------------------------------------------------------------------


def deploy(lam: Any, name: str, files: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = create(lam, name, files, **kwargs)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    return result


def update_code(lam: Any, name: str, files: dict[str, Any]) -> None:
    lam.update_function_code(FunctionName=name, ZipFile=make_zip(files))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Invoke and return (the response, the decoded payload)."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs)
    raw = resp["Payload"].read()
    return resp, (json.loads(raw) if raw else None)


def tail(resp: dict[str, Any]) -> str:
    return base64.b64decode(resp["LogResult"]).decode("utf-8", "replace")


def ok(resp: dict[str, Any], payload: Any) -> Any:
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp, payload
    return payload


def failed(resp: dict[str, Any], payload: Any) -> dict[str, Any]:
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == "Unhandled", payload
    assert isinstance(payload, dict), payload
    return payload


def host_pid(env: int | str) -> int | None:
    """The host pid of an environment identified as "uid:pid" (as its handler sees them).

    With full isolation every environment is PID 1 of its own namespace but runs as a uid of its
    own, so the uid finds it; without, the pid is already the host's."""
    if isinstance(env, int):
        return env
    uid, pid = (int(x) for x in env.split(":")[:2])
    if pid != 1:
        return pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:") and int(line.split()[1]) == uid:
                return int(entry.name)
    return None


def pid_alive(env: int | str) -> bool:
    """True while the environment's process exists and is not a zombie."""
    pid = host_pid(env)
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_gone(env: int | str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(env):
            return
        time.sleep(0.1)
    raise AssertionError(f"environment process {env} still exists after {timeout} s")


def run_concurrently(server: Server, count: int, call: Callable[[Any], Any]) -> list[Any]:
    """Run `call(client)` in `count` threads at once, each with its own boto3 client. Each result
    is the call's return value or the exception it raised."""
    # The clients are made here: creating boto3 clients is not thread-safe.
    clients = [server.client("lambda") for _ in range(count)]
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(clients[i])
        except BaseException as e:  # reported to the test
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an invoke did not return"
    return results


def throttle_reason(error: ClientError) -> str | None:
    reason = error.response.get("Reason") or error.response.get("Error", {}).get("Reason")
    return str(reason) if reason is not None else None


def split_throttled(results: list[Any]) -> tuple[list[Any], list[ClientError]]:
    passed, throttled = [], []
    for r in results:
        if isinstance(r, ClientError):
            throttled.append(r)
        elif isinstance(r, BaseException):
            raise r
        else:
            passed.append(r)
    return passed, throttled


def assert_throttled(error: ClientError, reason: str) -> None:
    assert error.response["Error"]["Code"] == "TooManyRequestsException", error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert throttle_reason(error) == reason, error.response


# -- warm reuse and scale-out --------------------------------------------------------------------


def test_warm_reuse_keeps_module_state_and_pid(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP})
    first = ok(*invoke(lam, fn_name))
    second = ok(*invoke(lam, fn_name))
    third = ok(*invoke(lam, fn_name))
    assert [first["count"], second["count"], third["count"]] == [1, 2, 3]
    assert first["pid"] == second["pid"] == third["pid"]
    assert pid_alive(first["pid"])  # the environment stays up between invokes


def test_parallel_invokes_get_one_environment_each(server: Server, lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP})

    def call(client: Any) -> Any:
        return ok(*invoke(client, fn_name, {"sleep": 1}))

    results = run_concurrently(server, 5, call)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    pids = {r["pid"] for r in results}
    assert len(pids) == 5, results
    assert all(r["count"] == 1 for r in results), results  # each ran in a fresh environment
    # Afterwards, sequential invokes reuse those warm environments instead of creating more.
    again = ok(*invoke(lam, fn_name))
    assert again["pid"] in pids


# -- throttling ----------------------------------------------------------------------------------


def test_reserved_concurrency_throttles(server: Server, lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP}, Timeout=10)
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=1)

    results = run_concurrently(server, 2, lambda c: ok(*invoke(c, fn_name, {"sleep": 3})))
    passed, throttled = split_throttled(results)
    assert len(passed) == 1 and len(throttled) == 1, results
    assert_throttled(throttled[0], "ReservedFunctionConcurrentInvocationLimitExceeded")
    # The lease is given back: the next invoke runs.
    ok(*invoke(lam, fn_name))


def test_reserved_concurrency_zero_throttles_every_invoke(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP})
    lam.put_function_concurrency(FunctionName=fn_name, ReservedConcurrentExecutions=0)
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            invoke(lam, fn_name)
        assert_throttled(info.value, "ReservedFunctionConcurrentInvocationLimitExceeded")
    lam.delete_function_concurrency(FunctionName=fn_name)
    ok(*invoke(lam, fn_name))


def test_account_concurrency_limit_throttles(fresh_server: Any, fn_name: str) -> None:
    srv = fresh_server(STRATUS_CONCURRENCY_LIMIT="2", STRATUS_MIN_UNRESERVED_CONCURRENCY="0")
    lam = srv.client("lambda")
    deploy(lam, fn_name, {"app.py": PID_APP}, Timeout=10)

    results = run_concurrently(srv, 3, lambda c: ok(*invoke(c, fn_name, {"sleep": 3})))
    passed, throttled = split_throttled(results)
    assert len(passed) == 2 and len(throttled) == 1, results
    assert_throttled(throttled[0], "ConcurrentInvocationLimitExceeded")
    assert passed[0]["pid"] != passed[1]["pid"]


# -- idle stop and timeouts ------------------------------------------------------------------------


def test_idle_environment_stops_and_next_invoke_is_cold(fresh_server: Any, fn_name: str) -> None:
    srv = fresh_server(STRATUS_IDLE_TIMEOUT="1")
    lam = srv.client("lambda")
    deploy(lam, fn_name, {"app.py": PID_APP})
    first = ok(*invoke(lam, fn_name))
    wait_gone(first["pid"], timeout=15)

    resp, payload = invoke(lam, fn_name, LogType="Tail")
    second = ok(resp, payload)
    assert second["pid"] != first["pid"]
    assert second["count"] == 1
    assert "Init Duration" in tail(resp)


def test_timeout_kills_the_environment(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP}, Timeout=1)
    before = ok(*invoke(lam, fn_name))

    resp, payload = invoke(lam, fn_name, {"sleep": 5}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == "Sandbox.Timedout", err
    assert "Task timed out after 1.00 seconds" in err["errorMessage"], err
    assert "Task timed out after 1.00 seconds" in tail(resp)
    wait_gone(before["pid"])

    after = ok(*invoke(lam, fn_name))
    assert after["pid"] != before["pid"]
    assert after["count"] == 1  # a fresh environment


# -- function errors, init errors and crashes ------------------------------------------------------


def test_handler_exception_is_reported(lam: Any, fn_name: str) -> None:
    src = """
    import os, uuid

    TOKEN = uuid.uuid4().hex

    def handler(event, context):
        if event.get("fail"):
            raise ValueError("bad value 42")
        return "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)
    """
    deploy(lam, fn_name, {"app.py": src})
    pid = ok(*invoke(lam, fn_name))
    err = failed(*invoke(lam, fn_name, {"fail": True}))
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "bad value 42"
    assert isinstance(err["stackTrace"], list) and err["stackTrace"], err
    assert any("app.py" in line for line in err["stackTrace"]), err
    # A handled exception does not cost the environment.
    assert ok(*invoke(lam, fn_name)) == pid


GOOD_APP = {"app.py": "def handler(event, context):\n    return 'fixed'\n"}


INIT_FAILURES = {
    "missing-module": ({"other.py": "x = 1\n"}, "Runtime.ImportModuleError", "Unable to import module 'app'"),
    "missing-function": (
        {"app.py": "def not_the_handler(event, context):\n    return 1\n"},
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
    ),
    "syntax-error": (
        {"app.py": "def handler(event, context:\n    return 1\n"},
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app'",
    ),
    "import-raises": ({"app.py": "raise RuntimeError('boom at import')\n"}, "RuntimeError", "boom at import"),
}


@pytest.mark.parametrize(
    ("files", "error_type", "message"),
    [pytest.param(*case, id=name) for name, case in INIT_FAILURES.items()],
)
def test_init_error_is_reported_and_fixing_the_code_recovers(
    lam: Any, fn_name: str, files: dict[str, str], error_type: str, message: str
) -> None:
    deploy(lam, fn_name, files)
    for _ in range(2):  # each invoke retries init in a fresh environment and fails the same way
        resp, payload = invoke(lam, fn_name, LogType="Tail")
        err = failed(resp, payload)
        assert err["errorType"] == error_type, err
        assert message in err["errorMessage"], err
        log = tail(resp)
        assert "START RequestId" in log and "REPORT RequestId" in log, log
    update_code(lam, fn_name, GOOD_APP)
    assert ok(*invoke(lam, fn_name)) == "fixed"


# "uid:pid:token": the uid and pid find the process (host_pid); the token, drawn once per
# environment, tells two environments apart even when the second is given the first's uid.
CRASH_APP = """
import ctypes, os, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    if event.get("crash") == "exit":
        os._exit(3)
    if event.get("crash") == "segv":
        ctypes.string_at(0)
    return "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)
"""


@pytest.mark.parametrize(
    ("crash", "description"),
    [("exit", "exit status 3"), ("segv", "signal: segmentation fault")],
)
def test_crash_is_reported_and_next_invoke_gets_a_fresh_environment(
    lam: Any, fn_name: str, crash: str, description: str
) -> None:
    deploy(lam, fn_name, {"app.py": CRASH_APP})
    pid = ok(*invoke(lam, fn_name))
    resp, payload = invoke(lam, fn_name, {"crash": crash}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == "Runtime.ExitError", err
    assert description in err["errorMessage"], err
    assert "REPORT RequestId" in tail(resp)
    wait_gone(pid)
    new_pid = ok(*invoke(lam, fn_name))
    assert new_pid != pid
    # ...and a fixed function runs, in a fresh environment again.
    update_code(lam, fn_name, GOOD_APP)
    assert ok(*invoke(lam, fn_name)) == "fixed"


# -- memory ----------------------------------------------------------------------------------------

MEMORY_APP = """
import os, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return {"pid": "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN), "bytes": len(block)}
"""


def test_memory_limit_is_enforced(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": MEMORY_APP}, MemorySize=128)
    small = ok(*invoke(lam, fn_name, {"mb": 20}))
    assert small["bytes"] == 20 * 1024 * 1024

    resp, payload = invoke(lam, fn_name, {"mb": 300}, LogType="Tail")
    err = failed(resp, payload)
    assert err["errorType"] == "Runtime.OutOfMemory", err
    assert "Memory Size: 128 MB" in tail(resp)
    wait_gone(small["pid"])

    # The server keeps serving, from a fresh environment.
    again = ok(*invoke(lam, fn_name, {"mb": 20}))
    assert again["pid"] != small["pid"]


# -- /tmp ------------------------------------------------------------------------------------------

TMP_APP = """
import os

def handler(event, context):
    marker = "/tmp/marker-" + context.function_name
    if event.get("write"):
        with open(marker, "w") as f:
            f.write(str("%d:%d" % (os.getuid(), os.getpid())))
    seen = {}
    for path in event.get("check", []):
        seen[path] = os.path.exists(path)
    data_dir = event.get("data_dir")
    files, dirs = [], []
    if data_dir:
        for root, dirnames, filenames in os.walk(data_dir):
            dirs.extend(os.path.join(root, d) for d in dirnames)
            files.extend(os.path.join(root, f) for f in filenames)
    try:
        with open(os.path.join(os.getcwd(), "written-by-handler"), "w") as f:
            f.write("x")
        code_writable = True
    except OSError:
        code_writable = False
    return {
        "pid": "%d:%d" % (os.getuid(), os.getpid()),
        "marker": os.path.exists(marker),
        "seen": seen,
        "files": files,
        "dirs": dirs,
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
        "tmp_listing": sorted(os.listdir("/tmp")),
        "code_writable": code_writable,
    }
"""


def test_tmp_is_private_to_each_environment(server: Server, lam: Any) -> None:
    a, b = f"tmpa-{uuid.uuid4().hex[:8]}", f"tmpb-{uuid.uuid4().hex[:8]}"
    deploy(lam, a, {"app.py": TMP_APP})
    deploy(lam, b, {"app.py": TMP_APP})

    first = ok(*invoke(lam, a, {"write": True}))
    assert first["marker"] is True
    second = ok(*invoke(lam, a))
    assert second["pid"] == first["pid"]
    assert second["marker"] is True  # /tmp persists across warm invokes of one environment

    data_dir = str(server.data_dir)
    other = ok(*invoke(lam, b, {"check": [f"/tmp/marker-{a}"], "data_dir": data_dir}))
    assert other["seen"] == {f"/tmp/marker-{a}": False}
    assert other["marker"] is False
    assert f"marker-{a}" not in other["tmp_listing"]

    # The code is read-only, and the server's own files are not visible.
    task_root = other["task_root"]
    assert not os.path.exists(os.path.join(task_root, "written-by-handler"))
    assert other["code_writable"] is False
    assert os.path.exists(server.data_dir / "stratus.db")  # it exists on the host...
    if task_root == "/var/task":
        # Full isolation: the code is at /var/task and the data dir does not exist at all.
        assert other["files"] == [] and other["dirs"] == [], other
        return
    # The process backend binds only the function's own code back (read-only) at its path.
    leaked = [f for f in other["files"] if not f.startswith(task_root + "/")]
    assert leaked == [], leaked  # ...but not inside the environment
    for d in other["dirs"]:
        assert d == task_root or task_root.startswith(d + "/") or d.startswith(task_root + "/"), d
    assert os.path.join(task_root, "app.py") in other["files"]


# -- environment variables and the context object ----------------------------------------------------

ENV_APP = """
import os

def handler(event, context):
    cc = context.client_context
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "task_root_files": sorted(os.listdir(os.environ.get("LAMBDA_TASK_ROOT", "."))),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": int(context.memory_limit_in_mb),
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context_custom": cc.custom if cc is not None else None,
        "client_context_env": cc.env if cc is not None else None,
    }
"""


def test_environment_variables(lam: Any, fn_name: str) -> None:
    deploy(
        lam,
        fn_name,
        {"app.py": ENV_APP},
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"MY_VAR": "hello", "WITH_EQUALS": "a=b c"}},
    )
    out = ok(*invoke(lam, fn_name))
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn_name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fn_name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", env["AWS_LAMBDA_LOG_STREAM_NAME"]), env
    assert env["LAMBDA_TASK_ROOT"] == out["cwd"]
    assert "app.py" in out["task_root_files"]
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"]), env
    assert env["MY_VAR"] == "hello"
    assert env["WITH_EQUALS"] == "a=b c"
    # Nothing of the server's own environment leaks in.
    assert not any(k.startswith(("STRATUS_", "_STRATUS")) for k in env), sorted(env)


def test_context_object(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": ENV_APP}, Timeout=7, MemorySize=256)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fn_name}"

    resp, payload = invoke(lam, fn_name, LogType="Tail")
    out = ok(resp, payload)
    assert out["function_name"] == fn_name
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == arn
    assert out["memory_limit_in_mb"] == 256
    assert UUID_RE.match(out["aws_request_id"]), out
    assert f"START RequestId: {out['aws_request_id']}" in tail(resp)
    assert out["log_group_name"] == f"/aws/lambda/{fn_name}"
    assert out["log_stream_name"] == out["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 0 < out["remaining"] <= 7000
    assert out["client_context_custom"] is None

    second = ok(*invoke(lam, fn_name))
    assert second["aws_request_id"] != out["aws_request_id"]

    qualified = ok(*invoke(lam, fn_name, Qualifier="$LATEST"))
    assert qualified["invoked_function_arn"] == f"{arn}:$LATEST"

    version = lam.publish_version(FunctionName=fn_name)["Version"]
    v = ok(*invoke(lam, fn_name, Qualifier=version))
    assert v["invoked_function_arn"] == f"{arn}:{version}"
    assert v["function_version"] == version
    assert v["env"]["AWS_LAMBDA_FUNCTION_VERSION"] == version

    client_context = {"custom": {"tenant": "t-1", "n": 2}, "env": {"locale": "en"}, "client": {}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    with_cc = ok(*invoke(lam, fn_name, ClientContext=encoded))
    assert with_cc["client_context_custom"] == {"tenant": "t-1", "n": 2}
    assert with_cc["client_context_env"] == {"locale": "en"}
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.invoke(FunctionName=fn_name, ClientContext="not base64!")


# -- logs -----------------------------------------------------------------------------------------

LOG_APP = """
import logging

def handler(event, context):
    print("printed-line " + event.get("tag", ""))
    logging.getLogger().warning("warning-from-logging " + event.get("tag", ""))
    if event.get("big"):
        print("x" * event["big"])
    return context.aws_request_id
"""


def test_log_tail(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": LOG_APP})
    resp, request_id = invoke(lam, fn_name, {"tag": "first"}, LogType="Tail")
    ok(resp, request_id)
    log = tail(resp)
    assert f"START RequestId: {request_id}" in log
    assert "printed-line first" in log
    assert "warning-from-logging first" in log
    assert f"END RequestId: {request_id}" in log
    report = [line for line in log.splitlines() if line.startswith("REPORT RequestId")]
    assert len(report) == 1, log
    assert request_id in report[0]
    for part in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:", "Init Duration"):
        assert part in report[0], report[0]
    # The order of a Lambda log: START, the function's output, END, REPORT.
    order = [log.index(s) for s in ("START RequestId", "printed-line", "END RequestId", "REPORT")]
    assert order == sorted(order), log

    resp, request_id2 = invoke(lam, fn_name, {"tag": "second"}, LogType="Tail")
    ok(resp, request_id2)
    log2 = tail(resp)
    assert f"START RequestId: {request_id2}" in log2
    assert "printed-line second" in log2
    assert "printed-line first" not in log2
    assert "REPORT RequestId" in log2
    assert "Init Duration" not in log2  # warm

    # No LogResult without LogType=Tail.
    resp, _ = invoke(lam, fn_name)
    assert "LogResult" not in resp

    resp, request_id3 = invoke(lam, fn_name, {"big": 100_000}, LogType="Tail")
    ok(resp, request_id3)
    raw = base64.b64decode(resp["LogResult"])
    assert 0 < len(raw) <= 4096
    assert f"REPORT RequestId: {request_id3}" in raw.decode("utf-8", "replace")  # the tail is the end


STREAM_APP = """
import os, time, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    print("printed-line " + event.get("tag", ""))
    time.sleep(event.get("sleep", 0))
    return {"pid": "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN), "stream": context.log_stream_name}
"""


def poll(fetch: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fetch()
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            value = None
        if value is not None and until(value):
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_logs_are_stored(server: Server, lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": STREAM_APP})
    logs = server.client("logs")
    group = f"/aws/lambda/{fn_name}"
    tag = uuid.uuid4().hex

    ok(*invoke(lam, fn_name, {"tag": tag}))
    events = poll(
        lambda: logs.filter_log_events(logGroupName=group)["events"],
        lambda evs: any(f"printed-line {tag}" in e["message"] for e in evs),
    )
    messages = [e["message"] for e in events or []]
    assert any(f"printed-line {tag}" in m for m in messages), messages
    assert any(m.startswith("START RequestId") for m in messages), messages
    assert any(m.startswith("REPORT RequestId") for m in messages), messages

    # Two environments at once: one stream each, named as the environments were told.
    results = run_concurrently(server, 2, lambda c: ok(*invoke(c, fn_name, {"sleep": 1, "tag": "par"})))
    for r in results:
        if isinstance(r, BaseException):
            raise r
    assert results[0]["pid"] != results[1]["pid"]
    wanted = {r["stream"] for r in results}
    streams = poll(
        lambda: {s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]},
        lambda names: wanted <= names,
    )
    assert wanted <= streams, (wanted, streams)
    assert len(streams) == 2, streams  # the first invoke's environment was reused by one of them

    filtered = logs.filter_log_events(logGroupName=group, filterPattern=f'"printed-line {tag}"')["events"]
    assert [e["message"].strip() for e in filtered] == [f"printed-line {tag}"]


# -- configuration changes ------------------------------------------------------------------------

VERSIONED_APP = """
import os, uuid

TOKEN = uuid.uuid4().hex

def handler(event, context):
    env_id = "%%d:%%d:%%s" %% (os.getuid(), os.getpid(), TOKEN)
    return {"code": "%s", "pid": env_id, "setting": os.environ.get("SETTING")}
"""


def test_updates_retire_old_environments(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": VERSIONED_APP % "v1"})
    one = ok(*invoke(lam, fn_name))
    assert one["code"] == "v1"

    update_code(lam, fn_name, {"app.py": VERSIONED_APP % "v2"})
    two = ok(*invoke(lam, fn_name))
    assert two["code"] == "v2"
    assert two["pid"] != one["pid"]
    wait_gone(one["pid"])

    lam.update_function_configuration(FunctionName=fn_name, Environment={"Variables": {"SETTING": "on"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name, WaiterConfig={"Delay": 1})
    three = ok(*invoke(lam, fn_name))
    assert three["setting"] == "on"
    assert three["pid"] != two["pid"]
    wait_gone(two["pid"])


def test_qualifier_runs_the_published_version(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": VERSIONED_APP % "v1"})
    version = lam.publish_version(FunctionName=fn_name)["Version"]
    assert version == "1"
    update_code(lam, fn_name, {"app.py": VERSIONED_APP % "v2"})

    resp, latest = invoke(lam, fn_name)
    assert ok(resp, latest)["code"] == "v2"
    assert resp["ExecutedVersion"] == "$LATEST"

    resp, latest_q = invoke(lam, fn_name, Qualifier="$LATEST")
    assert ok(resp, latest_q)["code"] == "v2"
    assert resp["ExecutedVersion"] == "$LATEST"

    resp, published = invoke(lam, fn_name, Qualifier="1")
    assert ok(resp, published)["code"] == "v1"
    assert resp["ExecutedVersion"] == "1"
    assert published["pid"] != latest["pid"]

    with pytest.raises(ClientError) as info:
        invoke(lam, fn_name, Qualifier="7")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_dry_run_does_not_run_the_code(server: Server, lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"app.py": PID_APP.replace("COUNT += 1", "COUNT += 1\n    print('ran-the-code')")})
    resp = lam.invoke(FunctionName=fn_name, InvocationType="DryRun", Payload=b"{}")
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    assert "FunctionError" not in resp

    try:
        events = server.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{fn_name}")["events"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
        events = []
    assert not any("ran-the-code" in e["message"] for e in events)

    # The first real invoke is still the first run, in a new environment.
    resp, payload = invoke(lam, fn_name, LogType="Tail")
    assert ok(resp, payload)["count"] == 1
    assert "Init Duration" in tail(resp)


# -- runtimes and handlers ------------------------------------------------------------------------

VERSION_APP = """
import os, sys

def handler(event, context):
    return {"version": list(sys.version_info[:2]), "execution_env": os.environ["AWS_EXECUTION_ENV"]}
"""


def runtime_available(server: Server, runtime: str) -> bool:
    out = server.cli("runtimes", "list").stdout
    for line in out.splitlines():
        name, _, status = line.partition(":")
        if name.strip() == runtime:
            return status.strip().startswith("/")  # an interpreter path, not a reason
    return False


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12", "python3.13"])
def test_runtime_versions(server: Server, lam: Any, fn_name: str, runtime: str) -> None:
    if not runtime_available(server, runtime):
        pytest.skip(f"{runtime} is not available on this host")
    deploy(lam, fn_name, {"app.py": VERSION_APP}, Runtime=runtime)
    out = ok(*invoke(lam, fn_name))
    assert out["version"] == [3, int(runtime.split(".")[1])]
    assert out["execution_env"] == f"AWS_Lambda_{runtime}"


def test_handler_in_a_package(lam: Any, fn_name: str) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": """
            from pkg.sub import helper

            def handler(event, context):
                return {"module": __name__, "helped": helper.help(event["n"])}
        """,
        "pkg/sub/helper.py": "def help(n):\n    return n * 2\n",
    }
    deploy(lam, fn_name, files, Handler="pkg.sub.mod.handler")
    assert ok(*invoke(lam, fn_name, {"n": 21})) == {"module": "pkg.sub.mod", "helped": 42}


# -- stopping the server --------------------------------------------------------------------------


def _processes_mentioning(path: str) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if not pid_alive(int(entry.name)):
            continue
        if path in cmdline or cwd.startswith(path):
            found.append((int(entry.name), cmdline))
    return found


def test_sigterm_stops_server_and_environments(fresh_server: Any, fn_name: str) -> None:
    srv = fresh_server()
    lam = srv.client("lambda")
    deploy(lam, fn_name, {"app.py": PID_APP})
    env_pid = ok(*invoke(lam, fn_name))["pid"]
    assert pid_alive(env_pid)
    data_dir = str(srv.data_dir)
    assert _processes_mentioning(data_dir)  # the server and its environment, while running

    assert srv.stop() == 0, srv.output()
    wait_gone(env_pid, timeout=5)
    assert _processes_mentioning(data_dir) == []
    assert "Traceback" not in srv.output(), srv.output()
