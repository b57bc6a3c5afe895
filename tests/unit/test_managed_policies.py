"""managed.py: AWS's managed policies under their real ARNs; every document parses as an identity
policy and grants what AWS's grants."""

from __future__ import annotations

import json
import re

import pytest

from stratus.identity.evaluate import Decision, Principal, Request, evaluate
from stratus.identity.managed import MANAGED, ManagedPolicy
from stratus.identity.policy import parse

NAMED_IN_THE_ISSUE = [
    "service-role/AWSLambdaBasicExecutionRole",
    "service-role/AWSLambdaRole",
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "service-role/AWSLambdaSQSQueueExecutionRole",
    "service-role/AWSLambdaDynamoDBExecutionRole",
    "service-role/AWSLambdaKinesisExecutionRole",
    "AWSLambda_FullAccess",
    "AWSLambda_ReadOnlyAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonDynamoDBFullAccess",
    "AmazonDynamoDBReadOnlyAccess",
    "AmazonSQSFullAccess",
    "AmazonSQSReadOnlyAccess",
    "AmazonSNSFullAccess",
    "AWSStepFunctionsFullAccess",
    "AWSStepFunctionsReadOnlyAccess",
    "CloudWatchLogsFullAccess",
    "CloudWatchLogsReadOnlyAccess",
    "AmazonEventBridgeFullAccess",
    "AdministratorAccess",
    "ReadOnlyAccess",
    "IAMFullAccess",
    "IAMReadOnlyAccess",
]


def test_every_policy_the_issue_names_is_there() -> None:
    assert sorted(MANAGED) == sorted(f"arn:aws:iam::aws:policy/{n}" for n in NAMED_IN_THE_ISSUE)


@pytest.mark.parametrize("held", list(MANAGED.values()), ids=lambda p: p.name)
def test_shape_and_document(held: ManagedPolicy) -> None:
    assert held.arn == f"arn:aws:iam::aws:policy{held.path}{held.name}"
    assert held.path in ("/", "/service-role/")
    assert re.fullmatch(r"v[1-9]\d*", held.version_id)
    assert re.fullmatch(r"ANPA[A-Z0-9]{17}", held.policy_id)
    assert held.description and held.created <= held.updated
    policy = parse(held.document, "identity")
    assert policy.version == "2012-10-17" and policy.statements
    assert json.loads(held.document)["Version"] == "2012-10-17"


def test_ids_are_unique() -> None:
    assert len({p.policy_id for p in MANAGED.values()}) == len(MANAGED)


ROLE = Principal(
    "arn:aws:sts::123456789012:assumed-role/r/f",
    "assumed-role",
    "123456789012",
    "arn:aws:iam::123456789012:role/r",
)
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"
GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*"

# (policy name, action, resource, allowed)
GRANTS: list[tuple[str, str, str, bool]] = [
    ("service-role/AWSLambdaBasicExecutionRole", "logs:PutLogEvents", GROUP, True),
    ("service-role/AWSLambdaBasicExecutionRole", "logs:DeleteLogGroup", GROUP, False),
    ("service-role/AWSLambdaBasicExecutionRole", "lambda:InvokeFunction", FN, False),
    ("service-role/AWSLambdaRole", "lambda:InvokeFunction", FN, True),
    ("service-role/AWSLambdaRole", "lambda:GetFunction", FN, False),
    (
        "service-role/AWSLambdaSQSQueueExecutionRole",
        "sqs:ReceiveMessage",
        "arn:aws:sqs:us-east-1:123456789012:q",
        True,
    ),
    (
        "service-role/AWSLambdaSQSQueueExecutionRole",
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:123456789012:q",
        False,
    ),
    ("AWSLambda_FullAccess", "lambda:DeleteFunction", FN, True),
    ("AWSLambda_FullAccess", "logs:GetLogEvents", GROUP, True),
    (
        "AWSLambda_FullAccess",
        "logs:GetLogEvents",
        "arn:aws:logs:us-east-1:123456789012:log-group:/other:*",
        False,
    ),
    ("AWSLambda_ReadOnlyAccess", "lambda:GetFunction", FN, True),
    ("AWSLambda_ReadOnlyAccess", "lambda:ListFunctions", "*", True),
    ("AWSLambda_ReadOnlyAccess", "lambda:InvokeFunction", FN, False),
    ("AmazonS3ReadOnlyAccess", "s3:GetObject", "arn:aws:s3:::b/k", True),
    ("AmazonS3ReadOnlyAccess", "s3:PutObject", "arn:aws:s3:::b/k", False),
    ("AmazonS3FullAccess", "s3:PutObject", "arn:aws:s3:::b/k", True),
    (
        "AmazonDynamoDBReadOnlyAccess",
        "dynamodb:GetItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        True,
    ),
    (
        "AmazonDynamoDBReadOnlyAccess",
        "dynamodb:PutItem",
        "arn:aws:dynamodb:us-east-1:123456789012:table/t",
        False,
    ),
    ("AmazonSQSReadOnlyAccess", "sqs:ListQueues", "*", True),
    ("AmazonSQSReadOnlyAccess", "sqs:DeleteQueue", "arn:aws:sqs:us-east-1:123456789012:q", False),
    ("AWSStepFunctionsReadOnlyAccess", "states:DescribeExecution", "*", True),
    ("AWSStepFunctionsReadOnlyAccess", "states:StartExecution", "*", False),
    ("CloudWatchLogsReadOnlyAccess", "logs:FilterLogEvents", GROUP, True),
    ("CloudWatchLogsReadOnlyAccess", "logs:PutLogEvents", GROUP, False),
    ("AmazonEventBridgeFullAccess", "events:PutRule", "arn:aws:events:us-east-1:123456789012:rule/r", True),
    ("AdministratorAccess", "iam:CreateUser", "arn:aws:iam::123456789012:user/x", True),
    ("ReadOnlyAccess", "lambda:GetFunction", FN, True),
    ("ReadOnlyAccess", "lambda:DeleteFunction", FN, False),
    ("ReadOnlyAccess", "sts:GetCallerIdentity", "*", True),
    ("ReadOnlyAccess", "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:123456789012:q", True),
    ("ReadOnlyAccess", "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t", False),
    ("IAMReadOnlyAccess", "iam:GetRole", "arn:aws:iam::123456789012:role/r", True),
    ("IAMReadOnlyAccess", "iam:DeleteRole", "arn:aws:iam::123456789012:role/r", False),
    ("IAMFullAccess", "iam:DeleteRole", "arn:aws:iam::123456789012:role/r", True),
]


@pytest.mark.parametrize(("name", "action", "resource", "allowed"), GRANTS)
def test_grants(name: str, action: str, resource: str, allowed: bool) -> None:
    policy = parse(MANAGED[f"arn:aws:iam::aws:policy/{name}"].document, "identity")
    decision = evaluate(Request(ROLE, action, resource, {}), [policy])
    assert (decision is Decision.ALLOW) is allowed


def test_pass_role_needs_the_lambda_service() -> None:
    """AWSLambda_FullAccess lets iam:PassRole through only to Lambda (its condition)."""
    policy = parse(MANAGED["arn:aws:iam::aws:policy/AWSLambda_FullAccess"].document, "identity")
    role = "arn:aws:iam::123456789012:role/r"

    def passes(service: str) -> bool:
        request = Request(ROLE, "iam:PassRole", role, {"iam:passedtoservice": (service,)})
        return evaluate(request, [policy]) is Decision.ALLOW

    assert passes("lambda.amazonaws.com") and not passes("ec2.amazonaws.com")
