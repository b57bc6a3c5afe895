"""Function identifiers as Lambda accepts them: a name, a partial ARN or a full ARN, each
optionally with a `:qualifier`. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stratus.control.keys import FunctionKey
from stratus.errors import InvalidParameterValue, ValidationError

_FUNCTION_REF = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d{1}):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?$"
)


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None
    account: str | None = None
    region: str | None = None  # the region a full or partial ARN names (None for a plain name)


def parse_function_ref(value: str, account_id: str) -> FunctionRef:
    match = _FUNCTION_REF.match(value or "")
    if match is None:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
            r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    account = match.group("account")
    if account is not None and account != account_id:
        raise InvalidParameterValue(
            f"The account ID in the function ARN ({account}) does not match this account."
        )
    return FunctionRef(match.group("name"), match.group("qualifier"), account, match.group("region"))


def merge_qualifier(ref: FunctionRef, query_qualifier: str | None) -> str | None:
    """A qualifier in the name and in `?Qualifier=` must agree, as Lambda requires."""
    if ref.qualifier and query_qualifier and ref.qualifier != query_qualifier:
        raise InvalidParameterValue(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return query_qualifier or ref.qualifier


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


_RESOURCE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"function:(?P<name>[a-zA-Z0-9_-]{1,64})$"
)


def parse_resource_arn(value: str) -> FunctionKey:
    """The function a taggable resource ARN names (unqualified functions only), in the ARN's
    region."""
    match = _RESOURCE_ARN.match(value or "")
    if match is None:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at 'resource' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: "
            r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_]+"
        )
    return FunctionKey(match.group("region"), match.group("name"))


_LAMBDA_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


def destination_function(arn: str) -> tuple[str, str | None] | None:
    """(name, qualifier) when `arn` names a Lambda function, else None."""
    match = _LAMBDA_ARN.match(arn)
    return (match.group("name"), match.group("qualifier")) if match else None


def arn_function(arn: str) -> tuple[FunctionKey, str | None] | None:
    """(the function, qualifier) when `arn` names a Lambda function, else None: the function is
    the one of the ARN's region (each region is its own namespace)."""
    match = _LAMBDA_ARN.match(arn)
    if match is None:
        return None
    return FunctionKey(match.group("region"), match.group("name")), match.group("qualifier")


_MESSAGE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:(?P<service>sqs|sns):(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_.-]{1,256})$"
)


def message_target(arn: str) -> tuple[str, str] | None:
    """("sqs" or "sns", region) when `arn` names a queue or a topic (a destination or a
    dead-letter target that is not a function), else None."""
    match = _MESSAGE_ARN.match(arn)
    return (match.group("service"), match.group("region")) if match else None
