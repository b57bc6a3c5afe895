"""The `stratus` command line against a real server, as a user runs it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import STRATUS, Server

APP_V1 = """\
import os

from lib.util import shout


def handler(event, context):
    return {
        "version": 1,
        "event": event,
        "greeting": os.environ.get("GREETING"),
        "memory": int(context.memory_limit_in_mb),
        "word": shout("hi"),
    }
"""

APP_V2 = """\
import logging


def handler(event, context):
    print("v2-printed " + str(event.get("tag", "")))
    logging.getLogger().warning("v2-warned")
    return {"version": 2, "event": event}
"""


def write_app(directory: Path, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(source)
    (directory / "lib").mkdir(exist_ok=True)
    (directory / "lib" / "__init__.py").write_text("")
    (directory / "lib" / "util.py").write_text("def shout(s):\n    return s.upper() + '!'\n")
    return directory


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure is one clear line on stderr: no traceback, nothing else."""
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


@pytest.fixture
def deployed(server: Server, tmp_path: Path, fn_name: str) -> str:
    """A function deployed with `stratus deploy` from APP_V2 (it logs and echoes)."""
    src = write_app(tmp_path / "fn", APP_V2)
    result = server.cli("deploy", str(src), "--name", fn_name)
    assert result.returncode == 0, result.stderr
    # Without --role it gave the function the default role, made with basic execution.
    role = server.client("lambda").get_function_configuration(FunctionName=fn_name)["Role"]
    assert role == "arn:aws:iam::000000000000:role/stratus-function"
    attached = server.client("iam").list_attached_role_policies(RoleName="stratus-function")[
        "AttachedPolicies"
    ]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
    return fn_name


# -- help -----------------------------------------------------------------------------------------


def _commands(help_text: str) -> list[str]:
    lines = help_text.split("Commands:", 1)[1].splitlines()
    return [line.split()[0] for line in lines if line.startswith("  ") and line.strip()]


def test_help(server: Server) -> None:
    top = server.cli("--help")
    assert top.returncode == 0, top.stderr
    assert "Usage:" in top.stdout
    commands = _commands(top.stdout)
    assert {"serve", "deploy", "invoke", "ls", "rm", "logs", "runtimes"} <= set(commands), commands
    for command in commands:
        result = server.cli(command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert "Usage:" in result.stdout, command
        if command == "runtimes":
            for sub in _commands(result.stdout):
                nested = server.cli(command, sub, "--help")
                assert nested.returncode == 0, (command, sub, nested.stderr)
                assert "Usage:" in nested.stdout
    assert server.cli("-h").returncode == 0


# -- deploy ---------------------------------------------------------------------------------------


def test_deploy_creates_then_updates(server: Server, lam: Any, tmp_path: Path, fn_name: str) -> None:
    src = write_app(tmp_path / "fn", APP_V1)
    result = server.cli(
        "deploy",
        str(src),
        "--name",
        fn_name,
        "--env",
        "GREETING=hello world",
        "--env",
        "PAIR=a=b",
        "--memory",
        "256",
        "--timeout",
        "5",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == arn(fn_name)

    config = lam.get_function_configuration(FunctionName=fn_name)
    assert config["FunctionArn"] == arn(fn_name)
    assert config["MemorySize"] == 256
    assert config["Timeout"] == 5
    assert config["Runtime"] == "python3.11"
    assert config["Handler"] == "app.handler"
    assert config["Environment"]["Variables"] == {"GREETING": "hello world", "PAIR": "a=b"}
    assert config["State"] == "Active"
    first_sha = config["CodeSha256"]

    out = json.loads(lam.invoke(FunctionName=fn_name, Payload=b'{"x": 1}')["Payload"].read())
    assert out == {"version": 1, "event": {"x": 1}, "greeting": "hello world", "memory": 256, "word": "HI!"}

    (src / "app.py").write_text(APP_V2)
    again = server.cli("deploy", str(src), "--name", fn_name)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == arn(fn_name)
    config = lam.get_function_configuration(FunctionName=fn_name)
    assert config["CodeSha256"] != first_sha
    assert config["MemorySize"] == 256  # settings not given again are kept
    out = json.loads(lam.invoke(FunctionName=fn_name, Payload=b'{"x": 2}')["Payload"].read())
    assert out == {"version": 2, "event": {"x": 2}}


def test_deploy_rejects_bad_env(server: Server, tmp_path: Path, fn_name: str) -> None:
    src = write_app(tmp_path / "fn", APP_V1)
    result = server.cli("deploy", str(src), "--name", fn_name, "--env", "NOEQUALS")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "KEY=VALUE" in result.stderr
    # Lambda's own rule for names (at least two characters) comes back as one clear line.
    line = one_line_error(server.cli("deploy", str(src), "--name", fn_name, "--env", "K=V"))
    assert "ValidationException" in line


# -- invoke ---------------------------------------------------------------------------------------


def test_invoke_prints_result(server: Server, deployed: str) -> None:
    result = server.cli("invoke", deployed, '{"a":1}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"version": 2, "event": {"a": 1}}
    assert "START RequestId" not in result.stderr  # logs only with --logs


def test_invoke_reads_stdin(server: Server, deployed: str) -> None:
    result = server.cli("invoke", deployed, "-", input='{"from": "stdin", "n": [1, 2]}\n')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"version": 2, "event": {"from": "stdin", "n": [1, 2]}}


def test_invoke_with_logs(server: Server, deployed: str) -> None:
    tag = uuid.uuid4().hex[:8]
    result = server.cli("invoke", deployed, json.dumps({"tag": tag}), "--logs")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"version": 2, "event": {"tag": tag}}
    assert "START RequestId" in result.stderr
    assert f"v2-printed {tag}" in result.stderr
    assert "v2-warned" in result.stderr
    assert "REPORT RequestId" in result.stderr
    assert "START RequestId" not in result.stdout  # the log goes to stderr only


def test_invoke_invalid_json(server: Server, deployed: str) -> None:
    line = one_line_error(server.cli("invoke", deployed, "{not json"))
    assert "JSON" in line
    line = one_line_error(server.cli("invoke", deployed, "-", input="also not json"))
    assert "JSON" in line


def test_invoke_unknown_function(server: Server) -> None:
    line = one_line_error(server.cli("invoke", f"missing-{uuid.uuid4().hex[:8]}", "{}"))
    assert "ResourceNotFoundException" in line


def test_invoke_function_error_exits_non_zero(server: Server, tmp_path: Path, fn_name: str) -> None:
    src = tmp_path / "fn"
    src.mkdir()
    (src / "app.py").write_text("def handler(event, context):\n    raise ValueError('nope')\n")
    assert server.cli("deploy", str(src), "--name", fn_name).returncode == 0
    result = server.cli("invoke", fn_name)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    err = json.loads(result.stdout)
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "nope"


# -- ls, logs, rm -----------------------------------------------------------------------------------


def test_ls_lists_functions(server: Server, deployed: str) -> None:
    result = server.cli("ls")
    assert result.returncode == 0, result.stderr
    assert deployed in result.stdout
    row = next(line for line in result.stdout.splitlines() if deployed in line)
    assert "python3.11" in row and "app.handler" in row


def test_logs_prints_start_and_report(server: Server, deployed: str) -> None:
    tag = uuid.uuid4().hex[:8]
    assert server.cli("invoke", deployed, json.dumps({"tag": tag})).returncode == 0
    deadline = time.monotonic() + 5
    while True:
        result = server.cli("logs", deployed)
        assert result.returncode == 0, result.stderr
        if f"v2-printed {tag}" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    lines = result.stdout.splitlines()
    assert any(line.startswith("START RequestId") for line in lines), result.stdout
    assert any(line.startswith("REPORT RequestId") for line in lines), result.stdout
    assert any(f"v2-printed {tag}" in line for line in lines), result.stdout


def test_logs_of_unknown_function(server: Server) -> None:
    line = one_line_error(server.cli("logs", f"missing-{uuid.uuid4().hex[:8]}"))
    assert "ResourceNotFoundException" in line


def test_logs_follow(server: Server, deployed: str) -> None:
    assert server.cli("invoke", deployed, '{"tag": "before-follow"}').returncode == 0
    env = server.env()
    env["STRATUS_ENDPOINT"] = server.endpoint
    proc = subprocess.Popen(
        [STRATUS, "logs", deployed, "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()

    def wait_for(text: str, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if text in lines.get(timeout=0.2):
                    return True
            except queue.Empty:
                if proc.poll() is not None:
                    return False
        return False

    try:
        assert wait_for("v2-printed before-follow"), "--follow did not print the existing log"
        tag = uuid.uuid4().hex[:8]
        assert server.cli("invoke", deployed, json.dumps({"tag": tag})).returncode == 0
        assert wait_for(f"v2-printed {tag}"), "--follow did not print the new invoke's line"
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr


def test_rm_deletes(server: Server, lam: Any, deployed: str) -> None:
    result = server.cli("rm", deployed)
    assert result.returncode == 0, result.stderr
    assert deployed in result.stdout
    with pytest.raises(ClientError) as info:
        lam.get_function(FunctionName=deployed)
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert deployed not in server.cli("ls").stdout
    line = one_line_error(server.cli("rm", deployed))
    assert "ResourceNotFoundException" in line


# -- no server ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("ls",), ("invoke", "fn", "{}"), ("logs", "fn"), ("rm", "fn")],
    ids=["ls", "invoke", "logs", "rm"],
)
def test_missing_server(tmp_path: Path, args: tuple[str, ...]) -> None:
    nobody = Server(data_dir=tmp_path / "none")  # never started: its port is closed
    line = one_line_error(nobody.cli(*args))
    assert f"127.0.0.1:{nobody.port}" in line, line
    assert "connect" in line.lower(), line


def test_missing_server_deploy(tmp_path: Path) -> None:
    nobody = Server(data_dir=tmp_path / "none")
    src = write_app(tmp_path / "fn", APP_V1)
    line = one_line_error(nobody.cli("deploy", str(src), "--name", "fn"))
    assert f"127.0.0.1:{nobody.port}" in line, line


# -- url / urls -----------------------------------------------------------------------------------


def test_url_exposes_lists_and_removes(server: Server, deployed: str) -> None:
    import urllib.request

    created = server.cli("url", deployed)
    assert created.returncode == 0, created.stderr
    url = created.stdout.strip()
    assert url.startswith(server.endpoint + "/_stratus/url/")
    again = server.cli("url", deployed)
    assert again.stdout.strip() == url  # an existing URL is shown, not replaced
    with urllib.request.urlopen(url + "?tag=cli", timeout=30) as response:
        assert response.status == 200
    listed = server.cli("urls")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.startswith(deployed))
    assert row.split() == [deployed, "$LATEST", "NONE", url]
    removed = server.cli("url", deployed, "--delete")
    assert removed.returncode == 0, removed.stderr
    assert deployed not in server.cli("urls").stdout
    missing = server.cli("url", "no-such-function")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_cli_takes_credentials_from_the_aws_environment(
    server: Server, deployed: str, tmp_path: Path
) -> None:
    """With no Stratus credentials in the environment and none in the data dir, the CLI signs
    with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, as the AWS tools do: an IAM user allowed to
    read logs reads them; one allowed nothing is refused (so it was that user who signed)."""
    iam = server.client("iam")
    tag = uuid.uuid4().hex[:8]
    assert server.cli("invoke", deployed, json.dumps({"tag": tag})).returncode == 0
    keys = {}
    for who, policy in (("reader", "CloudWatchLogsReadOnlyAccess"), ("nobody", None)):
        user = f"cli-{who}-{tag}"
        iam.create_user(UserName=user)
        if policy:
            iam.attach_user_policy(UserName=user, PolicyArn=f"arn:aws:iam::aws:policy/{policy}")
            iam.put_user_policy(
                UserName=user,
                PolicyName="read-config",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "lambda:GetFunctionConfiguration", "Resource": "*"}
                        ],
                    }
                ),
            )
        keys[who] = iam.create_access_key(UserName=user)["AccessKey"]

    def logs_as(who: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRATUS_", "AWS_"))}
        env.update(
            STRATUS_ENDPOINT=server.endpoint,
            AWS_ACCESS_KEY_ID=keys[who]["AccessKeyId"],
            AWS_SECRET_ACCESS_KEY=keys[who]["SecretAccessKey"],
        )
        return subprocess.run(
            [STRATUS, "logs", deployed, "--data-dir", str(tmp_path / "empty")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    deadline = time.monotonic() + 10
    while True:
        result = logs_as("reader")
        assert result.returncode == 0, result.stderr
        if f"v2-printed {tag}" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert f"v2-printed {tag}" in result.stdout
    refused = logs_as("nobody")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr
