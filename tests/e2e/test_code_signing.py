"""Code signing configurations as Lambda's API has them, and what they mean here: no package
deployed to Stratus carries a signature (AWS Signer has no counterpart), so a configuration set
to Enforce refuses a function's new code and layers with CodeVerificationFailedException, and
one set to Warn lets them through, as Lambda treats code that fails the check. Terraform's
aws_lambda_function reads the function's setting in us-east-1
(tests/e2e/test_terraform_identity.py runs there)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import create, error_code, make_zip

APP: dict[str, str | bytes] = {"app.py": "def handler(event, context):\n    return 1\n"}
PROFILE = "arn:aws:signer:us-east-1:000000000000:/signing-profiles/release/abcdef0123"


def _config(lam: Any, policy: str) -> str:
    made = lam.create_code_signing_config(
        Description=f"{policy} policy",
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )["CodeSigningConfig"]
    return str(made["CodeSigningConfigArn"])


def test_a_function_has_no_code_signing_configuration_by_default(lam: Any, fn_name: str) -> None:
    create(lam, fn_name, APP)
    answer = lam.get_function_code_signing_config(FunctionName=fn_name)
    assert (answer["CodeSigningConfigArn"], answer["FunctionName"]) == ("", fn_name)
    arn = lam.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"]
    assert lam.get_function_code_signing_config(FunctionName=arn)["FunctionName"] == fn_name
    with pytest.raises(ClientError) as missing:
        lam.get_function_code_signing_config(FunctionName=f"{fn_name}-absent")
    assert error_code(missing) == "ResourceNotFoundException"


def test_configuration_crud(lam: Any, fn_name: str) -> None:
    arn = _config(lam, "Warn")
    assert arn.startswith("arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-")
    got = lam.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    assert got["AllowedPublishers"]["SigningProfileVersionArns"] == [PROFILE]
    assert got["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == "Warn"
    updated = lam.update_code_signing_config(
        CodeSigningConfigArn=arn,
        Description="changed",
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]
    assert (updated["Description"], updated["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"]) == (
        "changed",
        "Enforce",
    )
    assert updated["AllowedPublishers"]["SigningProfileVersionArns"] == [PROFILE]
    listed = [c["CodeSigningConfigArn"] for c in lam.list_code_signing_configs()["CodeSigningConfigs"]]
    assert arn in listed

    create(lam, fn_name, APP)
    lam.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"}
    )
    put = lam.put_function_code_signing_config(CodeSigningConfigArn=arn, FunctionName=fn_name)
    assert (put["CodeSigningConfigArn"], put["FunctionName"]) == (arn, fn_name)
    assert lam.get_function_code_signing_config(FunctionName=fn_name)["CodeSigningConfigArn"] == arn
    users = lam.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"]
    assert users == [f"arn:aws:lambda:us-east-1:000000000000:function:{fn_name}"]
    with pytest.raises(ClientError) as in_use:
        lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    assert error_code(in_use) == "ResourceConflictException"

    lam.delete_function_code_signing_config(FunctionName=fn_name)
    assert lam.get_function_code_signing_config(FunctionName=fn_name)["CodeSigningConfigArn"] == ""
    lam.delete_code_signing_config(CodeSigningConfigArn=arn)
    with pytest.raises(ClientError) as gone:
        lam.get_code_signing_config(CodeSigningConfigArn=arn)
    assert error_code(gone) == "CodeSigningConfigNotFoundException"


def test_enforce_refuses_unsigned_code_and_warn_lets_it_through(lam: Any, fn_name: str) -> None:
    enforce, warn = _config(lam, "Enforce"), _config(lam, "Warn")
    with pytest.raises(ClientError) as refused:
        create(lam, fn_name, APP, CodeSigningConfigArn=enforce)
    assert error_code(refused) == "CodeVerificationFailedException"
    with pytest.raises(ClientError) as absent:
        lam.get_function(FunctionName=fn_name)
    assert error_code(absent) == "ResourceNotFoundException"

    create(lam, fn_name, APP, CodeSigningConfigArn=warn)
    assert lam.get_function_code_signing_config(FunctionName=fn_name)["CodeSigningConfigArn"] == warn
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    lam.update_function_code(
        FunctionName=fn_name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=fn_name)
    assert lam.invoke(FunctionName=fn_name)["Payload"].read() == b"2"

    lam.put_function_code_signing_config(CodeSigningConfigArn=enforce, FunctionName=fn_name)
    with pytest.raises(ClientError) as blocked:
        lam.update_function_code(
            FunctionName=fn_name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 3\n"})
        )
    assert error_code(blocked) == "CodeVerificationFailedException"
    assert lam.invoke(FunctionName=fn_name)["Payload"].read() == b"2"  # the deployed code runs on


def test_a_configuration_that_does_not_exist_is_refused(lam: Any, fn_name: str) -> None:
    csc = "arn:aws:lambda:us-east-1:000000000000:code-signing-config:csc-0123456789abcdef0"
    with pytest.raises(ClientError) as refused:
        create(lam, fn_name, APP, CodeSigningConfigArn=csc)
    assert error_code(refused) == "CodeSigningConfigNotFoundException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert csc in refused.value.response["Error"]["Message"]
    create(lam, fn_name, APP)
    with pytest.raises(ClientError) as put:
        lam.put_function_code_signing_config(CodeSigningConfigArn=csc, FunctionName=fn_name)
    assert error_code(put) == "CodeSigningConfigNotFoundException"
