"""Stratus's invoke loop on the private channel (pyboot/stratus_loop.py) answers exactly as
awslambdaric's own loop does over the same channel: the same result and error frames, byte for
byte, and the same log output (timestamps aside), for results, errors out of the handler, a
handler that is not a Python function, unserializable results, bad events, client contexts,
Cognito identities, trace ids, context attributes and logging. Each loop runs in its own process
(awslambdaric replaces sys.stdout and keeps module state), driven over a socketpair."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stratus.runtimes.pyboot import stratus_channel as channel
from stratus.runtimes.python import BOOT_DIR

APP = '''
import decimal, json, logging, os, sys

logger = logging.getLogger()


def describe(context):
    return {
        "vars": [k for k in vars(context)],
        "values": {k: v for k, v in vars(context).items() if isinstance(v, (str, int, type(None), dict))},
        "identity": repr(context.identity),
        "client_context": repr(context.client_context),
        "remaining_positive": context.get_remaining_time_in_millis() > 0,
        "w3c": context.w3c(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID", "<unset>"),
        "repr": repr(context),
    }


def nested(value):
    raise ValueError(f"boom {value}")


def handler(event, context):
    kind = event.get("kind") if isinstance(event, dict) else "raw"
    if kind == "raw":
        return {"raw": repr(event)}
    if kind == "ok":
        return describe(context)
    if kind == "raise":
        nested(event.get("value"))
    if kind == "unserializable":
        return {1, 2}
    if kind == "bytes":
        return b"\\x00raw"
    if kind == "decimal":
        return {"d": decimal.Decimal("1.50"), "u": "caf\\u00e9"}
    if kind == "log":
        print("printed", context.aws_request_id)
        logger.info("info line")
        logger.warning("warning line %s", 7)
        context.log("context log line\\n")
        return None
    if kind == "rename":
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "renamed"
        del os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        return describe(context)
    if kind == "exit":
        sys.exit(3)
    return kind


builtin = len
'''

CHILD = """
import importlib, sys
import awslambdaric.lambda_runtime_client
import stratus_channel
sys.modules["runtime_client"] = stratus_channel.RuntimeClient(int(sys.argv[1]))
importlib.reload(awslambdaric.lambda_runtime_client)
if sys.argv[3] == "awslambdaric":
    from awslambdaric.__main__ import main
    main(["awslambdaric", sys.argv[2]])
else:
    import stratus_isolate
    stratus_isolate.run_client(sys.argv[2])
"""

# An uncaught exception's traceback (lines end in "\n"; log_error's lines end in "\r").
UNCAUGHT = "Traceback (most recent call last):\n"
TRACE = "Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0"
DEADLINE = str(int(time.time() * 1000) + 600_000)


def _events() -> list[tuple[dict[str, str], bytes]]:
    def headers(n: int, **extra: str) -> dict[str, str]:
        return {
            "Lambda-Runtime-Aws-Request-Id": f"req-{n}",
            "Lambda-Runtime-Deadline-Ms": DEADLINE,
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:000000000000:function:f",
            "Content-Type": "application/json",
            **extra,
        }

    def body(kind: str, **more: object) -> bytes:
        return json.dumps({"kind": kind, **more}).encode()

    return [
        (headers(1, **{"Lambda-Runtime-Trace-Id": TRACE}), body("ok")),
        (headers(2), body("ok")),  # no trace id: the variable is removed
        (headers(3, **{"Lambda-Runtime-Trace-Id": ""}), body("ok")),
        (headers(4, **{"Lambda-Runtime-Trace-Id": TRACE}), body("raise", value="x")),
        (headers(5), body("unserializable")),
        (headers(6), body("bytes")),
        (headers(7), body("decimal")),
        (headers(8), body("log")),
        (headers(9), b'{"kind": '),  # not JSON: Runtime.UnmarshalError
        (headers(10, **{"Content-Type": "text/plain"}), b"plain text"),
        (
            headers(
                11,
                **{
                    "Lambda-Runtime-Client-Context": json.dumps(
                        {
                            "custom": {"a": "b"},
                            "env": {"e": "f"},
                            "client": {"app_title": "t"},
                            "w3c": {"traceparent": "00-abc-def-01", "other": "x"},
                        }
                    ),
                    "Lambda-Runtime-Cognito-Identity": json.dumps(
                        {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
                    ),
                },
            ),
            body("ok"),
        ),
        (headers(12, **{"Lambda-Runtime-Client-Context": "{not json"}), body("ok")),
        (headers(13, **{"Lambda-Runtime-Aws-Tenant-Id": "tenant-a"}), body("ok")),
        (headers(14), body("other")),
        (headers(16), body("rename")),  # the next context reads the variables again
        (headers(17), body("ok")),
        (headers(15), body("exit")),
    ]


def _run(
    tmp_path: Path, loop: str, handler: str, execution_env: str, **logging: str
) -> tuple[list[object], str]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(APP)
    ours, theirs = socket.socketpair()
    out = tmp_path / f"{loop}.out"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(code), str(BOOT_DIR)]),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9",
        "AWS_LAMBDA_FUNCTION_NAME": "f",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/12/04/[$LATEST]abc",
        "AWS_EXECUTION_ENV": execution_env,
        "_X_AMZN_TRACE_ID": "from-the-start",
        **logging,
    }
    with out.open("wb") as sink:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(theirs.fileno()), handler, loop],
            env=env,
            cwd=code,
            pass_fds=[theirs.fileno()],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        theirs.close()
        decoder = channel.Decoder()
        frames: list[object] = []

        def until_next() -> bool:
            while True:
                for kind, header, body in decoder.frames():
                    if kind == channel.NEXT:
                        return True
                    frames.append((kind, header, body))
                data = ours.recv(1 << 16)
                if not data:
                    return False
                decoder.feed(data)

        alive = until_next()
        for header, body in _events():
            if not alive:
                break
            ours.sendall(channel.encode(channel.EVENT, header, body))
            alive = until_next()
        ours.close()
        frames.append(("exit", child.wait(timeout=30)))
    log = out.read_text()
    # Timestamps differ from run to run; the file paths of the two loops' own frames do not
    # appear (the traces start in the handler's module).
    log = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?", "<time>", log)
    # A child that ends with an exception (the channel closed under it, or the init error's
    # post refused: no Runtime API here) shows the traceback through its own entry point.
    return frames, log.split(UNCAUGHT)[0]


LOGGING = {
    "text": {},
    "json": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
    "text-warn": {"AWS_LAMBDA_LOG_FORMAT": "Text", "AWS_LAMBDA_LOG_LEVEL": "WARN"},
}


@pytest.mark.parametrize("logging", list(LOGGING))
@pytest.mark.parametrize("execution_env", ["AWS_Lambda_python3.11", "AWS_Lambda_python3.12"])
@pytest.mark.parametrize("handler", ["app.handler", "app.builtin"])
def test_same_frames_and_logs_as_awslambdaric(
    tmp_path: Path, handler: str, execution_env: str, logging: str
) -> None:
    theirs = _run(tmp_path, "awslambdaric", handler, execution_env, **LOGGING[logging])
    ours = _run(tmp_path, "stratus", handler, execution_env, **LOGGING[logging])
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    kinds = [frame[0] for frame in theirs[0]]
    assert channel.ERROR in kinds
    assert (channel.RESPONSE in kinds) == (handler == "app.handler")


@pytest.mark.parametrize("handler", ["app.missing", "nomodule.handler", "bad"])
def test_init_errors_as_awslambdaric(tmp_path: Path, handler: str) -> None:
    """Handler resolution fails: both exit 1 having logged the same error (they post it over
    HTTP to the Runtime API, which is not there in this test: that part is the same code)."""
    theirs = _run(tmp_path, "awslambdaric", handler, "AWS_Lambda_python3.11")
    ours = _run(tmp_path, "stratus", handler, "AWS_Lambda_python3.11")
    assert ours[0] == theirs[0] == [("exit", 1)]
    assert ours[1] == theirs[1]
    assert "Runtime." in theirs[1]


TRACE_VARIABLE = """
import ctypes, os, subprocess, sys
from stratus_loop import TraceVariable

libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
variable = TraceVariable()


def rss_kib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 // 1024


def seen():
    child = subprocess.run(["sh", "-c", 'printf %s "$_X_AMZN_TRACE_ID"'], capture_output=True)
    return [os.environ.get("_X_AMZN_TRACE_ID"), libc.getenv(b"_X_AMZN_TRACE_ID"), child.stdout]


def setting(value):
    try:
        variable.set(os.environ, value)
    except ValueError as e:
        return str(e)
    return seen()


for n in range(1000):
    variable.set(os.environ, f"Root=1-{n:08d}")
before = rss_kib()
for n in range(100000):
    variable.set(os.environ, f"Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;n={n:012d}")
grown = rss_kib() - before
out = {"grown_kib": grown, "last": seen()}
del os.environ["_X_AMZN_TRACE_ID"]
out["deleted"] = seen()
out["again"] = setting("again")
os.environ["_X_AMZN_TRACE_ID"] = "the handler's"
out["after_handler"] = setting("ours")
out["long"] = [len(v or b"") for v in setting("x" * 5000)]
out["short_after_long"] = setting("short")
out["nul"] = setting("a\\0b")
out["unicode"] = setting("caf\\u00e9")
print(repr(out))
"""


def test_trace_variable_is_set_everywhere_without_growing() -> None:
    """_X_AMZN_TRACE_ID set per invoke reaches os.environ, getenv and child processes, as
    os.environ's own setter does, and 100,000 distinct values cost no memory (glibc's setenv
    keeps every value it was given: about 16 MB for as many)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(BOOT_DIR)}
    done = subprocess.run([sys.executable, "-c", TRACE_VARIABLE], env=env, capture_output=True, check=True)
    out = ast.literal_eval(done.stdout.decode())
    assert out["grown_kib"] < 1024
    last = "Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;n=000000099999"
    assert out["last"] == [last, last.encode(), last.encode()]
    assert out["deleted"] == [None, None, b""]
    assert out["again"] == ["again", b"again", b"again"]
    assert out["after_handler"] == ["ours", b"ours", b"ours"]
    assert out["long"] == [5000, 5000, 5000]
    assert out["short_after_long"] == ["short", b"short", b"short"]
    assert out["nul"] == "embedded null byte"
    assert out["unicode"] == ["caf\u00e9", "caf\u00e9".encode(), "caf\u00e9".encode()]
