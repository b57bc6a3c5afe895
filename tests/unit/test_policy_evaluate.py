"""evaluate.evaluate and evaluate.trusts: AWS's evaluation logic for one account, table-driven."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stratus.identity.evaluate import Decision, Principal, Request, evaluate, trusts
from stratus.identity.policy import Policy, parse

ACCT = "123456789012"
OTHER = "210987654321"
FN = f"arn:aws:lambda:us-east-1:{ACCT}:function:app"
FN2 = f"arn:aws:lambda:us-east-1:{ACCT}:function:other"
ROLE = f"arn:aws:iam::{ACCT}:role/service/app-role"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app-role/app"
USER = f"arn:aws:iam::{ACCT}:user/bob"

BOB = Principal(USER, "user", ACCT)
APP = Principal(SESSION, "assumed-role", ACCT, ROLE)
STRANGER = Principal(f"arn:aws:iam::{OTHER}:user/eve", "user", OTHER)
EVENTS = Principal("events.amazonaws.com", "service", None)
ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


def identity(*statements: dict[str, Any]) -> Policy:
    return parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), "identity")


def resource(*statements: dict[str, Any]) -> Policy:
    return parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), "resource")


def allow(action: Any, res: Any = "*", **kw: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": res, **kw}


def deny(action: Any, res: Any = "*", **kw: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": res, **kw}


def grant(principal: Any, action: Any = "lambda:InvokeFunction", res: Any = FN, **kw: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, "Resource": res, **kw}


CTX: dict[str, tuple[str, ...]] = {"aws:username": ("bob",), "aws:requestedregion": ("us-east-1",)}

# (case, principal, action, resource, identity policies, resource policy, expected)
CASES: list[tuple[str, Principal, str, str, list[Policy], Policy | None, Decision]] = [
    ("nothing allows", BOB, "lambda:InvokeFunction", FN, [], None, IMPLICIT),
    (
        "identity allows",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:InvokeFunction", FN))],
        None,
        ALLOW,
    ),
    (
        "action is case-insensitive",
        BOB,
        "Lambda:invokefunction",
        FN,
        [identity(allow("lambda:InvokeFunction", FN))],
        None,
        ALLOW,
    ),
    (
        "other resource",
        BOB,
        "lambda:InvokeFunction",
        FN2,
        [identity(allow("lambda:InvokeFunction", FN))],
        None,
        IMPLICIT,
    ),
    (
        "resource is case-sensitive",
        BOB,
        "lambda:InvokeFunction",
        FN.replace("app", "App"),
        [identity(allow("lambda:InvokeFunction", FN))],
        None,
        IMPLICIT,
    ),
    (
        "s3:Get* does not match s3:PutObject",
        BOB,
        "s3:PutObject",
        "arn:aws:s3:::b/k",
        [identity(allow("s3:Get*"))],
        None,
        IMPLICIT,
    ),
    (
        "s3:Get* matches s3:GetObject",
        BOB,
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        [identity(allow("s3:Get*"))],
        None,
        ALLOW,
    ),
    (
        "s3:* does not reach another service",
        BOB,
        "s3-object-lambda:GetObject",
        "arn:aws:s3:::b/k",
        [identity(allow("s3:*"))],
        None,
        IMPLICIT,
    ),
    (
        "explicit deny beats allow",
        BOB,
        "lambda:DeleteFunction",
        FN,
        [identity(allow("lambda:*")), identity(deny("lambda:DeleteFunction"))],
        None,
        EXPLICIT,
    ),
    (
        "deny in the same statement list",
        BOB,
        "lambda:DeleteFunction",
        FN,
        [identity(allow("*"), deny("lambda:Delete*"))],
        None,
        EXPLICIT,
    ),
    (
        "Deny with NotResource: a resource not listed is denied",
        BOB,
        "lambda:InvokeFunction",
        FN2,
        [identity(allow("lambda:*"), {"Effect": "Deny", "Action": "lambda:*", "NotResource": FN})],
        None,
        EXPLICIT,
    ),
    (
        "Deny with NotResource: the listed resource is spared",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:*"), {"Effect": "Deny", "Action": "lambda:*", "NotResource": FN})],
        None,
        ALLOW,
    ),
    (
        "NotAction with Allow allows what is not listed",
        BOB,
        "lambda:GetFunction",
        FN,
        [identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        None,
        ALLOW,
    ),
    (
        "NotAction with Allow does not allow what is listed",
        BOB,
        "iam:CreateUser",
        "*",
        [identity({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})],
        None,
        IMPLICIT,
    ),
    (
        "NotAction with Deny denies everything else",
        BOB,
        "lambda:GetFunction",
        FN,
        [identity(allow("*"), {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})],
        None,
        EXPLICIT,
    ),
    (
        "condition holds",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:*", Condition={"StringEquals": {"aws:RequestedRegion": "us-east-1"}}))],
        None,
        ALLOW,
    ),
    (
        "condition fails",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:*", Condition={"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}))],
        None,
        IMPLICIT,
    ),
    (
        "negated condition on a missing key: the Deny applies",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"), deny("*", Condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}))],
        None,
        EXPLICIT,
    ),
    (
        "positive condition on a missing key: the Deny does not apply",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"), deny("*", Condition={"StringEquals": {"aws:SourceVpc": "vpc-1"}}))],
        None,
        ALLOW,
    ),
    (
        "IfExists on a missing key: the Deny applies",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"), deny("*", Condition={"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}))],
        None,
        EXPLICIT,
    ),
    (
        "policy variable in Resource",
        BOB,
        "s3:GetObject",
        "arn:aws:s3:::home/bob/notes",
        [identity(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))],
        None,
        ALLOW,
    ),
    (
        "policy variable in Resource, another user's",
        BOB,
        "s3:GetObject",
        "arn:aws:s3:::home/al/notes",
        [identity(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))],
        None,
        IMPLICIT,
    ),
    (
        "resource policy names the user",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": USER})),
        ALLOW,
    ),
    (
        "resource policy names the role: its session is allowed",
        APP,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": ROLE})),
        ALLOW,
    ),
    (
        "resource policy names the session",
        APP,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": SESSION})),
        ALLOW,
    ),
    (
        "resource policy names another session of the role",
        APP,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": SESSION.replace("/app", "/other")})),
        IMPLICIT,
    ),
    (
        "resource policy names another user",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": f"arn:aws:iam::{ACCT}:user/al"})),
        IMPLICIT,
    ),
    (
        "resource policy names no principal it knows",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": "bob"})),
        IMPLICIT,
    ),
    ("resource policy allows anyone", BOB, "lambda:InvokeFunction", FN, [], resource(grant("*")), ALLOW),
    (
        "resource policy allows AWS *",
        APP,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": "*"})),
        ALLOW,
    ),
    (
        "account-only principal does not allow by itself",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": ACCT})),
        IMPLICIT,
    ),
    (
        "account root principal does not allow by itself",
        APP,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": f"arn:aws:iam::{ACCT}:root"})),
        IMPLICIT,
    ),
    (
        "account principal: the identity policy decides",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:InvokeFunction"))],
        resource(grant({"AWS": ACCT})),
        ALLOW,
    ),
    (
        "resource policy for another action",
        BOB,
        "lambda:GetFunction",
        FN,
        [],
        resource(grant({"AWS": USER})),
        IMPLICIT,
    ),
    (
        "resource policy for another function",
        BOB,
        "lambda:InvokeFunction",
        FN2,
        [],
        resource(grant({"AWS": USER})),
        IMPLICIT,
    ),
    (
        "deny in the resource policy beats the identity's allow",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:*"))],
        resource({"Effect": "Deny", "Principal": {"AWS": ACCT}, "Action": "lambda:*", "Resource": FN}),
        EXPLICIT,
    ),
    (
        "deny in the identity policy beats the resource policy's allow",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(deny("lambda:InvokeFunction"))],
        resource(grant({"AWS": USER})),
        EXPLICIT,
    ),
    (
        "service principal allowed by the resource policy",
        EVENTS,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"Service": "events.amazonaws.com"})),
        ALLOW,
    ),
    (
        "another service is not",
        Principal("sqs.amazonaws.com", "service", None),
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"Service": "events.amazonaws.com"})),
        IMPLICIT,
    ),
    (
        "service principal, source ARN condition fails",
        EVENTS,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(
            grant(
                {"Service": "events.amazonaws.com"},
                Condition={"ArnLike": {"AWS:SourceArn": f"arn:aws:events:us-east-1:{ACCT}:rule/other"}},
            )
        ),
        IMPLICIT,
    ),
    (
        "NotPrincipal Deny: a principal not excepted is denied",
        APP,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"))],
        resource({"Effect": "Deny", "NotPrincipal": {"AWS": [USER, ACCT]}, "Action": "*", "Resource": "*"}),
        EXPLICIT,
    ),
    (
        "NotPrincipal Deny: the excepted user (with its account) is spared",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"))],
        resource({"Effect": "Deny", "NotPrincipal": {"AWS": [USER, ACCT]}, "Action": "*", "Resource": "*"}),
        ALLOW,
    ),
    (
        "NotPrincipal Deny: a user listed without its account is still denied",
        BOB,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"))],
        resource({"Effect": "Deny", "NotPrincipal": {"AWS": [USER]}, "Action": "*", "Resource": "*"}),
        EXPLICIT,
    ),
    (
        "NotPrincipal Deny: a role and its account spare its sessions",
        APP,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("*"))],
        resource({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, ACCT]}, "Action": "*", "Resource": "*"}),
        ALLOW,
    ),
    (
        "cross-account: the resource policy alone is not enough",
        STRANGER,
        "lambda:InvokeFunction",
        FN,
        [],
        resource(grant({"AWS": STRANGER.arn})),
        IMPLICIT,
    ),
    (
        "cross-account: both sides allow",
        STRANGER,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:InvokeFunction"))],
        resource(grant({"AWS": OTHER})),
        ALLOW,
    ),
    (
        "cross-account: the identity policy alone is not enough",
        STRANGER,
        "lambda:InvokeFunction",
        FN,
        [identity(allow("lambda:InvokeFunction"))],
        None,
        IMPLICIT,
    ),
]


@pytest.mark.parametrize(
    ("case", "who", "action", "target", "policies", "held", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_evaluate(
    case: str,
    who: Principal,
    action: str,
    target: str,
    policies: list[Policy],
    held: Policy | None,
    expected: Decision,
) -> None:
    request = Request(who, action, target, CTX)
    assert evaluate(request, policies, held, resource_account=ACCT) is expected


def test_a_2008_policy_takes_variables_literally() -> None:
    body = {
        "Version": "2008-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": USER},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::home/${aws:username}/*",
        },
    }
    held = parse(json.dumps(body), "resource")
    literal = Request(BOB, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/x", CTX)
    substituted = Request(BOB, "s3:GetObject", "arn:aws:s3:::home/bob/x", CTX)
    assert evaluate(literal, [], held) is ALLOW
    assert evaluate(substituted, [], held) is IMPLICIT


def trust(*statements: dict[str, Any]) -> Policy:
    return parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), "trust")


LAMBDA = Principal("lambda.amazonaws.com", "service", None)

TRUSTS: list[tuple[str, Policy, Principal, dict[str, tuple[str, ...]], bool]] = [
    (
        "lambda service trusted",
        trust(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ),
        LAMBDA,
        {},
        True,
    ),
    (
        "service names are compared without case",
        trust(
            {
                "Effect": "Allow",
                "Principal": {"Service": ["Lambda.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ),
        LAMBDA,
        {},
        True,
    ),
    (
        "another service is not",
        trust({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}),
        LAMBDA,
        {},
        False,
    ),
    (
        "another action is not",
        trust(
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:TagSession"}
        ),
        LAMBDA,
        {},
        False,
    ),
    (
        "the account trusts its users",
        trust(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole"}
        ),
        BOB,
        {},
        True,
    ),
    (
        "another account's user is not",
        trust({"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"}),
        STRANGER,
        {},
        False,
    ),
    (
        "a role trusting another role trusts its sessions",
        trust({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sts:AssumeRole"}),
        APP,
        {},
        True,
    ),
    (
        "a deny wins",
        trust(
            {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": USER}, "Action": "sts:*"},
        ),
        BOB,
        {},
        False,
    ),
    (
        "condition holds",
        trust(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCT}},
            }
        ),
        LAMBDA,
        {"aws:sourceaccount": (ACCT,)},
        True,
    ),
    (
        "condition on a key not given",
        trust(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCT}},
            }
        ),
        LAMBDA,
        {},
        False,
    ),
]


@pytest.mark.parametrize(("case", "policy", "who", "context", "expected"), TRUSTS, ids=[t[0] for t in TRUSTS])
def test_trusts(case: str, policy: Policy, who: Principal, context: Any, expected: bool) -> None:
    assert trusts(policy, who, context) is expected


def test_a_trust_policy_read_as_the_roles_resource_policy() -> None:
    """sts_api evaluates AssumeRole with the trust policy as the role's resource policy: one
    naming the caller allows by itself; one naming the account leaves it to the caller's own
    policies."""
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
        }
    )
    role_policy = parse(text, "resource")
    request = Request(BOB, "sts:AssumeRole", ROLE, CTX)
    assert evaluate(request, [], role_policy, resource_account=ACCT) is IMPLICIT
    assert (
        evaluate(request, [identity(allow("sts:AssumeRole", ROLE))], role_policy, resource_account=ACCT)
        is ALLOW
    )


def test_a_role_whose_trust_does_not_name_the_caller_cannot_be_assumed() -> None:
    """With resource_must_allow (IAM roles), an identity policy allowing sts:AssumeRole is not
    enough: the trust policy must name the caller or its account, as on AWS."""
    only_lambda = parse(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
            }
        ),
        "resource",
    )
    the_account = parse(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Principal": {"AWS": ACCT}, "Action": "sts:AssumeRole"},
            }
        ),
        "resource",
    )
    request = Request(BOB, "sts:AssumeRole", ROLE, CTX)
    mine = [identity(allow("sts:AssumeRole"))]

    def decide(policies: list[Policy], held: Policy) -> Decision:
        return evaluate(request, policies, held, resource_account=ACCT, resource_must_allow=True)

    assert decide(mine, only_lambda) is IMPLICIT
    assert evaluate(request, mine, only_lambda, resource_account=ACCT) is ALLOW  # without the flag
    assert decide(mine, the_account) is ALLOW
    assert decide([], the_account) is IMPLICIT
