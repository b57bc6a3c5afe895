"""`stratus dev` driven as a subprocess against the real server: real files saved in a real
directory, real invokes, its printed output read as a developer would."""

from __future__ import annotations

import json
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.e2e.conftest import ROLE, Server
from tests.e2e.devtools import DEADLINE, Dev


def write(path: Path, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def handler_returning(value: str, line: str = "") -> str:
    return f"def handler(event, context):\n    print({line!r})\n    return {value!r}\n"


def invoke(lam: Any, name: str) -> Any:
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    return json.loads(response["Payload"].read())


def invoke_until(lam: Any, name: str, expected: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    seen = None
    while time.monotonic() < deadline:
        seen = invoke(lam, name)
        if seen == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} kept answering {seen!r}, not {expected!r}")


def exists(lam: Any, name: str) -> bool:
    try:
        lam.get_function(FunctionName=name)
        return True
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ResourceNotFoundException"
        return False


def test_a_save_reaches_the_next_invoke_and_its_logs_are_printed(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    name = f"dev-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "fn"
    write(code / "app.py", handler_returning("one", "first-version-says-hi"))
    dev = start_dev(str(code), "--name", name, "--role", ROLE)
    dev.wait_for("watching")
    assert invoke(lam, name) == "one"
    out = dev.wait_for("first-version-says-hi")
    assert "START RequestId:" in out and "REPORT RequestId:" in out

    write(code / "app.py", handler_returning("two", "second-version-says-hi"))
    invoke_until(lam, name, "two")
    dev.wait_for("second-version-says-hi")
    assert "updated code" in dev.output()

    # An error's stack trace names the developer's file, not the environment's.
    write(code / "app.py", "def handler(event, context):\n    raise ValueError('on purpose')\n")
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        response = lam.invoke(FunctionName=name, Payload=b"{}")
        if response.get("FunctionError"):
            break
        time.sleep(0.05)
    out = dev.wait_for(f'File "{code}/app.py", line 2, in handler')
    assert "ValueError: on purpose" in out
    assert "/var/task/app.py" not in out


def test_a_syntax_error_keeps_the_previous_code_serving(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    name = f"dev-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "fn"
    write(code / "app.py", handler_returning("works"))
    write(code / "helper.py", "X = 1\n")
    dev = start_dev(str(code), "--name", name, "--role", ROLE)
    dev.wait_for("watching")
    assert invoke(lam, name) == "works"

    write(code / "app.py", "def handler(event, context)\n    return 'broken'\n")
    out = dev.wait_for("the previous code keeps serving")
    assert f"cannot compile {code}/app.py" in out and "SyntaxError" in out
    assert invoke(lam, name) == "works"
    # Saving another file while app.py is still broken uploads nothing either.
    write(code / "helper.py", "X = 2\n")
    time.sleep(0.5)
    assert invoke(lam, name) == "works"

    write(code / "app.py", handler_returning("fixed"))
    invoke_until(lam, name, "fixed")
    assert "Traceback" not in dev.output()  # the CLI's own failures never print one


def test_ctrl_c_leaves_the_function_deployed_and_rm_removes_it(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    name = f"dev-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "fn"
    write(code / "app.py", handler_returning("kept"))
    dev = start_dev(str(code), "--name", name, "--role", ROLE)
    dev.wait_for("watching")
    assert dev.interrupt() == 0
    assert "left deployed" in dev.output()
    assert invoke(lam, name) == "kept"

    again = start_dev(str(code), "--name", name, "--role", ROLE, "--rm")
    again.wait_for("watching")
    assert again.interrupt() == 0
    assert f"{name}: removed" in again.output()
    assert not exists(lam, name)


def test_a_stratus_toml_deploys_each_function_with_its_url_and_local_layer(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    web, worker = f"web-{tag}", f"worker-{tag}"
    project = tmp_path / "project"
    write(
        project / "stratus.toml",
        f"""
        [functions.{web}]
        dir = "web"
        url = true
        env = {{ GREETING = "hello" }}
        layers = ["common"]

        [functions.{worker}]
        dir = "worker"
        handler = "main.run"
        layers = ["common"]
        """,
    )
    write(
        project / "web" / "app.py",
        """
        import os
        import shared
        def handler(event, context):
            return {"statusCode": 200, "body": os.environ["GREETING"] + " from web, " + shared.VALUE}
        """,
    )
    write(
        project / "worker" / "main.py",
        """
        import shared
        def run(event, context):
            return shared.VALUE
        """,
    )
    write(project / "common" / "python" / "shared.py", "VALUE = 'layer-v1'\n")
    dev = start_dev(str(project), "--role", ROLE)
    out = dev.wait_for("watching")
    assert f"{web}: deployed" in out and f"{worker}: deployed" in out
    url = out.split(f"{web}: url ", 1)[1].split()[0]
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"hello from web, layer-v1"
    assert invoke(lam, worker) == "layer-v1"

    # A save in the layer's directory publishes it again; both functions run the new layer.
    write(project / "common" / "python" / "shared.py", "VALUE = 'layer-v2'\n")
    invoke_until(lam, worker, "layer-v2")
    invoke_until(lam, web, {"statusCode": 200, "body": "hello from web, layer-v2"})
    assert "updated layers" in dev.output()
    # A save in one function's directory updates that function only.
    write(
        project / "web" / "app.py",
        """
        def handler(event, context):
            return {"statusCode": 200, "body": "web v2"}
        """,
    )
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=30) as response:
            if response.read() == b"web v2":
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the function URL never served the new code")
    assert f"{worker}: updated code" not in dev.output()


def test_a_sam_template_with_short_tags_deploys_its_function(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    project = tmp_path / "sam"
    write(
        project / "template.yaml",
        f"""
        AWSTemplateFormatVersion: '2010-09-09'
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Stage:
            Type: String
            Default: staging
        Resources:
          Items:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "items-${{Stage}}-{tag}"
              CodeUri: src/
              Handler: app.lambda_handler
              Runtime: python3.11
              Timeout: 5
              Environment:
                Variables:
                  STAGE: !Ref Stage
                  TABLE: !GetAtt Table.Arn
          Table:
            Type: AWS::DynamoDB::Table
        Outputs:
          Arn:
            Value: !GetAtt Items.Arn
        """,
    )
    write(
        project / "src" / "app.py",
        """
        import os
        def lambda_handler(event, context):
            return [os.environ["STAGE"], "TABLE" in os.environ, context.function_name]
        """,
    )
    name = f"items-staging-{tag}"
    dev = start_dev(str(project), "--role", ROLE)
    dev.wait_for("watching")
    assert invoke(lam, name) == ["staging", False, name]
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 5


def test_bad_input_is_a_clear_message(server: Server, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = server.cli("dev", str(empty))
    assert result.returncode != 0
    assert "no stratus.toml or SAM template" in result.stderr and "--name" in result.stderr
    (empty / "stratus.toml").write_text("[functions.a]\nmemory = 128\n")
    result = server.cli("dev", str(empty))
    assert result.returncode != 0
    assert "`dir`" in result.stderr and "Traceback" not in result.stderr
