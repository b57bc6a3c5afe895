"""Resource-based policy (AddPermission, GetPolicy, RemovePermission) with boto3 and the AWS CLI,
as SAM and the function URL docs use it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create

APP: dict[str, str | bytes] = {
    "app.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
}


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


def test_add_get_remove_permission(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    added = lam.add_permission(
        FunctionName=fn_name,
        StatementId="FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    statement = json.loads(added["Statement"])
    assert statement["Sid"] == "FunctionURLAllowPublicAccess"
    assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
    assert statement["Action"] == "lambda:InvokeFunctionUrl"
    assert statement["Resource"].endswith(f":function:{fn_name}")
    assert statement["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}

    lam.add_permission(
        FunctionName=fn_name,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:000000000000:abc123/*/*",
    )
    policy = json.loads(lam.get_policy(FunctionName=fn_name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["FunctionURLAllowPublicAccess", "apigw"]
    assert policy["Statement"][1]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert policy["Statement"][1]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith("abc123/*/*")

    with pytest.raises(ClientError) as err:
        lam.add_permission(
            FunctionName=fn_name, StatementId="apigw", Action="lambda:InvokeFunction", Principal="*"
        )
    assert code(err) == "ResourceConflictException"

    lam.remove_permission(FunctionName=fn_name, StatementId="apigw")
    policy = json.loads(lam.get_policy(FunctionName=fn_name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["FunctionURLAllowPublicAccess"]
    with pytest.raises(ClientError) as err:
        lam.remove_permission(FunctionName=fn_name, StatementId="apigw")
    assert code(err) == "ResourceNotFoundException"
    lam.remove_permission(FunctionName=fn_name, StatementId="FunctionURLAllowPublicAccess")
    with pytest.raises(ClientError) as err:
        lam.get_policy(FunctionName=fn_name)
    assert code(err) == "ResourceNotFoundException"


def test_bad_permissions_are_refused(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    for kwargs, expected in [
        (
            {"StatementId": "bad id!", "Action": "lambda:InvokeFunction", "Principal": "*"},
            "InvalidParameterValueException",
        ),
        ({"StatementId": "ok", "Action": "s3:GetObject", "Principal": "*"}, "InvalidParameterValueException"),
        (
            {"StatementId": "ok", "Action": "lambda:InvokeFunction", "Principal": "*", "Qualifier": "nope"},
            "ResourceNotFoundException",
        ),
    ]:
        with pytest.raises(ClientError) as err:
            lam.add_permission(FunctionName=fn_name, **kwargs)
        assert code(err) == expected, kwargs
    with pytest.raises(ClientError) as err:
        lam.add_permission(FunctionName="missing-fn", StatementId="s", Action="lambda:*", Principal="*")
    assert code(err) == "ResourceNotFoundException"


def test_aws_cli_add_permission_for_a_function_url(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    out = server.aws(
        "lambda",
        "add-permission",
        "--function-name",
        fn_name,
        "--statement-id",
        "url",
        "--action",
        "lambda:InvokeFunctionUrl",
        "--principal",
        "*",
        "--function-url-auth-type",
        "NONE",
    )
    assert json.loads(json.loads(out.stdout)["Statement"])["Sid"] == "url"
    policy = json.loads(lam.get_policy(FunctionName=fn_name)["Policy"])
    assert policy["Statement"][0]["Action"] == "lambda:InvokeFunctionUrl"
