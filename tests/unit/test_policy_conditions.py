"""conditions.py: every operator family, the set qualifiers, IfExists, a key missing from the
request (negated operators true, the others false), several keys ANDed and several values ORed,
and policy variables in condition values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.identity.conditions import Context, UnknownOperator, compile_condition, instant
from stratus.identity.policy import parse

NOW = "2026-01-01T12:00:00Z"
EPOCH = str(int(instant(NOW) or 0))


def holds(operator: str, key: str, values: Any, context: Context, *, variables: bool = True) -> bool:
    written = values if isinstance(values, list) else [values]
    condition = compile_condition(operator, key, tuple(written), variables=variables)
    return condition.holds(context)


# (case, operator, key, policy values, request context, expected)
CASES: list[tuple[str, str, str, Any, dict[str, tuple[str, ...]], bool]] = [
    # String
    ("StringEquals match", "StringEquals", "aws:username", "bob", {"aws:username": ("bob",)}, True),
    (
        "StringEquals is case-sensitive",
        "StringEquals",
        "aws:username",
        "Bob",
        {"aws:username": ("bob",)},
        False,
    ),
    (
        "StringEquals values are ORed",
        "StringEquals",
        "aws:username",
        ["al", "bob"],
        {"aws:username": ("bob",)},
        True,
    ),
    ("StringEquals key missing", "StringEquals", "aws:username", "bob", {}, False),
    ("StringNotEquals other", "StringNotEquals", "aws:username", "al", {"aws:username": ("bob",)}, True),
    ("StringNotEquals same", "StringNotEquals", "aws:username", "bob", {"aws:username": ("bob",)}, False),
    (
        "StringNotEquals values are NORed",
        "StringNotEquals",
        "aws:username",
        ["al", "bob"],
        {"aws:username": ("bob",)},
        False,
    ),
    ("StringNotEquals key missing is true", "StringNotEquals", "aws:username", "bob", {}, True),
    (
        "StringEqualsIgnoreCase",
        "StringEqualsIgnoreCase",
        "aws:username",
        "BOB",
        {"aws:username": ("bob",)},
        True,
    ),
    (
        "StringNotEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "aws:username",
        "BOB",
        {"aws:username": ("bob",)},
        False,
    ),
    ("StringLike star", "StringLike", "s3:prefix", "home/*", {"s3:prefix": ("home/bob/x",)}, True),
    ("StringLike question", "StringLike", "s3:prefix", "v?", {"s3:prefix": ("v1",)}, True),
    ("StringLike no partial match", "StringLike", "s3:prefix", "home", {"s3:prefix": ("home/bob",)}, False),
    ("StringLike is case-sensitive", "StringLike", "s3:prefix", "Home/*", {"s3:prefix": ("home/x",)}, False),
    ("StringNotLike", "StringNotLike", "s3:prefix", "home/*", {"s3:prefix": ("etc/x",)}, True),
    ("StringNotLike key missing is true", "StringNotLike", "s3:prefix", "home/*", {}, True),
    # ARN: segment-wise
    (
        "ArnLike wildcard in a part",
        "ArnLike",
        "aws:sourcearn",
        "arn:aws:events:*:123456789012:rule/*",
        {"aws:sourcearn": ("arn:aws:events:us-east-1:123456789012:rule/nightly",)},
        True,
    ),
    (
        "ArnLike: a star does not span parts",
        "ArnLike",
        "aws:sourcearn",
        "arn:aws:events:*:rule/x",
        {"aws:sourcearn": ("arn:aws:events:us-east-1:123456789012:rule/x",)},
        False,
    ),
    (
        "ArnLike: region part star cannot eat the account",
        "ArnLike",
        "aws:sourcearn",
        "arn:aws:sqs:*:111111111111:*",
        {"aws:sourcearn": ("arn:aws:sqs:us-east-1:222222222222:q:111111111111:x",)},
        False,
    ),
    (
        "ArnEquals takes wildcards too",
        "ArnEquals",
        "aws:sourcearn",
        "arn:aws:s3:::bucket-*",
        {"aws:sourcearn": ("arn:aws:s3:::bucket-a",)},
        True,
    ),
    (
        "ArnEquals is case-sensitive",
        "ArnEquals",
        "aws:sourcearn",
        "arn:aws:s3:::Bucket",
        {"aws:sourcearn": ("arn:aws:s3:::bucket",)},
        False,
    ),
    ("ArnLike lone star", "ArnLike", "aws:sourcearn", "*", {"aws:sourcearn": ("arn:aws:s3:::b",)}, True),
    (
        "ArnLike on a value that is not an ARN",
        "ArnLike",
        "aws:sourcearn",
        "arn:aws:s3:::*",
        {"aws:sourcearn": ("bucket",)},
        False,
    ),
    (
        "ArnNotEquals other",
        "ArnNotEquals",
        "aws:sourcearn",
        "arn:aws:s3:::a",
        {"aws:sourcearn": ("arn:aws:s3:::b",)},
        True,
    ),
    ("ArnNotLike key missing is true", "ArnNotLike", "aws:sourcearn", "arn:aws:s3:::a", {}, True),
    # Bool
    ("Bool true", "Bool", "aws:securetransport", "true", {"aws:securetransport": ("true",)}, True),
    (
        "Bool is not case-sensitive",
        "Bool",
        "aws:securetransport",
        "True",
        {"aws:securetransport": ("true",)},
        True,
    ),
    ("Bool false vs true", "Bool", "aws:securetransport", "false", {"aws:securetransport": ("true",)}, False),
    ("Bool key missing", "Bool", "aws:securetransport", "false", {}, False),
    ("BoolIfExists key missing", "BoolIfExists", "aws:securetransport", "false", {}, True),
    # Numeric
    ("NumericEquals", "NumericEquals", "s3:max-keys", "10", {"s3:max-keys": ("10.0",)}, True),
    ("NumericNotEquals", "NumericNotEquals", "s3:max-keys", "10", {"s3:max-keys": ("11",)}, True),
    ("NumericNotEquals same", "NumericNotEquals", "s3:max-keys", "10", {"s3:max-keys": ("10",)}, False),
    ("NumericLessThan", "NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": ("9",)}, True),
    ("NumericLessThan equal", "NumericLessThan", "s3:max-keys", "10", {"s3:max-keys": ("10",)}, False),
    ("NumericLessThanEquals", "NumericLessThanEquals", "s3:max-keys", "10", {"s3:max-keys": ("10",)}, True),
    ("NumericGreaterThan", "NumericGreaterThan", "s3:max-keys", "10", {"s3:max-keys": ("11",)}, True),
    (
        "NumericGreaterThanEquals",
        "NumericGreaterThanEquals",
        "s3:max-keys",
        "10",
        {"s3:max-keys": ("9",)},
        False,
    ),
    (
        "Numeric request value not a number",
        "NumericLessThan",
        "s3:max-keys",
        "10",
        {"s3:max-keys": ("many",)},
        False,
    ),
    # Date: ISO 8601 and epoch, on either side
    (
        "DateGreaterThan ISO",
        "DateGreaterThan",
        "aws:currenttime",
        "2025-12-31T00:00:00Z",
        {"aws:currenttime": (NOW,)},
        True,
    ),
    (
        "DateLessThan ISO",
        "DateLessThan",
        "aws:currenttime",
        "2025-12-31T00:00:00Z",
        {"aws:currenttime": (NOW,)},
        False,
    ),
    (
        "DateLessThan epoch policy value",
        "DateLessThan",
        "aws:currenttime",
        "1893456000",
        {"aws:currenttime": (NOW,)},
        True,
    ),
    ("DateEquals epoch request value", "DateEquals", "aws:epochtime", NOW, {"aws:epochtime": (EPOCH,)}, True),
    ("DateNotEquals", "DateNotEquals", "aws:currenttime", "2020-01-01", {"aws:currenttime": (NOW,)}, True),
    ("DateLessThanEquals", "DateLessThanEquals", "aws:currenttime", NOW, {"aws:currenttime": (NOW,)}, True),
    (
        "DateGreaterThanEquals with offset",
        "DateGreaterThanEquals",
        "aws:currenttime",
        "2026-01-01T13:00:00+01:00",
        {"aws:currenttime": (NOW,)},
        True,
    ),
    ("Date key missing", "DateGreaterThan", "aws:currenttime", "2020-01-01", {}, False),
    # IP
    ("IpAddress in range", "IpAddress", "aws:sourceip", "10.0.0.0/8", {"aws:sourceip": ("10.1.2.3",)}, True),
    (
        "IpAddress out of range",
        "IpAddress",
        "aws:sourceip",
        "10.0.0.0/8",
        {"aws:sourceip": ("192.168.0.1",)},
        False,
    ),
    (
        "IpAddress single address",
        "IpAddress",
        "aws:sourceip",
        "127.0.0.1",
        {"aws:sourceip": ("127.0.0.1",)},
        True,
    ),
    (
        "IpAddress IPv6",
        "IpAddress",
        "aws:sourceip",
        "2001:db8::/32",
        {"aws:sourceip": ("2001:db8::1",)},
        True,
    ),
    (
        "IpAddress v4 against a v6 range",
        "IpAddress",
        "aws:sourceip",
        "::/0",
        {"aws:sourceip": ("10.0.0.1",)},
        False,
    ),
    ("NotIpAddress", "NotIpAddress", "aws:sourceip", "10.0.0.0/8", {"aws:sourceip": ("192.168.0.1",)}, True),
    (
        "NotIpAddress in range",
        "NotIpAddress",
        "aws:sourceip",
        "10.0.0.0/8",
        {"aws:sourceip": ("10.0.0.1",)},
        False,
    ),
    ("NotIpAddress key missing is true", "NotIpAddress", "aws:sourceip", "10.0.0.0/8", {}, True),
    (
        "IpAddress request value not an address",
        "IpAddress",
        "aws:sourceip",
        "10.0.0.0/8",
        {"aws:sourceip": ("x",)},
        False,
    ),
    # Null
    ("Null true, key missing", "Null", "aws:tokenissuetime", "true", {}, True),
    ("Null true, key present", "Null", "aws:tokenissuetime", "true", {"aws:tokenissuetime": ("t",)}, False),
    ("Null false, key present", "Null", "aws:tokenissuetime", "false", {"aws:tokenissuetime": ("t",)}, True),
    ("Null false, key missing", "Null", "aws:tokenissuetime", "false", {}, False),
    # IfExists
    (
        "IfExists present and matching",
        "StringEqualsIfExists",
        "aws:username",
        "bob",
        {"aws:username": ("bob",)},
        True,
    ),
    (
        "IfExists present, not matching",
        "StringEqualsIfExists",
        "aws:username",
        "bob",
        {"aws:username": ("al",)},
        False,
    ),
    ("IfExists missing", "StringEqualsIfExists", "aws:username", "bob", {}, True),
    ("negated IfExists missing", "StringNotEqualsIfExists", "aws:username", "bob", {}, True),
    # set qualifiers over multi-valued keys
    (
        "ForAnyValue one matches",
        "ForAnyValue:StringEquals",
        "aws:tagkeys",
        ["a"],
        {"aws:tagkeys": ("a", "b")},
        True,
    ),
    (
        "ForAnyValue none matches",
        "ForAnyValue:StringEquals",
        "aws:tagkeys",
        ["c"],
        {"aws:tagkeys": ("a", "b")},
        False,
    ),
    ("ForAnyValue key missing", "ForAnyValue:StringEquals", "aws:tagkeys", ["a"], {}, False),
    (
        "ForAllValues all match",
        "ForAllValues:StringEquals",
        "aws:tagkeys",
        ["a", "b", "c"],
        {"aws:tagkeys": ("a", "b")},
        True,
    ),
    (
        "ForAllValues one does not",
        "ForAllValues:StringEquals",
        "aws:tagkeys",
        ["a"],
        {"aws:tagkeys": ("a", "b")},
        False,
    ),
    ("ForAllValues key missing", "ForAllValues:StringEquals", "aws:tagkeys", ["a"], {}, True),
    (
        "ForAllValues negated, none listed",
        "ForAllValues:StringNotEquals",
        "aws:tagkeys",
        ["x"],
        {"aws:tagkeys": ("a", "b")},
        True,
    ),
    (
        "ForAllValues negated, one listed",
        "ForAllValues:StringNotEquals",
        "aws:tagkeys",
        ["a"],
        {"aws:tagkeys": ("a", "b")},
        False,
    ),
    (
        "ForAnyValue negated, one unlisted",
        "ForAnyValue:StringNotEquals",
        "aws:tagkeys",
        ["a"],
        {"aws:tagkeys": ("a", "b")},
        True,
    ),
    (
        "ForAnyValue StringLike",
        "ForAnyValue:StringLike",
        "aws:tagkeys",
        ["x*"],
        {"aws:tagkeys": ("a", "xyz")},
        True,
    ),
    (
        "qualifier case-insensitive",
        "forallvalues:StringEquals",
        "aws:tagkeys",
        ["a"],
        {"aws:tagkeys": ("a",)},
        True,
    ),
    # policy variables in values
    (
        "variable",
        "StringEquals",
        "s3:prefix",
        "home/${aws:username}",
        {"s3:prefix": ("home/bob",), "aws:username": ("bob",)},
        True,
    ),
    (
        "variable other user",
        "StringEquals",
        "s3:prefix",
        "home/${aws:username}",
        {"s3:prefix": ("home/al",), "aws:username": ("bob",)},
        False,
    ),
    (
        "variable name is case-insensitive",
        "StringEquals",
        "s3:prefix",
        "${AWS:UserName}",
        {"s3:prefix": ("bob",), "aws:username": ("bob",)},
        True,
    ),
    (
        "variable value is literal in Like",
        "StringLike",
        "s3:prefix",
        "${aws:username}",
        {"s3:prefix": ("bobby",), "aws:username": ("bob*",)},
        False,
    ),
    (
        "variable without value",
        "StringEquals",
        "s3:prefix",
        "home/${aws:username}",
        {"s3:prefix": ("home/",)},
        False,
    ),
    (
        "variable without value, negated",
        "StringNotEquals",
        "s3:prefix",
        "${aws:username}",
        {"s3:prefix": ("x",)},
        False,
    ),
    (
        "variable default",
        "StringEquals",
        "s3:prefix",
        "${aws:username, 'guest'}",
        {"s3:prefix": ("guest",)},
        True,
    ),
    ("${*} is a literal star", "StringLike", "s3:prefix", "a${*}", {"s3:prefix": ("ab",)}, False),
    ("${*} matches a star", "StringLike", "s3:prefix", "a${*}", {"s3:prefix": ("a*",)}, True),
    ("${?} matches a question mark", "StringLike", "s3:prefix", "a${?}", {"s3:prefix": ("a?",)}, True),
    ("${$} is a dollar", "StringEquals", "s3:prefix", "${$}{x}", {"s3:prefix": ("${x}",)}, True),
    (
        "variable in ArnLike",
        "ArnLike",
        "aws:principalarn",
        "arn:aws:iam::123456789012:user/${aws:username}",
        {"aws:principalarn": ("arn:aws:iam::123456789012:user/bob",), "aws:username": ("bob",)},
        True,
    ),
    (
        "no variables in Numeric",
        "NumericEquals",
        "s3:max-keys",
        "${s3:max-keys}",
        {"s3:max-keys": ("1",)},
        False,
    ),
]


@pytest.mark.parametrize(
    ("case", "operator", "key", "values", "context", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_condition(case: str, operator: str, key: str, values: Any, context: Any, expected: bool) -> None:
    assert holds(operator, key, values, context) is expected


def test_variables_are_literal_in_a_2008_policy() -> None:
    context = {"s3:prefix": ("${aws:username}",), "aws:username": ("bob",)}
    assert holds("StringEquals", "s3:prefix", "${aws:username}", context, variables=False)
    assert not holds(
        "StringEquals",
        "s3:prefix",
        "${aws:username}",
        {"s3:prefix": ("bob",), "aws:username": ("bob",)},
        variables=False,
    )


def test_condition_key_is_case_insensitive() -> None:
    assert holds("StringEquals", "AWS:UserName", "bob", {"aws:username": ("bob",)})


@pytest.mark.parametrize("operator", ["StringEqualz", "NullIfExists", "ForSome:StringEquals", "IfExists", ""])
def test_unknown_operators(operator: str) -> None:
    with pytest.raises(UnknownOperator):
        compile_condition(operator, "aws:username", ("x",), variables=True)


def statement_holds(condition: dict[str, Any], context: dict[str, tuple[str, ...]]) -> bool:
    body = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition},
    }
    statement = parse(json.dumps(body), "identity").statements[0]
    return statement.applies("s3:getobject", "*", context)


BLOCKS: list[tuple[str, dict[str, Any], dict[str, tuple[str, ...]], bool]] = [
    (
        "two operators are ANDed: both hold",
        {"StringEquals": {"aws:username": "bob"}, "Bool": {"aws:securetransport": "true"}},
        {"aws:username": ("bob",), "aws:securetransport": ("true",)},
        True,
    ),
    (
        "two operators are ANDed: one fails",
        {"StringEquals": {"aws:username": "bob"}, "Bool": {"aws:securetransport": "true"}},
        {"aws:username": ("bob",), "aws:securetransport": ("false",)},
        False,
    ),
    (
        "two keys in one operator are ANDed",
        {"StringEquals": {"aws:username": "bob", "aws:requestedregion": "us-east-1"}},
        {"aws:username": ("bob",), "aws:requestedregion": ("eu-west-1",)},
        False,
    ),
    (
        "values of one key are ORed",
        {"StringEquals": {"aws:requestedregion": ["us-east-1", "eu-west-1"]}},
        {"aws:requestedregion": ("eu-west-1",)},
        True,
    ),
    (
        "JSON booleans are read as text",
        {"Bool": {"aws:securetransport": False}},
        {"aws:securetransport": ("false",)},
        True,
    ),
    ("JSON numbers are read as text", {"NumericLessThan": {"s3:max-keys": 5}}, {"s3:max-keys": ("4",)}, True),
]


@pytest.mark.parametrize(("case", "condition", "context", "expected"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_condition_block(case: str, condition: dict[str, Any], context: Any, expected: bool) -> None:
    assert statement_holds(condition, context) is expected
