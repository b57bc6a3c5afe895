from __future__ import annotations

import pytest

from stratus.control.arns import (
    FunctionRef,
    function_arn,
    merge_qualifier,
    parse_function_ref,
    parse_resource_arn,
)
from stratus.control.keys import FunctionKey
from stratus.errors import InvalidParameterValue, ValidationError

ACCOUNT = "000000000000"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:my-fn_1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("f", FunctionRef("f", None)),
        ("my-fn_1", FunctionRef("my-fn_1", None)),
        ("f:1", FunctionRef("f", "1")),
        ("f:$LATEST", FunctionRef("f", "$LATEST")),
        ("f:prod", FunctionRef("f", "prod")),
        ("f:blue-green_2", FunctionRef("f", "blue-green_2")),
        (f"{ACCOUNT}:function:f", FunctionRef("f", None, ACCOUNT)),
        (f"{ACCOUNT}:function:f:7", FunctionRef("f", "7", ACCOUNT)),
        (ARN, FunctionRef("my-fn_1", None, ACCOUNT, "us-east-1")),
        (f"{ARN}:$LATEST", FunctionRef("my-fn_1", "$LATEST", ACCOUNT, "us-east-1")),
        (f"{ARN}:3", FunctionRef("my-fn_1", "3", ACCOUNT, "us-east-1")),
        (f"{ARN}:live", FunctionRef("my-fn_1", "live", ACCOUNT, "us-east-1")),
        (f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:f", FunctionRef("f", None, ACCOUNT, "cn-north-1")),
        (
            f"arn:aws-us-gov:lambda:us-gov-west-1:{ACCOUNT}:function:f:1",
            FunctionRef("f", "1", ACCOUNT, "us-gov-west-1"),
        ),
        ("a" * 64, FunctionRef("a" * 64, None)),
        ("f:" + "q" * 128, FunctionRef("f", "q" * 128)),
    ],
)
def test_parse_function_ref(value: str, expected: FunctionRef) -> None:
    assert parse_function_ref(value, ACCOUNT) == expected


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:lambda:us-east-1:111111111111:function:f",
        "111111111111:function:f",
        "arn:aws:lambda:us-east-1:111111111111:function:f:1",
    ],
)
def test_other_account_is_refused(value: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_function_ref(value, ACCOUNT)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "f:",
        ":1",
        "my function",
        "f.py",
        "f:1:2",
        "f:$latest",
        "a" * 65,
        "f:" + "q" * 129,
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:",
        f"arn:aws:s3:::{ACCOUNT}:function:f",
        "arn:aws:lambda:us-east-1:0000:function:f",
    ],
)
def test_invalid_reference_is_a_validation_error(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_function_ref(value, ACCOUNT)
    assert info.value.code == "ValidationException"
    assert "functionName" in info.value.message


@pytest.mark.parametrize(
    ("in_name", "in_query", "expected"),
    [
        (None, None, None),
        ("1", None, "1"),
        (None, "2", "2"),
        ("prod", "prod", "prod"),
        ("$LATEST", "$LATEST", "$LATEST"),
    ],
)
def test_merge_qualifier(in_name: str | None, in_query: str | None, expected: str | None) -> None:
    assert merge_qualifier(FunctionRef("f", in_name), in_query) == expected


@pytest.mark.parametrize(("in_name", "in_query"), [("1", "2"), ("prod", "$LATEST"), ("$LATEST", "1")])
def test_merge_qualifier_conflict(in_name: str, in_query: str) -> None:
    with pytest.raises(InvalidParameterValue):
        merge_qualifier(FunctionRef("f", in_name), in_query)


def test_function_arn() -> None:
    assert function_arn("us-east-1", ACCOUNT, "f") == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    assert function_arn("eu-west-1", ACCOUNT, "f", "2") == f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:f:2"


def test_function_arn_round_trips() -> None:
    arn = function_arn("us-east-1", ACCOUNT, "f", "prod")
    assert parse_function_ref(arn, ACCOUNT) == FunctionRef("f", "prod", ACCOUNT, "us-east-1")


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (ARN, FunctionKey("us-east-1", "my-fn_1")),
        (f"arn:aws-cn:lambda:cn-north-1:{ACCOUNT}:function:f", FunctionKey("cn-north-1", "f")),
    ],
)
def test_parse_resource_arn(value: str, key: FunctionKey) -> None:
    assert parse_resource_arn(value) == key


@pytest.mark.parametrize(
    "value",
    [
        "",
        "my-fn",
        f"{ARN}:1",
        f"{ARN}:prod",
        f"{ACCOUNT}:function:f",
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:f",
        "arn:aws:lambda:us-east-1:123:function:f",
    ],
)
def test_parse_resource_arn_invalid(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_resource_arn(value)
    assert "resource" in info.value.message
