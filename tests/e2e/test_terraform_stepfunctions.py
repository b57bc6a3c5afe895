"""Terraform end to end for a Step Functions workflow: the real `terraform` with the
hashicorp/aws provider (offline, from a local mirror: see test_terraform_identity.py) applies an
`aws_sfn_state_machine` whose task calls an `aws_lambda_function`, with the `aws_iam_role`s
both need, in us-east-1. The machine runs (an execution through boto3 succeeds with the
function's answer), a second plan shows no change, and destroy removes everything."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, make_zip
from tests.e2e.stepfunctions_helpers import succeeded
from tests.e2e.test_terraform_identity import (  # noqa: F401  (the fixture)
    TF_REGION,
    TF_TIMEOUT,
    Provider,
    Terraform,
    client,
    error_of,
    provider_block,
    terraform,
    terraform_env,
)

CODE = "def handler(event, context):\n    return {'n': event['n'] + 1}\n"


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def configuration(provider: Provider, endpoint: str, n: dict[str, str]) -> str:
    q = json.dumps
    definition = """jsonencode({
    Comment = "adds one"
    StartAt = "AddOne"
    States = {
      AddOne = {
        Type     = "Task"
        Resource = aws_lambda_function.fn.arn
        Retry = [{
          ErrorEquals     = ["Lambda.TooManyRequestsException"]
          IntervalSeconds = 1
          MaxAttempts     = 2
          BackoffRate     = 2
        }]
        Next = "Done"
      }
      Done = {
        Type = "Succeed"
      }
    }
  })"""
    return f"""
{provider_block(provider, endpoint, "iam", "lambda", "sfn", "sts")}

resource "aws_iam_role" "fn" {{
  name               = {q(n["fn_role"])}
  assume_role_policy = {q(trust("lambda.amazonaws.com"))}
}}

resource "aws_lambda_function" "fn" {{
  function_name    = {q(n["function"])}
  role             = aws_iam_role.fn.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
}}

resource "aws_iam_role" "machine" {{
  name               = {q(n["machine_role"])}
  assume_role_policy = {q(trust("states.amazonaws.com"))}
}}

resource "aws_iam_role_policy" "invoke" {{
  name = "invoke"
  role = aws_iam_role.machine.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = aws_lambda_function.fn.arn
    }}]
  }})
}}

resource "aws_sfn_state_machine" "machine" {{
  name       = {q(n["machine"])}
  role_arn   = aws_iam_role.machine.arn
  definition = {definition}
  tags = {{
    team = "platform"
  }}
  depends_on = [aws_iam_role_policy.invoke]
}}

output "machine" {{
  value = aws_sfn_state_machine.machine.arn
}}
"""


@pytest.mark.timeout(5 * TF_TIMEOUT)
def test_terraform_state_machine_with_its_function_and_roles(
    terraform: tuple[str, Provider],  # noqa: F811  (the fixture)
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    binary, provider = terraform
    server: Server = request.getfixturevalue("server")
    tag = uuid.uuid4().hex[:8]
    n = {k: f"tf-{k.replace('_', '-')}-{tag}" for k in ("fn_role", "function", "machine_role", "machine")}
    workdir = tmp_path / "config"
    workdir.mkdir()
    (workdir / "function.zip").write_bytes(make_zip({"app.py": CODE}))
    (workdir / "main.tf").write_text(configuration(provider, server.endpoint, n))
    tf = Terraform(binary, workdir, terraform_env(tmp_path, provider.mirror), tmp_path)

    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    arn = json.loads(tf.run("output", "-json", "-no-color").stdout)["machine"]["value"]
    assert arn == f"arn:aws:states:{TF_REGION}:000000000000:stateMachine:{n['machine']}"

    sfn = client(server, "stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["status"], described["type"]) == ("ACTIVE", "STANDARD")
    assert json.loads(described["definition"])["States"]["AddOne"]["Resource"].endswith(f":{n['function']}")
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "platform"}]
    run = sfn.start_execution(stateMachineArn=arn, input='{"n": 41}')["executionArn"]
    done = succeeded(sfn, run)
    assert json.loads(done["output"]) == {"n": 42}

    # What Stratus answers reads back as what was applied: no changes (exit 0; 2 is a diff).
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    tf.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert error_of(sfn.describe_state_machine, stateMachineArn=arn) == "StateMachineDoesNotExist"
    assert error_of(client(server, "lambda").get_function, FunctionName=n["function"]) == (
        "ResourceNotFoundException"
    )
    assert error_of(client(server, "iam").get_role, RoleName=n["machine_role"]) == "NoSuchEntity"


def test_what_terraform_calls_beside_create_validate_and_list_versions(server: Server) -> None:
    """ValidateStateMachineDefinition (called before CreateStateMachine) and
    ListStateMachineVersions (read after it), through boto3."""
    sfn = server.client("stepfunctions")
    good = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    ok = sfn.validate_state_machine_definition(definition=json.dumps(good), type="STANDARD")
    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    bad = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Nowhere"}}}
    failed = sfn.validate_state_machine_definition(definition=json.dumps(bad))
    assert failed["result"] == "FAIL" and not failed["truncated"]
    assert {d["severity"] for d in failed["diagnostics"]} == {"ERROR"}
    [missing] = [d for d in failed["diagnostics"] if d["code"] == "MISSING_TRANSITION_TARGET"]
    assert "Nowhere" in missing["message"] and missing["location"] == "/States/P/Next"
    garbled = sfn.validate_state_machine_definition(definition="{not json")
    assert garbled["result"] == "FAIL"
    assert garbled["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    role = "arn:aws:iam::000000000000:role/test-role"
    arn = sfn.create_state_machine(
        name=f"v-{uuid.uuid4().hex[:8]}", definition=json.dumps(good), roleArn=role
    )["stateMachineArn"]
    assert sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"] == []
    assert (
        error_of(sfn.list_state_machine_versions, stateMachineArn=arn + "-gone") == "StateMachineDoesNotExist"
    )
