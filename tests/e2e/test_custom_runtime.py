"""Custom runtimes (`provided.al2023`, `provided.al2`): a zip's `bootstrap` speaks the Runtime API.
Both a shell + curl bootstrap and a compiled C one (built here with the host's cc)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROLE, Server

ASSETS = Path(__file__).parent / "assets"

SHELL_BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "shell bootstrap starting, handler $_HANDLER"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  DEADLINE=$(grep -i '^lambda-runtime-deadline-ms:' "$HEADERS" | tr -d '\\r' | cut -d' ' -f2)
  echo "handling $ID"
  if [ "$EVENT" = '"crash"' ]; then exit 7; fi
  FORMAT='{"echo": %s, "handler": "%s", "task_root": "%s", "deadline": %s, "function": "%s", '
  FORMAT="$FORMAT"'"uid": %s, "host": "%s"}'
  BODY=$(printf "$FORMAT" \\
    "$EVENT" "$_HANDLER" "$LAMBDA_TASK_ROOT" "$DEADLINE" "$AWS_LAMBDA_FUNCTION_NAME" "$(id -u)" "$(hostname)")
  curl -sS -X POST "$API/invocation/$ID/response" -d "$BODY" >/dev/null
done
"""


def zip_with(files: dict[str, tuple[bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def deploy(
    lam: Any, name: str, files: dict[str, tuple[bytes, int]], runtime: str = "provided.al2023", **kwargs: Any
) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler="function.handler",
        Code={"ZipFile": zip_with(files)},
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def invoke(lam: Any, name: str, payload: Any) -> tuple[dict[str, Any], Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(payload).encode(), LogType="Tail")
    return out, json.loads(out["Payload"].read())


@pytest.fixture(scope="module")
def c_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed (make test installs gcc)"
    out = tmp_path_factory.mktemp("cboot") / "bootstrap"
    subprocess.run([compiler, "-O2", "-o", str(out), str(ASSETS / "bootstrap.c")], check=True)
    return out.read_bytes()


@pytest.mark.parametrize("runtime", ["provided.al2023", "provided.al2"])
def test_shell_bootstrap(lam: Any, fn_name: str, runtime: str) -> None:
    deploy(lam, fn_name, {"bootstrap": (SHELL_BOOTSTRAP.encode(), 0o755)}, runtime=runtime)
    out, body = invoke(lam, fn_name, {"n": 1})
    assert "FunctionError" not in out, body
    assert body["echo"] == {"n": 1}
    assert body["handler"] == "function.handler"
    assert body["function"] == fn_name
    assert body["task_root"] == "/var/task"
    assert body["deadline"] > 1_000_000_000_000
    assert body["uid"] != 0 and body["host"] == "stratus"  # confined like any environment

    tail = base64.b64decode(out["LogResult"]).decode()
    assert "handling" in tail and "REPORT RequestId:" in tail
    _, again = invoke(lam, fn_name, [1, 2])  # warm: the same bootstrap loop answers
    assert again["echo"] == [1, 2]


def test_compiled_bootstrap(lam: Any, fn_name: str, c_bootstrap: bytes) -> None:
    deploy(lam, fn_name, {"bootstrap": (c_bootstrap, 0o755)})
    event = {"text": "x" * 1000}
    out, body = invoke(lam, fn_name, event)
    assert "FunctionError" not in out, body
    assert body == {"runtime": "c", "bytes": len(json.dumps(event)), "handler": "function.handler"}
    out, error = invoke(lam, fn_name, "fail")
    assert out["FunctionError"] == "Unhandled"
    assert error == {"errorType": "CError", "errorMessage": "asked to fail"}
    out, body = invoke(lam, fn_name, {"after": "error"})  # the environment still serves
    assert "FunctionError" not in out and body["runtime"] == "c"


def test_bootstrap_crash_is_an_exit_error(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"bootstrap": (SHELL_BOOTSTRAP.encode(), 0o755)})
    out, error = invoke(lam, fn_name, "crash")
    assert out["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in error["errorMessage"]
    out, body = invoke(lam, fn_name, {"ok": True})  # a new environment takes over
    assert body["echo"] == {"ok": True}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"other.sh": (b"#!/bin/sh\n", 0o755)},
            "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]",
        ),
        ({"bootstrap": (b"#!/bin/sh\necho hi\n", 0o644)}, "fork/exec /var/task/bootstrap: permission denied"),
    ],
    ids=["missing", "not-executable"],
)
def test_unusable_bootstrap_is_an_invalid_entrypoint(
    lam: Any, fn_name: str, files: dict[str, tuple[bytes, int]], message: str
) -> None:
    deploy(lam, fn_name, files)
    out, error = invoke(lam, fn_name, {})
    assert out["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
    assert message in error["errorMessage"]


def test_bootstrap_exiting_before_next(lam: Any, fn_name: str) -> None:
    deploy(lam, fn_name, {"bootstrap": (b"#!/bin/sh\necho leaving early\nexit 3\n", 0o755)})
    out, error = invoke(lam, fn_name, {})
    assert out["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in error["errorMessage"]


def test_process_backend_runs_bootstraps_too(fresh_server: Any, fn_name: str) -> None:
    srv: Server = fresh_server(STRATUS_ISOLATION="process")
    lam = srv.client()
    deploy(lam, fn_name, {"bootstrap": (SHELL_BOOTSTRAP.encode(), 0o755)})
    out, body = invoke(lam, fn_name, {"p": 1})
    assert "FunctionError" not in out, body
    assert body["echo"] == {"p": 1}
    missing = f"{fn_name}-none"
    deploy(lam, missing, {"other": (b"x", 0o644)})
    out, error = invoke(lam, missing, {})
    assert error["errorType"] == "Runtime.InvalidEntrypoint"
