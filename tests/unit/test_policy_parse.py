"""policy.parse: IAM's grammar and validation (MalformedPolicyDocument with IAM's words), and
the patterns it compiles once (actions case-insensitive, resources case-sensitive)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.identity.policy import MalformedPolicy, Policy, parse

V = "2012-10-17"
S3 = "arn:aws:s3:::example_bucket"


def doc(*statements: dict[str, Any], version: str | None = V, **top: Any) -> str:
    body: dict[str, Any] = {} if version is None else {"Version": version}
    body["Statement"] = list(statements) if len(statements) != 1 else statements[0]
    body.update(top)
    return json.dumps(body)


def allow(**kw: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": S3, **kw}


TRUST_OK = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}

INVALID: list[tuple[str, str, str, str]] = [
    # (case, kind, document, IAM's message)
    ("not json", "identity", "This is not a json document", "Syntax errors in policy."),
    ("json but not an object", "identity", "[1, 2]", "Syntax errors in policy."),
    (
        "no version",
        "identity",
        doc(allow(), version=None),
        "Policy document must be version 2012-10-17 or greater.",
    ),
    (
        "old version",
        "identity",
        doc(allow(), version="2008-10-17"),
        "Policy document must be version 2012-10-17 or greater.",
    ),
    ("unknown version", "identity", doc(allow(), version="2013-10-17"), "Syntax errors in policy."),
    ("unknown version, trust", "trust", doc(TRUST_OK, version="2013-10-17"), "Syntax errors in policy."),
    ("no statement", "identity", json.dumps({"Version": V}), "Syntax errors in policy."),
    (
        "empty statement list",
        "identity",
        json.dumps({"Version": V, "Statement": []}),
        "Syntax errors in policy.",
    ),
    (
        "statement not an object",
        "identity",
        json.dumps({"Version": V, "Statement": ["afd"]}),
        "Syntax errors in policy.",
    ),
    ("unknown top element", "identity", doc(allow(), Extra="value"), "Syntax errors in policy."),
    ("unknown statement element", "identity", doc(allow(Extra="value")), "Syntax errors in policy."),
    ("Id not a string", "identity", doc(allow(), Id=["x"]), "Syntax errors in policy."),
    ("effect invalid", "identity", doc(allow(Effect="invalid")), "Syntax errors in policy."),
    (
        "effect missing",
        "identity",
        doc({"Action": "s3:ListBucket", "Resource": S3}),
        "Syntax errors in policy.",
    ),
    ("effect wrong case", "identity", doc(allow(Effect="allow")), "The policy failed legacy parsing"),
    ("both Action and NotAction", "identity", doc(allow(NotAction="s3:Get*")), "Syntax errors in policy."),
    ("both Resource and NotResource", "identity", doc(allow(NotResource=[])), "Syntax errors in policy."),
    ("Action an object", "identity", doc(allow(Action={})), "Syntax errors in policy."),
    ("Resource list with an object", "identity", doc(allow(Resource=["a", {}])), "Syntax errors in policy."),
    ("Condition a list", "identity", doc(allow(Condition=[])), "Syntax errors in policy."),
    (
        "Condition operator not an object",
        "identity",
        doc(allow(Condition={"StringEquals": "b"})),
        "Syntax errors in policy.",
    ),
    (
        "unknown condition operator",
        "identity",
        doc(allow(Condition={"StringEqualz": {"aws:username": "x"}})),
        "Syntax errors in policy.",
    ),
    (
        "unknown set qualifier",
        "identity",
        doc(allow(Condition={"ForSomeValues:StringEquals": {"aws:username": "x"}})),
        "Syntax errors in policy.",
    ),
    (
        "date that is not one",
        "identity",
        doc(allow(Condition={"DateGreaterThan": {"aws:CurrentTime": "yesterday"}})),
        "The policy failed legacy parsing",
    ),
    (
        "no action",
        "identity",
        doc({"Effect": "Allow", "Resource": S3}),
        "Policy statement must contain actions.",
    ),
    ("empty action list", "identity", doc(allow(Action=[])), "Policy statement must contain actions."),
    (
        "second statement has no action",
        "identity",
        doc({"Effect": "Deny"}, allow()),
        "Policy statement must contain actions.",
    ),
    (
        "action without vendor",
        "identity",
        doc(allow(Action="invalid")),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        "empty NotAction",
        "identity",
        doc({"Effect": "Allow", "NotAction": "", "Resource": S3}),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    ("vendor with a space", "identity", doc(allow(Action="a a:ListBucket")), "Vendor a a is not valid"),
    ("vendor with a wildcard", "identity", doc(allow(Action="s3*:GetObject")), "Vendor s3* is not valid"),
    (
        "two colons",
        "identity",
        doc(allow(Action="s3:List:Bucket")),
        "Actions/Condition can contain only one colon.",
    ),
    (
        "condition key without vendor",
        "identity",
        doc(allow(Condition={"StringEquals": {"username": "x"}})),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (
        "no resource",
        "identity",
        doc({"Effect": "Allow", "Action": "s3:ListBucket"}),
        "Policy statement must contain resources.",
    ),
    ("empty resource list", "identity", doc(allow(Resource=[])), "Policy statement must contain resources."),
    (
        "resource not an ARN",
        "identity",
        doc(allow(Resource="invalid resource")),
        'Resource invalid resource must be in ARN format or "*".',
    ),
    ("empty resource", "identity", doc(allow(Resource="")), 'Resource  must be in ARN format or "*".'),
    (
        "bad partition",
        "identity",
        doc(allow(Resource="aws:s3:::example_bucket")),
        'Partition "s3" is not valid for resource "arn:s3:::example_bucket:*".',
    ),
    (
        "short bad partition",
        "identity",
        doc(allow(Resource="a:bsdfdsafsad")),
        'Partition "bsdfdsafsad" is not valid for resource "arn:bsdfdsafsad:*:*:*:*".',
    ),
    (
        "no vendor",
        "identity",
        doc(allow(Resource="arn:aws")),
        "Resource vendor must be fully qualified and cannot contain regexes.",
    ),
    (
        "wildcard vendor",
        "identity",
        doc(allow(Resource="arn:aws:*:::x")),
        "Resource vendor must be fully qualified and cannot contain regexes.",
    ),
    (
        "shortened ARN",
        "identity",
        doc(allow(Resource="arn:aws:s3::example_bucket")),
        "The policy failed legacy parsing",
    ),
    (
        "duplicate Sid",
        "identity",
        doc(allow(Sid="A"), allow(Sid="A")),
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    (
        "Sid not alphanumeric",
        "identity",
        doc(allow(Sid="my-sid")),
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression "
        "[0-9A-Za-z]*",
    ),
    (
        "principal in identity policy",
        "identity",
        doc(allow(Principal={"AWS": "arn:aws:iam::123456789012:root"})),
        "Policy document should not specify a principal.",
    ),
    ("Resource in trust policy", "trust", doc(TRUST_OK | {"Resource": "*"}), "Has prohibited field Resource"),
    (
        "NotResource in trust policy",
        "trust",
        doc(TRUST_OK | {"NotResource": "*"}),
        "Has prohibited field NotResource",
    ),
    (
        "no principal in trust policy",
        "trust",
        doc({"Effect": "Allow", "Action": "sts:AssumeRole"}),
        "Missing required field Principal",
    ),
    (
        "non-STS action in trust policy",
        "trust",
        doc(TRUST_OK | {"Action": "lambda:InvokeFunction"}),
        "AssumeRole policy may only specify STS AssumeRole actions.",
    ),
    (
        "NotPrincipal in trust policy",
        "trust",
        doc({"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}),
        "Has prohibited field NotPrincipal",
    ),
    (
        "no principal in resource policy",
        "resource",
        doc({"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*"}),
        "Missing required field Principal",
    ),
    (
        "malformed AWS principal",
        "trust",
        doc({"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "sts:AssumeRole"}),
        'Invalid principal in policy: "AWS":"bob"',
    ),
    (
        "wildcard inside a principal ARN",
        "trust",
        doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/*"},
                "Action": "sts:AssumeRole",
            }
        ),
        'Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:role/*"',
    ),
    (
        "unknown principal type",
        "resource",
        doc({"Effect": "Allow", "Principal": {"Person": "bob"}, "Action": "lambda:InvokeFunction"}),
        "Syntax errors in policy.",
    ),
    (
        "principal a bare ARN string",
        "resource",
        doc(
            {
                "Effect": "Allow",
                "Principal": "arn:aws:iam::123456789012:root",
                "Action": "lambda:InvokeFunction",
            }
        ),
        "Syntax errors in policy.",
    ),
    (
        "NotPrincipal with Allow",
        "resource",
        doc({"Effect": "Allow", "NotPrincipal": {"AWS": "123456789012"}, "Action": "lambda:InvokeFunction"}),
        "NotPrincipal is supported only with Effect Deny.",
    ),
]


@pytest.mark.parametrize(("case", "kind", "document", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_refused_with_iams_message(case: str, kind: str, document: str, message: str) -> None:
    with pytest.raises(MalformedPolicy) as raised:
        parse(document, kind)  # type: ignore[arg-type]
    assert raised.value.message == message
    assert raised.value.code == "MalformedPolicyDocument" and raised.value.status == 400


VALID: list[tuple[str, str, str]] = [
    ("identity, one statement object", "identity", doc(allow())),
    ("identity, list of statements", "identity", doc(allow(Sid="One"), allow(Sid="Two"))),
    (
        "identity, NotAction and NotResource",
        "identity",
        doc({"Effect": "Deny", "NotAction": "iam:*", "NotResource": S3}),
    ),
    ("identity, everything", "identity", doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    ("identity, empty Sids repeat", "identity", doc(allow(Sid=""), allow(Sid=""))),
    (
        "identity, every operator family",
        "identity",
        doc(
            allow(
                Condition={
                    "StringEqualsIgnoreCase": {"aws:username": "Bob"},
                    "ForAnyValue:StringLike": {"aws:tagkeys": ["a*"]},
                    "ArnLikeIfExists": {"aws:SourceArn": "arn:aws:events:*:*:rule/*"},
                    "Bool": {"aws:SecureTransport": True},
                    "NumericLessThan": {"s3:max-keys": 10},
                    "DateGreaterThan": {"aws:CurrentTime": ["2020-01-01T00:00:00Z", "1577836800"]},
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                    "Null": {"aws:TokenIssueTime": "true"},
                    "ForAllValues:StringNotEquals": {"aws:tagkeys": "secret"},
                }
            )
        ),
    ),
    (
        "identity, policy variable in Resource",
        "identity",
        doc(allow(Resource="arn:aws:s3:::b/${aws:username}/*")),
    ),
    ("identity, China partition", "identity", doc(allow(Resource="arn:aws-cn:s3:::b"))),
    ("trust, service", "trust", doc(TRUST_OK)),
    ("trust, no version (2008-10-17)", "trust", doc(TRUST_OK, version=None)),
    ("trust, 2008-10-17", "trust", doc(TRUST_OK, version="2008-10-17")),
    (
        "trust, account and role and session",
        "trust",
        doc(
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": [
                        "123456789012",
                        "arn:aws:iam::123456789012:root",
                        "arn:aws:iam::123456789012:role/path/app",
                        "arn:aws:sts::123456789012:assumed-role/app/session",
                        "arn:aws:iam::123456789012:user/bob",
                    ]
                },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {"StringEquals": {"sts:ExternalId": "x"}},
            }
        ),
    ),
    ("trust, anyone", "trust", doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})),
    (
        "resource, Lambda's shape",
        "resource",
        doc(
            {
                "Sid": "events-invoke_1",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/r"}},
            },
            Id="default",
        ),
    ),
    (
        "resource, a trust policy read as the role's policy",
        "resource",
        doc({"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}),
    ),
    (
        "resource, a name that is no principal (matches nobody)",
        "resource",
        doc({"Effect": "Allow", "Principal": {"AWS": "bob"}, "Action": "lambda:InvokeFunction"}),
    ),
    (
        "resource, NotPrincipal with Deny",
        "resource",
        doc({"Effect": "Deny", "NotPrincipal": {"AWS": "123456789012"}, "Action": "*", "Resource": "*"}),
    ),
]


@pytest.mark.parametrize(("case", "kind", "document"), VALID, ids=[c[0] for c in VALID])
def test_accepted(case: str, kind: str, document: str) -> None:
    policy = parse(document, kind)  # type: ignore[arg-type]
    assert isinstance(policy, Policy)
    assert policy.text == document
    written = json.loads(document)["Statement"]
    assert len(policy.statements) == (len(written) if isinstance(written, list) else 1)


def test_version_kept_or_defaulted() -> None:
    assert parse(doc(allow()), "identity").version == V
    assert parse(doc(TRUST_OK, version=None), "trust").version == "2008-10-17"


def test_mapping_input_is_serialized_as_text() -> None:
    body = {"Version": V, "Statement": [allow()]}
    policy = parse(body, "identity")
    assert json.loads(policy.text) == body


def test_statement_fields() -> None:
    policy = parse(
        doc(
            {"Sid": "A", "Effect": "Deny", "Principal": "*", "NotAction": ["S3:Get*"], "NotResource": S3},
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            version=V,
        ),
        "resource",
    )
    first, second = policy.statements
    assert (first.sid, first.allow, first.not_action, first.not_resource) == ("A", False, True, True)
    assert first.services is None  # NotAction can reach any service
    assert second.resources is None and second.principals is not None and second.principals.anyone
    assert second.services == frozenset({"sts"})


MATCHING: list[tuple[str, str, bool]] = [
    # (pattern, value, matches) for Action patterns (compared lower-cased)
    ("s3:GetObject", "s3:getobject", True),
    ("S3:GETOBJECT", "s3:getobject", True),
    ("s3:Get*", "s3:getobjectacl", True),
    ("s3:Get*", "s3:putobject", False),
    ("s3:Get*", "s3-object-lambda:getobject", False),
    ("s3:*", "s3-object-lambda:getobject", False),
    ("lambda:?etFunction", "lambda:getfunction", True),
    ("lambda:?etFunction", "lambda:ggetfunction", False),
    ("*", "anything:atall", True),
]


@pytest.mark.parametrize(("pattern", "action", "matches"), MATCHING)
def test_action_patterns(pattern: str, action: str, matches: bool) -> None:
    statement = parse(doc({"Effect": "Allow", "Action": pattern, "Resource": "*"}), "identity").statements[0]
    assert statement.actions.match(action) is matches


RESOURCES: list[tuple[str, str, bool]] = [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::Bucket/a", False),  # case-sensitive
    ("arn:aws:s3:::Bucket", "arn:aws:s3:::bucket", False),
    ("arn:aws:lambda:*:123456789012:function:f", "arn:aws:lambda:eu-west-1:123456789012:function:f", True),
    (
        "arn:aws:lambda:us-east-1:123456789012:function:f?",
        "arn:aws:lambda:us-east-1:123456789012:function:f1",
        True,
    ),
    (
        "arn:aws:lambda:us-east-1:123456789012:function:f?",
        "arn:aws:lambda:us-east-1:123456789012:function:f12",
        False,
    ),
    (
        "arn:aws:lambda:us-east-1:123456789012:function:f",
        "arn:aws:lambda:us-east-1:123456789012:function:f:1",
        False,
    ),
    ("arn:aws:s3:::a.b", "arn:aws:s3:::axb", False),  # regex characters are literal
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/*", True),  # ${*} is a literal star
    ("arn:aws:s3:::b/${*}", "arn:aws:s3:::b/x", False),
    ("arn:aws:s3:::b/*", "arn:aws:s3:::b/line\nbreak", True),
]


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCES)
def test_resource_patterns(pattern: str, resource: str, matches: bool) -> None:
    statement = parse(doc({"Effect": "Allow", "Action": "s3:*", "Resource": pattern}), "identity").statements[
        0
    ]
    assert statement.resources is not None
    assert statement.resources.match(resource, {}) is matches


def test_patterns_are_compiled_at_parse() -> None:
    patterns = parse(
        doc(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:List*"], "Resource": [S3, "arn:aws:s3:::x/*"]}
        ),
        "identity",
    ).statements[0]
    assert patterns.actions.exact == frozenset({"s3:getobject"}) and patterns.actions.wild is not None
    assert patterns.resources is not None
    assert patterns.resources.exact == frozenset({S3}) and patterns.resources.wild is not None
    assert patterns.resources.dynamic == ()


def test_policy_built_without_parse_still_evaluates() -> None:
    """iam_records builds an empty Policy for a stored document that no longer parses."""
    empty = Policy(version=V, statements=(), text="{}")
    assert empty.for_service("s3") == ()
