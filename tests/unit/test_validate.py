from __future__ import annotations

from typing import Any

import pytest

from stratus.control import validate
from stratus.errors import InvalidParameterValue, ValidationError

ROLE = "arn:aws:iam::000000000000:role/test-role"


def rejects(fn: Any, value: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        fn(value)
    # The exact class matters: ValidationException and InvalidParameterValueException are
    # different codes on the wire.
    assert type(info.value) is error


# -- function_name -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["f", "my-function_2", "A" * 64, "123"])
def test_function_name_accepts(name: str) -> None:
    assert validate.function_name(name) == name


@pytest.mark.parametrize("name", ["", "a" * 65, "my function", "f:1", "f.py", None, 12, ["f"]])
def test_function_name_rejects(name: Any) -> None:
    rejects(validate.function_name, name, ValidationError)


# -- alias_name ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["prod", "live-2", "blue_green", "1a", "a" * 128])
def test_alias_name_accepts(name: str) -> None:
    assert validate.alias_name(name) == name


@pytest.mark.parametrize("name", ["", "1", "123", "a" * 129, "a:b", "a.b", "a b", "$LATEST", None, 5])
def test_alias_name_rejects(name: Any) -> None:
    rejects(validate.alias_name, name, ValidationError)


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [128, 129, 1024, 10240])
def test_memory_size_accepts(value: int) -> None:
    assert validate.memory_size(value) == value


@pytest.mark.parametrize("value", [127, 0, -1, 10241, "256", 256.0, True, None])
def test_memory_size_rejects(value: Any) -> None:
    rejects(validate.memory_size, value, ValidationError)


def test_memory_size_messages() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 128"):
        validate.memory_size(64)
    with pytest.raises(ValidationError, match="less than or equal to 10240"):
        validate.memory_size(20000)
    with pytest.raises(ValidationError, match="whole number"):
        validate.memory_size("x")


@pytest.mark.parametrize("value", [1, 3, 900])
def test_timeout_accepts(value: int) -> None:
    assert validate.timeout(value) == value


@pytest.mark.parametrize("value", [0, 901, -5, 3.5, "3", False])
def test_timeout_rejects(value: Any) -> None:
    rejects(validate.timeout, value, ValidationError)


@pytest.mark.parametrize("size", [512, 1024, 10240])
def test_ephemeral_storage_accepts(size: int) -> None:
    assert validate.ephemeral_storage({"Size": size}) == size


@pytest.mark.parametrize("value", [{"Size": 511}, {"Size": 10241}, {"Size": "512"}, {}, 512, None])
def test_ephemeral_storage_rejects(value: Any) -> None:
    rejects(validate.ephemeral_storage, value, ValidationError)


# -- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        ROLE,
        "arn:aws:iam::123456789012:role/service-role/my.role+x=y,z@w",
        "arn:aws-cn:iam::000000000000:role/r",
    ],
)
def test_role_accepts(value: str) -> None:
    assert validate.role(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "role",
        "arn:aws:iam::000000000000:role",
        "arn:aws:iam::000000000000:user/x",
        "arn:aws:iam::0000:role/x",
        "arn:aws:iam::000000000000:role/with space",
        None,
    ],
)
def test_role_rejects(value: Any) -> None:
    rejects(validate.role, value, ValidationError)


@pytest.mark.parametrize("value", ["app.handler", "pkg/mod.fn", "x", "h" * 128])
def test_handler_accepts(value: str) -> None:
    assert validate.handler(value) == value


@pytest.mark.parametrize("value", ["", "app. handler", "a\tb", "h" * 129, None, 1])
def test_handler_rejects(value: Any) -> None:
    rejects(validate.handler, value, ValidationError)


@pytest.mark.parametrize("value", ["", "a description", "d" * 256])
def test_description_accepts(value: str) -> None:
    assert validate.description(value) == value


@pytest.mark.parametrize("value", ["d" * 257, None, 3])
def test_description_rejects(value: Any) -> None:
    rejects(validate.description, value, ValidationError)


# -- environment ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, {}),
        ({"Variables": None}, {}),
        ({"Variables": {}}, {}),
        ({"Variables": {"AB": "1", "my_var2": ""}}, {"AB": "1", "my_var2": ""}),
        ({"Variables": {"K" + "x" * 10: "v" * 4085}}, {"K" + "x" * 10: "v" * 4085}),
    ],
)
def test_environment_accepts(value: dict[str, Any], expected: dict[str, str]) -> None:
    assert validate.environment(value) == expected


# `_HANDLER` is reserved too, but fails the key pattern first, as in Lambda.
@pytest.mark.parametrize("key", ["A", "1AB", "_AB", "A-B", "A B", "", "_HANDLER"])
def test_environment_bad_key_is_a_validation_error(key: str) -> None:
    rejects(validate.environment, {"Variables": {key: "v"}}, ValidationError)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "FOO=bar",
        {"Variables": ["FOO"]},
        {"Variables": {"FOO": 1}},
        {"Variables": {"FOO": None}},
        {"Variables": {"AWS_REGION": "us-east-1"}},
        {"Variables": {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"}},
        {"Variables": {"AWS_SECRET_ACCESS_KEY": "s"}},
        {"Variables": {"K" + "x" * 10: "v" * 4086}},
    ],
)
def test_environment_rejects_as_invalid_parameter(value: Any) -> None:
    rejects(validate.environment, value, InvalidParameterValue)


def test_environment_size_counts_utf8_bytes() -> None:
    # 2 bytes per character: 2 + 2047 * 2 = 4096 fits, one more does not.
    assert validate.environment({"Variables": {"AB": "é" * 2047}})
    with pytest.raises(InvalidParameterValue, match="4KB"):
        validate.environment({"Variables": {"AB": "é" * 2048}})


def test_environment_reserved_message_names_the_key() -> None:
    with pytest.raises(InvalidParameterValue, match="AWS_REGION"):
        validate.environment({"Variables": {"OK": "1", "AWS_REGION": "x"}})


# -- tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [{}, {"team": "a"}, {"k" * 128: "", "env": "prod"}])
def test_tags_accepts(value: dict[str, str]) -> None:
    assert validate.tags(value) == value


@pytest.mark.parametrize(
    "value",
    [None, ["a"], {"team": 1}, {"": "x"}, {"k" * 129: "x"}, {"aws:createdBy": "me"}],
)
def test_tags_rejects(value: Any) -> None:
    rejects(validate.tags, value, InvalidParameterValue)
