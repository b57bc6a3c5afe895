"""Validation of control-plane input: pure functions that raise AWS's errors."""

from __future__ import annotations

import re
from typing import Any

from stratus.errors import InvalidParameterValue, ValidationError

FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
ALIAS_NAME = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$")
ROLE_ARN = re.compile(r"^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
HANDLER = re.compile(r"^[^\s]+$")
ENV_KEY = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
# Lambda reserves these; a function may not set them.
RESERVED_ENV = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
MAX_ENV_BYTES = 4096
MIN_MEMORY, MAX_MEMORY = 128, 10240
MIN_TIMEOUT, MAX_TIMEOUT = 1, 900
MIN_EPHEMERAL, MAX_EPHEMERAL = 512, 10240


def function_name(name: Any) -> str:
    if not isinstance(name, str) or not FUNCTION_NAME.match(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
            r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    return name


def alias_name(name: Any) -> str:
    if not isinstance(name, str) or not (1 <= len(name) <= 128) or not ALIAS_NAME.match(name):
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )
    return name


def memory_size(value: Any) -> int:
    return _int_range(value, "memorySize", MIN_MEMORY, MAX_MEMORY)


def timeout(value: Any) -> int:
    return _int_range(value, "timeout", MIN_TIMEOUT, MAX_TIMEOUT)


def ephemeral_storage(value: Any) -> int:
    size = value.get("Size") if isinstance(value, dict) else None
    return _int_range(size, "ephemeralStorage.size", MIN_EPHEMERAL, MAX_EPHEMERAL)


def _int_range(value: Any, member: str, low: int, high: int) -> int:
    if not _is_int(value):
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            "constraint: Member must be a whole number"
        )
    if value < low:
        bound = f"greater than or equal to {low}"
    elif value > high:
        bound = f"less than or equal to {high}"
    else:
        return int(value)
    raise ValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must have value {bound}"
    )


def role(value: Any) -> str:
    if not isinstance(value, str) or not ROLE_ARN.match(value):
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'role' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
        )
    return value


def handler(value: Any) -> str:
    if not isinstance(value, str) or not (1 <= len(value) <= 128) or not HANDLER.match(value):
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'handler' failed to satisfy "
            r"constraint: Member must satisfy regular expression pattern: [^\s]+"
        )
    return value


def description(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 256:
        raise ValidationError(
            "1 validation error detected: Value at 'description' failed to satisfy constraint: "
            "Member must have length less than or equal to 256"
        )
    return value


def environment(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidParameterValue("Environment must be an object with a 'Variables' map.")
    variables = value.get("Variables") or {}
    if not isinstance(variables, dict):
        raise InvalidParameterValue("Environment.Variables must be a map of strings.")
    size = 0
    for key, val in variables.items():
        if not isinstance(key, str) or not ENV_KEY.match(key):
            raise ValidationError(
                f"1 validation error detected: Value at 'environment.variables' failed to "
                f"satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
                f"regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (key {key!r})"
            )
        if not isinstance(val, str):
            raise InvalidParameterValue(f"Environment variable {key} must be a string.")
        if key in RESERVED_ENV:
            raise InvalidParameterValue(
                "Lambda was unable to configure your environment variables because the "
                f"environment variables you have provided contains reserved keys that are "
                f"currently not supported for modification. Reserved keys used in this request: {key}"
            )
        size += len(key.encode()) + len(val.encode())
    if size > MAX_ENV_BYTES:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {size}"
        )
    return {str(k): str(v) for k, v in variables.items()}


def tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InvalidParameterValue("Tags must be a map of strings to strings.")
    for key in value:
        if not (1 <= len(key) <= 128) or key.startswith("aws:"):
            raise InvalidParameterValue(f"Invalid tag key: {key!r}")
    return dict(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")


def logging_config(value: Any) -> dict[str, Any]:
    """The configuration changes a LoggingConfig asks for. Log levels filter structured logs,
    so, as on Lambda, they are accepted only with LogFormat JSON; Text clears them."""
    if not isinstance(value, dict):
        raise InvalidParameterValue("LoggingConfig must be an object.")
    changes: dict[str, Any] = {}
    log_format = value.get("LogFormat")
    if log_format is not None:
        if log_format not in ("Text", "JSON"):
            raise ValidationError(
                f"1 validation error detected: Value '{log_format}' at 'loggingConfig.logFormat' failed "
                "to satisfy constraint: Member must satisfy enum value set: [JSON, Text]"
            )
        changes["log_format"] = log_format
    for key, member, allowed, field in (
        ("ApplicationLogLevel", "applicationLogLevel", APPLICATION_LOG_LEVELS, "app_log_level"),
        ("SystemLogLevel", "systemLogLevel", SYSTEM_LOG_LEVELS, "system_log_level"),
    ):
        level = value.get(key)
        if level is None:
            continue
        if level not in allowed:
            raise ValidationError(
                f"1 validation error detected: Value '{level}' at 'loggingConfig.{member}' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
        if log_format != "JSON":
            raise InvalidParameterValue(
                f"{key} can only be set with LogFormat JSON; logs in the Text format are not filtered "
                "by level."
            )
        changes[field] = level
    if log_format == "Text":
        changes["app_log_level"] = changes["system_log_level"] = None
    group = value.get("LogGroup")
    if group is not None:
        if not isinstance(group, str) or not LOG_GROUP.match(group):
            raise ValidationError(
                f"1 validation error detected: Value '{group}' at 'loggingConfig.logGroup' failed to "
                r"satisfy constraint: Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+"
            )
        changes["log_group"] = group
    return changes


def vpc_config(value: Any) -> dict[str, Any]:
    """VpcConfig as Lambda answers it. The VPC id is what Lambda looks up from the subnets; with
    no VPCs here it stays empty. Sending empty lists detaches a function from its VPC."""
    if not isinstance(value, dict):
        raise InvalidParameterValue("VpcConfig must be an object.")
    subnets = [str(s) for s in value.get("SubnetIds") or []]
    groups = [str(g) for g in value.get("SecurityGroupIds") or []]
    if not subnets and not groups:
        return {}
    return {
        "SubnetIds": subnets,
        "SecurityGroupIds": groups,
        "VpcId": "",
        "Ipv6AllowedForDualStack": bool(value.get("Ipv6AllowedForDualStack", False)),
    }
