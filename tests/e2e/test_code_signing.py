"""Code signing as Stratus answers it: no configuration exists, so every function has none, and
CreateFunction naming one is refused as Lambda refuses a configuration it cannot find (never
accepted and dropped). Terraform's aws_lambda_function reads the setting in us-east-1
(tests/e2e/test_terraform_identity.py runs there)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import create, error_code

APP: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return 1\n"}


def test_a_function_has_no_code_signing_configuration(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    answer = lam.get_function_code_signing_config(FunctionName=fn_name)
    assert (answer["CodeSigningConfigArn"], answer["FunctionName"]) == ("", fn_name)
    arn = lam.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"]
    assert lam.get_function_code_signing_config(FunctionName=arn)["FunctionName"] == fn_name
    with pytest.raises(ClientError) as missing:
        lam.get_function_code_signing_config(FunctionName=f"{fn_name}-absent")
    assert error_code(missing) == "ResourceNotFoundException"


def test_create_function_naming_a_configuration_is_refused(lam: Any, fn_name: str) -> None:
    csc = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as refused:
        create(lam, fn_name, APP, CodeSigningConfigArn=csc)
    assert error_code(refused) == "CodeSigningConfigNotFoundException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert csc in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as absent:
        lam.get_function(FunctionName=fn_name)
    assert error_code(absent) == "ResourceNotFoundException"
