"""Terraform end to end for what a Lambda application is made of: the real `terraform` with the
hashicorp/aws provider (offline, from a local mirror: see test_terraform_identity.py) applies a
function with a layer, an alias with provisioned concurrency, a function URL, an event invoke
config, an HTTP API (integration, route, auto-deployed stage) with its permission, a log group
and a scheduled rule with its target and permission, in us-east-1. A second plan shows no
change, a code change applies in place (the function is updated, not replaced), and destroy
removes everything."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, make_zip
from tests.e2e.http_client import call
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

CODE = "import json\ndef handler(event, context):\n    return {'statusCode': 200, 'body': json.dumps({'v': %d})}\n"  # noqa: E501
LAYER = "def shout(s):\n    return s.upper()\n"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def configuration(provider: Provider, endpoint: str, n: dict[str, str]) -> str:
    q = json.dumps
    return f"""
{provider_block(provider, endpoint, "apigatewayv2", "cloudwatchlogs", "events", "iam", "lambda", "sts")}

resource "aws_iam_role" "fn" {{
  name               = {q(n["role"])}
  assume_role_policy = {q(json.dumps(TRUST))}
}}

resource "aws_iam_role_policy_attachment" "basic" {{
  role       = aws_iam_role.fn.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}}

resource "aws_lambda_layer_version" "lib" {{
  layer_name          = {q(n["layer"])}
  filename            = "layer.zip"
  source_code_hash    = filebase64sha256("layer.zip")
  compatible_runtimes = ["python3.12"]
}}

resource "aws_cloudwatch_log_group" "fn" {{
  name              = "/aws/lambda/{n["function"]}"
  retention_in_days = 7
  tags = {{
    team = "platform"
  }}
}}

resource "aws_lambda_function" "fn" {{
  function_name    = {q(n["function"])}
  role             = aws_iam_role.fn.arn
  runtime          = "python3.12"
  handler          = "app.handler"
  filename         = "function.zip"
  source_code_hash = filebase64sha256("function.zip")
  layers           = [aws_lambda_layer_version.lib.arn]
  publish          = true
  environment {{
    variables = {{
      STAGE = "test"
    }}
  }}
  tags = {{
    app = "tf"
  }}
  depends_on = [aws_iam_role_policy_attachment.basic, aws_cloudwatch_log_group.fn]
}}

resource "aws_lambda_alias" "live" {{
  name             = "live"
  function_name    = aws_lambda_function.fn.function_name
  function_version = aws_lambda_function.fn.version
}}

resource "aws_lambda_provisioned_concurrency_config" "live" {{
  function_name                     = aws_lambda_alias.live.function_name
  qualifier                         = aws_lambda_alias.live.name
  provisioned_concurrent_executions = 1
}}

resource "aws_lambda_function_event_invoke_config" "fn" {{
  function_name                = aws_lambda_function.fn.function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 300
}}

resource "aws_lambda_function_url" "fn" {{
  function_name      = aws_lambda_function.fn.function_name
  authorization_type = "NONE"
}}

resource "aws_apigatewayv2_api" "http" {{
  name          = {q(n["api"])}
  protocol_type = "HTTP"
}}

resource "aws_apigatewayv2_integration" "fn" {{
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn.invoke_arn
  payload_format_version = "2.0"
}}

resource "aws_apigatewayv2_route" "get" {{
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "GET /v"
  target    = "integrations/${{aws_apigatewayv2_integration.fn.id}}"
}}

resource "aws_apigatewayv2_stage" "default" {{
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}}

resource "aws_lambda_permission" "api" {{
  statement_id  = "api"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${{aws_apigatewayv2_api.http.execution_arn}}/*"
}}

resource "aws_cloudwatch_event_rule" "nightly" {{
  name                = {q(n["rule"])}
  schedule_expression = "cron(0 3 * * ? *)"
  tags = {{
    team = "platform"
  }}
}}

resource "aws_cloudwatch_event_target" "fn" {{
  rule = aws_cloudwatch_event_rule.nightly.name
  arn  = aws_lambda_function.fn.arn
}}

resource "aws_lambda_permission" "rule" {{
  statement_id  = "rule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.nightly.arn
}}

output "url" {{
  value = aws_lambda_function_url.fn.function_url
}}

output "api" {{
  value = aws_apigatewayv2_api.http.api_endpoint
}}
"""


def _answer(url: str) -> Any:
    reply = call(url)
    assert reply.status == 200, (url, reply.status, reply.body)
    return reply.json()


@pytest.mark.timeout(6 * TF_TIMEOUT)
def test_terraform_lambda_application(
    terraform: tuple[str, Provider],  # noqa: F811  (the fixture)
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    binary, provider = terraform
    server: Server = request.getfixturevalue("server")
    tag = uuid.uuid4().hex[:8]
    n = {k: f"tf-{k}-{tag}" for k in ("role", "layer", "function", "api", "rule")}
    workdir = tmp_path / "config"
    workdir.mkdir()
    (workdir / "function.zip").write_bytes(make_zip({"app.py": CODE % 1}))
    (workdir / "layer.zip").write_bytes(make_zip({"python/shout.py": LAYER}))
    (workdir / "main.tf").write_text(configuration(provider, server.endpoint, n))
    tf = Terraform(binary, workdir, terraform_env(tmp_path, provider.mirror), tmp_path)

    tf.run("init", "-input=false", "-no-color")
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    outputs = json.loads(tf.run("output", "-json", "-no-color").stdout)

    lam, logs, events = client(server, "lambda"), client(server, "logs"), client(server, "events")
    fn = lam.get_function(FunctionName=n["function"])["Configuration"]
    assert [layer["Arn"].split(":")[6] for layer in fn["Layers"]] == [n["layer"]]
    assert lam.get_alias(FunctionName=n["function"], Name="live")["FunctionVersion"] == "1"
    group = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{n['function']}")["logGroups"][0]
    assert group["retentionInDays"] == 7
    assert events.list_targets_by_rule(Rule=n["rule"])["Targets"][0]["Arn"] == fn["FunctionArn"]
    assert _answer(outputs["url"]["value"]) == {"v": 1}
    assert _answer(outputs["api"]["value"] + "/v") == {"v": 1}

    # What Stratus answers reads back as what was applied: no changes (exit 0; 2 is a diff).
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    # A code change is an in-place update of the function, not a replacement.
    (workdir / "function.zip").write_bytes(make_zip({"app.py": CODE % 2}))
    plan = tf.run("plan", "-input=false", "-no-color", "-detailed-exitcode", expect=(2,)).stdout
    assert "aws_lambda_function.fn will be updated in-place" in plan, plan[-3000:]
    assert "must be replaced" not in plan.split("aws_lambda_function.fn", 1)[1].split("#", 1)[0]
    tf.run("apply", "-auto-approve", "-input=false", "-no-color")
    assert _answer(outputs["url"]["value"]) == {"v": 2}
    tf.run("plan", "-detailed-exitcode", "-input=false", "-no-color")

    tf.run("destroy", "-auto-approve", "-input=false", "-no-color")
    assert error_of(lam.get_function, FunctionName=n["function"]) == "ResourceNotFoundException"
    assert error_of(events.describe_rule, Name=n["rule"]) == "ResourceNotFoundException"
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{n['function']}")["logGroups"] == []
    assert lam.list_layer_versions(LayerName=n["layer"])["LayerVersions"] == []
    apis = client(server, "apigatewayv2").get_apis()["Items"]
    assert n["api"] not in {a["Name"] for a in apis}
