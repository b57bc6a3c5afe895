"""Each declared service's authorization table (`Service.action`): the IAM action and resource ARN
of every operation, held to AWS's Service Authorization Reference ("Actions, resources, and
condition keys for AWS Lambda / Amazon CloudWatch Logs / Amazon EventBridge / Amazon
CloudWatch / Amazon SQS / Amazon SNS / Amazon DynamoDB", and API Gateway's method-and-path
model)."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import pytest

from stratus.lambda_api import actions
from stratus.lambda_api.service import SERVICE as LAMBDA
from stratus.queues.api import SERVICE as SQS
from stratus.services import apigatewayv2, cloudwatch, events, logs
from stratus.tables.api import SERVICE as DYNAMODB
from stratus.tables.streams import Position, encode_iterator
from stratus.tables.streams_api import STREAMS_SERVICE as DYNAMODB_STREAMS
from stratus.topics.api import SERVICE as SNS
from stratus.wire.models import service_model
from stratus.wire.samples import sample
from stratus.wire.service import Service

REGION, ACCOUNT = "us-east-1", "123456789012"
SERVICES: tuple[Service[Any], ...] = (
    LAMBDA,
    logs.SERVICE,
    events.SERVICE,
    cloudwatch.SERVICE,
    apigatewayv2.SERVICE,
    SQS,
    SNS,
    DYNAMODB,
    DYNAMODB_STREAMS,
)

# The actions AWS documents for the operations served here, by IAM prefix (copied from the
# reference's Actions tables: Lambda's Invoke is InvokeFunction, GetLayerVersionByArn is
# GetLayerVersion, and neither of their operation names is an action).
DOCUMENTED = {
    "lambda": {
        "CreateCodeSigningConfig", "GetCodeSigningConfig", "UpdateCodeSigningConfig",
        "DeleteCodeSigningConfig", "ListCodeSigningConfigs", "ListFunctionsByCodeSigningConfig",
        "PutFunctionCodeSigningConfig", "DeleteFunctionCodeSigningConfig",
        "AddLayerVersionPermission", "AddPermission", "CreateAlias", "CreateFunction",
        "CreateFunctionUrlConfig", "DeleteAlias", "DeleteFunction", "DeleteFunctionConcurrency",
        "DeleteFunctionEventInvokeConfig", "DeleteFunctionUrlConfig", "DeleteLayerVersion",
        "DeleteProvisionedConcurrencyConfig", "GetAccountSettings", "GetAlias", "GetFunction",
        "GetFunctionCodeSigningConfig", "GetFunctionConcurrency", "GetFunctionConfiguration",
        "GetFunctionEventInvokeConfig",
        "GetFunctionUrlConfig", "GetLayerVersion", "GetLayerVersionPolicy", "GetPolicy",
        "GetProvisionedConcurrencyConfig", "InvokeFunction", "ListAliases",
        "ListFunctionEventInvokeConfigs", "ListFunctionUrlConfigs", "ListFunctions",
        "ListLayerVersions", "ListLayers", "ListProvisionedConcurrencyConfigs", "ListTags",
        "ListVersionsByFunction", "PublishLayerVersion", "PublishVersion", "PutFunctionConcurrency",
        "PutFunctionEventInvokeConfig", "PutProvisionedConcurrencyConfig",
        "RemoveLayerVersionPermission", "RemovePermission", "TagResource", "UntagResource",
        "UpdateAlias", "UpdateFunctionCode", "UpdateFunctionConfiguration",
        "UpdateFunctionEventInvokeConfig", "UpdateFunctionUrlConfig",
        "CreateEventSourceMapping", "GetEventSourceMapping", "UpdateEventSourceMapping",
        "DeleteEventSourceMapping", "ListEventSourceMappings",
    },
    "sqs": {
        "ChangeMessageVisibility", "CreateQueue", "DeleteMessage", "DeleteQueue",
        "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "ListQueueTags",
        "ListQueues", "PurgeQueue", "ReceiveMessage", "SendMessage", "SetQueueAttributes",
        "TagQueue", "UntagQueue", "StartMessageMoveTask", "CancelMessageMoveTask",
        "ListMessageMoveTasks",
    },
    "logs": {
        "DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents",
        "DeleteLogGroup", "PutRetentionPolicy", "DeleteRetentionPolicy", "CreateLogGroup",
        "CreateLogStream", "PutLogEvents", "TagResource", "UntagResource", "ListTagsForResource",
        "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup", "AssociateKmsKey", "DisassociateKmsKey",
    },
    "events": {
        "PutRule", "DescribeRule", "ListRules", "DeleteRule", "EnableRule", "DisableRule",
        "PutTargets", "RemoveTargets", "ListTargetsByRule", "TagResource", "UntagResource",
        "ListTagsForResource", "ListRuleNamesByTarget", "CreateEventBus", "DescribeEventBus",
        "ListEventBuses", "DeleteEventBus", "PutEvents", "TestEventPattern",
    },
    "cloudwatch": {"GetMetricStatistics", "GetMetricData", "ListMetrics", "PutMetricData"},
    "apigateway": {"GET", "POST", "PUT", "PATCH", "DELETE"},
    # PublishBatch is sns:Publish.
    "sns": {
        "CreateTopic", "ListTopics", "GetTopicAttributes", "SetTopicAttributes", "DeleteTopic",
        "Subscribe", "ConfirmSubscription", "GetSubscriptionAttributes",
        "SetSubscriptionAttributes", "Unsubscribe", "ListSubscriptions",
        "ListSubscriptionsByTopic", "Publish", "TagResource", "UntagResource",
        "ListTagsForResource",
    },
    # TransactGetItems is GetItem on each table, TransactWriteItems each item's own write
    # (ConditionCheckItem for a condition check); the streams' actions carry DynamoDB's prefix.
    "dynamodb": {
        "CreateTable", "DescribeTable", "DeleteTable", "ListTables", "UpdateTable",
        "UpdateTimeToLive", "DescribeTimeToLive", "TagResource", "UntagResource",
        "ListTagsOfResource", "DescribeLimits", "PutItem", "GetItem", "UpdateItem", "DeleteItem",
        "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "Query", "Scan",
        "DescribeStream", "GetRecords", "GetShardIterator", "ListStreams",
    },
}  # fmt: skip
# Actions the reference lists with no resource type: they can only be granted on "*".
UNSCOPED = {
    "lambda:GetAccountSettings", "lambda:ListFunctions", "lambda:ListLayers",
    "lambda:CreateCodeSigningConfig", "lambda:ListCodeSigningConfigs",
    "lambda:ListLayerVersions", "lambda:CreateEventSourceMapping",
    "lambda:ListEventSourceMappings", "sqs:ListQueues",
    "cloudwatch:GetMetricStatistics", "cloudwatch:GetMetricData",
    "cloudwatch:ListMetrics", "cloudwatch:PutMetricData",
    "sns:ListTopics", "sns:ListSubscriptions", "dynamodb:ListTables", "dynamodb:DescribeLimits",
    "events:ListEventBuses", "events:TestEventPattern",
}  # fmt: skip
# The ARN every other resource must have: the service, this region and account (API Gateway's
# have no account), and one of the service's resource types.
RESOURCE_ARN = {
    "lambda": re.compile(
        rf"^arn:aws:lambda:{REGION}:{ACCOUNT}:(function|layer|code-signing-config|event-source-mapping):"
        r"[^:]+(:[^:]+)?$"
    ),
    # GetQueueUrl's QueueOwnerAWSAccountId names another account's queue.
    "sqs": re.compile(rf"^arn:aws:sqs:{REGION}:[^:]+:[^:]+$"),
    # The tagging actions name the group without ":*" (CloudWatch Logs' documented exception).
    "logs": re.compile(rf"^arn:aws:logs:{REGION}:{ACCOUNT}:log-group:[^:]*(:log-stream:[^:]*)?$"),
    "events": re.compile(rf"^arn:aws:events:{REGION}:{ACCOUNT}:(rule/([^/]+/)?[^/]+|event-bus/[^/]+)$"),
    "apigateway": re.compile(rf"^arn:aws:apigateway:{REGION}::/"),
    "sns": re.compile(rf"^arn:aws:sns:{REGION}:{ACCOUNT}:[A-Za-z0-9_.-]+$"),
    # A table, one of its indexes, or its streams (ListStreams names them all: stream/*).
    "dynamodb": re.compile(
        rf"^arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/[^/]+(/index/[^/]+|/stream/[^/]+)?$"
    ),
}

TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
STREAM = f"{TABLE}/stream/2026-01-01T00:00:00.000"
# Members whose sampled value would be no ARN at all (a handler refuses those before anything
# is done): replaced by a well-formed one of the service's own, so the resource can be checked.
WELL_FORMED: dict[tuple[str, str], str] = {
    ("sns", "TopicArn"): TOPIC,
    ("sns", "TargetArn"): TOPIC,
    ("sns", "ResourceArn"): TOPIC,
    ("sns", "SubscriptionArn"): f"{TOPIC}:0f4c7a52-6f0e-4c3b-9c1a-0123456789ab",
    ("dynamodb", "ResourceArn"): TABLE,
    ("dynamodbstreams", "StreamArn"): STREAM,
    ("dynamodbstreams", "ShardIterator"): encode_iterator(Position(STREAM, "shardId-1", -1, 0)),
}

FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
LAYER = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:lib"
GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/fn"
RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule"
API = f"arn:aws:apigateway:{REGION}::/apis"

# (service, operation, input, action, resource) for the ones policies are most written against.
EXPECTED: list[tuple[Service[Any], str, dict[str, Any], str, str]] = [
    # Invoke: its own action name; qualified by Qualifier or by the name, in any of its forms.
    (LAMBDA, "Invoke", {"FunctionName": "fn"}, "lambda:InvokeFunction", FN),
    (
        LAMBDA,
        "UpdateCodeSigningConfig",
        {"CodeSigningConfigArn": "arn:aws:lambda:eu-west-1:999999999999:code-signing-config:csc-1"},
        "lambda:UpdateCodeSigningConfig",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:code-signing-config:csc-1",
    ),
    (
        LAMBDA,
        "PutFunctionCodeSigningConfig",
        {"FunctionName": "fn:3"},
        "lambda:PutFunctionCodeSigningConfig",
        FN,
    ),
    (LAMBDA, "Invoke", {"FunctionName": "fn", "Qualifier": "prod"}, "lambda:InvokeFunction", f"{FN}:prod"),
    (LAMBDA, "Invoke", {"FunctionName": "fn:7"}, "lambda:InvokeFunction", f"{FN}:7"),
    (
        LAMBDA,
        "Invoke",
        {"FunctionName": f"{ACCOUNT}:function:fn:$LATEST"},
        "lambda:InvokeFunction",
        f"{FN}:$LATEST",
    ),
    (LAMBDA, "Invoke", {"FunctionName": FN}, "lambda:InvokeFunction", FN),
    # Stratus ignores an ARN's region when it finds the function: so does the resource.
    (
        LAMBDA,
        "Invoke",
        {"FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:fn"},
        "lambda:InvokeFunction",
        FN,
    ),
    (LAMBDA, "GetFunction", {"FunctionName": "fn:3"}, "lambda:GetFunction", f"{FN}:3"),
    (
        LAMBDA,
        "GetFunctionConfiguration",
        {"FunctionName": "fn", "Qualifier": "live"},
        "lambda:GetFunctionConfiguration",
        f"{FN}:live",
    ),
    (LAMBDA, "DeleteFunction", {"FunctionName": "fn", "Qualifier": "2"}, "lambda:DeleteFunction", f"{FN}:2"),
    (LAMBDA, "CreateFunction", {"FunctionName": "fn"}, "lambda:CreateFunction", FN),
    # Function-wide operations: a qualifier in the name does not narrow them (their handlers drop it).
    (LAMBDA, "PublishVersion", {"FunctionName": "fn:1"}, "lambda:PublishVersion", FN),
    (LAMBDA, "UpdateFunctionCode", {"FunctionName": "fn:prod"}, "lambda:UpdateFunctionCode", FN),
    (LAMBDA, "ListVersionsByFunction", {"FunctionName": FN}, "lambda:ListVersionsByFunction", FN),
    (LAMBDA, "ListAliases", {"FunctionName": "fn"}, "lambda:ListAliases", FN),
    (LAMBDA, "PutFunctionConcurrency", {"FunctionName": "fn"}, "lambda:PutFunctionConcurrency", FN),
    (
        LAMBDA,
        "ListProvisionedConcurrencyConfigs",
        {"FunctionName": "fn"},
        "lambda:ListProvisionedConcurrencyConfigs",
        FN,
    ),
    (LAMBDA, "ListFunctionUrlConfigs", {"FunctionName": "fn"}, "lambda:ListFunctionUrlConfigs", FN),
    # Resource policies and the settings of a version or alias: on what the call names.
    (LAMBDA, "GetPolicy", {"FunctionName": "fn", "Qualifier": "prod"}, "lambda:GetPolicy", f"{FN}:prod"),
    (LAMBDA, "AddPermission", {"FunctionName": "fn"}, "lambda:AddPermission", FN),
    (LAMBDA, "RemovePermission", {"FunctionName": "fn:1"}, "lambda:RemovePermission", f"{FN}:1"),
    (
        LAMBDA,
        "CreateFunctionUrlConfig",
        {"FunctionName": "fn", "Qualifier": "live"},
        "lambda:CreateFunctionUrlConfig",
        f"{FN}:live",
    ),
    (
        LAMBDA,
        "PutProvisionedConcurrencyConfig",
        {"FunctionName": "fn", "Qualifier": "live"},
        "lambda:PutProvisionedConcurrencyConfig",
        f"{FN}:live",
    ),
    (
        LAMBDA,
        "PutFunctionEventInvokeConfig",
        {"FunctionName": "fn"},
        "lambda:PutFunctionEventInvokeConfig",
        FN,
    ),
    # Aliases: the alias's ARN, whatever qualifier the name carries.
    (LAMBDA, "CreateAlias", {"FunctionName": "fn", "Name": "live"}, "lambda:CreateAlias", f"{FN}:live"),
    (LAMBDA, "UpdateAlias", {"FunctionName": "fn:other", "Name": "live"}, "lambda:UpdateAlias", f"{FN}:live"),
    (LAMBDA, "DeleteAlias", {"FunctionName": FN, "Name": "live"}, "lambda:DeleteAlias", f"{FN}:live"),
    # Tags: the ARN in the input (in this server's region and account).
    (LAMBDA, "TagResource", {"Resource": FN, "Tags": {"a": "b"}}, "lambda:TagResource", FN),
    (LAMBDA, "ListTags", {"Resource": FN.replace(REGION, "eu-west-1")}, "lambda:ListTags", FN),
    # Layers: a version's ARN, the layer's for publishing; no resource for the lists.
    (LAMBDA, "PublishLayerVersion", {"LayerName": "lib"}, "lambda:PublishLayerVersion", LAYER),
    (LAMBDA, "PublishLayerVersion", {"LayerName": LAYER}, "lambda:PublishLayerVersion", LAYER),
    (
        LAMBDA,
        "GetLayerVersion",
        {"LayerName": "lib", "VersionNumber": 3},
        "lambda:GetLayerVersion",
        f"{LAYER}:3",
    ),
    (LAMBDA, "GetLayerVersionByArn", {"Arn": f"{LAYER}:3"}, "lambda:GetLayerVersion", f"{LAYER}:3"),
    (
        LAMBDA,
        "AddLayerVersionPermission",
        {"LayerName": "lib", "VersionNumber": 2},
        "lambda:AddLayerVersionPermission",
        f"{LAYER}:2",
    ),
    (
        LAMBDA,
        "DeleteLayerVersion",
        {"LayerName": "lib", "VersionNumber": 2},
        "lambda:DeleteLayerVersion",
        f"{LAYER}:2",
    ),
    (LAMBDA, "ListLayerVersions", {"LayerName": "lib"}, "lambda:ListLayerVersions", "*"),
    (LAMBDA, "ListLayers", {}, "lambda:ListLayers", "*"),
    (LAMBDA, "ListFunctions", {}, "lambda:ListFunctions", "*"),
    (LAMBDA, "GetAccountSettings", {}, "lambda:GetAccountSettings", "*"),
    # Logs: a group's operations on its `:log-stream:` with no stream; GetLogEvents on the stream.
    (
        logs.SERVICE,
        "DescribeLogGroups",
        {"logGroupNamePrefix": "/aws"},
        "logs:DescribeLogGroups",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream:",
    ),
    (
        logs.SERVICE,
        "DescribeLogStreams",
        {"logGroupName": "/aws/lambda/fn"},
        "logs:DescribeLogStreams",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "FilterLogEvents",
        {"logGroupName": "/aws/lambda/fn", "logStreamNames": ["s"]},
        "logs:FilterLogEvents",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "FilterLogEvents",
        {"logGroupIdentifier": f"{GROUP}:*"},
        "logs:FilterLogEvents",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "GetLogEvents",
        {"logGroupName": "/aws/lambda/fn", "logStreamName": "2024/01/02/[$LATEST]ab"},
        "logs:GetLogEvents",
        f"{GROUP}:log-stream:2024/01/02/[$LATEST]ab",
    ),
    (
        logs.SERVICE,
        "DeleteLogGroup",
        {"logGroupName": "/aws/lambda/fn"},
        "logs:DeleteLogGroup",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "PutRetentionPolicy",
        {"logGroupName": "/aws/lambda/fn", "retentionInDays": 7},
        "logs:PutRetentionPolicy",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "DeleteRetentionPolicy",
        {"logGroupName": "/aws/lambda/fn"},
        "logs:DeleteRetentionPolicy",
        f"{GROUP}:log-stream:",
    ),
    (
        logs.SERVICE,
        "PutLogEvents",
        {"logGroupName": "/aws/lambda/fn", "logStreamName": "s"},
        "logs:PutLogEvents",
        f"{GROUP}:log-stream:s",
    ),
    (logs.SERVICE, "TagResource", {"resourceArn": GROUP, "tags": {}}, "logs:TagResource", GROUP),
    (logs.SERVICE, "ListTagsLogGroup", {"logGroupName": "/aws/lambda/fn"}, "logs:ListTagsLogGroup", GROUP),
    # EventBridge: a rule of the default bus is rule/NAME, of another bus rule/BUS/NAME (by
    # name or by ARN); buses and PutEvents act on the bus.
    (events.SERVICE, "PutRule", {"Name": "nightly"}, "events:PutRule", f"{RULE}/nightly"),
    (
        events.SERVICE,
        "DescribeRule",
        {"Name": "nightly", "EventBusName": "other"},
        "events:DescribeRule",
        f"{RULE}/other/nightly",
    ),
    (
        events.SERVICE,
        "PutTargets",
        {"Rule": "r", "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders", "Targets": []},
        "events:PutTargets",
        f"{RULE}/orders/r",
    ),
    (events.SERVICE, "ListRules", {"EventBusName": "orders"}, "events:ListRules", f"{RULE}/orders/*"),
    (
        events.SERVICE,
        "PutEvents",
        {"Entries": [{"EventBusName": "orders"}]},
        "events:PutEvents",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders",
    ),
    (
        events.SERVICE,
        "PutEvents",
        {"Entries": [{"Source": "a"}]},
        "events:PutEvents",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
    ),
    (
        events.SERVICE,
        "CreateEventBus",
        {"Name": "orders"},
        "events:CreateEventBus",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders",
    ),
    (
        events.SERVICE,
        "TagResource",
        {"ResourceARN": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders", "Tags": []},
        "events:TagResource",
        f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders",
    ),
    (events.SERVICE, "ListEventBuses", {}, "events:ListEventBuses", "*"),
    (
        events.SERVICE,
        "TestEventPattern",
        {"EventPattern": "{}", "Event": "{}"},
        "events:TestEventPattern",
        "*",
    ),
    (
        events.SERVICE,
        "PutTargets",
        {"Rule": "nightly", "Targets": []},
        "events:PutTargets",
        f"{RULE}/nightly",
    ),
    (events.SERVICE, "ListTargetsByRule", {"Rule": "nightly"}, "events:ListTargetsByRule", f"{RULE}/nightly"),
    (events.SERVICE, "ListRules", {"NamePrefix": "n"}, "events:ListRules", f"{RULE}/*"),
    (
        events.SERVICE,
        "TagResource",
        {"ResourceARN": f"{RULE}/nightly", "Tags": []},
        "events:TagResource",
        f"{RULE}/nightly",
    ),
    (
        events.SERVICE,
        "ListRuleNamesByTarget",
        {"TargetArn": FN},
        "events:ListRuleNamesByTarget",
        f"{RULE}/*",
    ),
    # CloudWatch: signed as "monitoring", acting as "cloudwatch", on "*".
    (cloudwatch.SERVICE, "GetMetricData", {}, "cloudwatch:GetMetricData", "*"),
    (cloudwatch.SERVICE, "GetMetricStatistics", {}, "cloudwatch:GetMetricStatistics", "*"),
    (cloudwatch.SERVICE, "ListMetrics", {}, "cloudwatch:ListMetrics", "*"),
    # API Gateway: the HTTP method, on the path without its version.
    (apigatewayv2.SERVICE, "GetApis", {}, "apigateway:GET", API),
    (apigatewayv2.SERVICE, "GetApi", {"ApiId": "a1b2"}, "apigateway:GET", f"{API}/a1b2"),
    (
        apigatewayv2.SERVICE,
        "UpdateRoute",
        {"ApiId": "a1b2", "RouteId": "r9"},
        "apigateway:PATCH",
        f"{API}/a1b2/routes/r9",
    ),
    (apigatewayv2.SERVICE, "DeleteApi", {"ApiId": "a1b2"}, "apigateway:DELETE", f"{API}/a1b2"),
    # DynamoDB: the table (by name or ARN), the index a Query or Scan reads, the first table of
    # a batch or transaction (the rest are checked as well: `extra_actions`).
    (DYNAMODB, "PutItem", {"TableName": "t", "Item": {}}, "dynamodb:PutItem", TABLE),
    (DYNAMODB, "GetItem", {"TableName": TABLE, "Key": {}}, "dynamodb:GetItem", TABLE),
    (DYNAMODB, "Query", {"TableName": "t", "IndexName": "gsi"}, "dynamodb:Query", f"{TABLE}/index/gsi"),
    (DYNAMODB, "Scan", {"TableName": "t"}, "dynamodb:Scan", TABLE),
    (DYNAMODB, "ListTables", {}, "dynamodb:ListTables", "*"),
    (
        DYNAMODB,
        "TransactWriteItems",
        {"TransactItems": [{"Update": {"TableName": "t", "Key": {}, "UpdateExpression": "SET a = :a"}}]},
        "dynamodb:UpdateItem",
        TABLE,
    ),
    (DYNAMODB_STREAMS, "DescribeStream", {"StreamArn": STREAM}, "dynamodb:DescribeStream", STREAM),
    (DYNAMODB_STREAMS, "ListStreams", {"TableName": "t"}, "dynamodb:ListStreams", f"{TABLE}/stream/*"),
    # SNS: the topic, a subscription's topic, Publish's TopicArn or TargetArn.
    (SNS, "Publish", {"TopicArn": TOPIC, "Message": "m"}, "sns:Publish", TOPIC),
    (SNS, "PublishBatch", {"TopicArn": TOPIC}, "sns:Publish", TOPIC),
    (
        SNS,
        "Unsubscribe",
        {"SubscriptionArn": WELL_FORMED[("sns", "SubscriptionArn")]},
        "sns:Unsubscribe",
        TOPIC,
    ),
    (SNS, "CreateTopic", {"Name": "topic"}, "sns:CreateTopic", TOPIC),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "action", "resource"),
    EXPECTED,
    ids=[f"{s.model}.{op}-{i}" for i, (s, op, *_rest) in enumerate(EXPECTED)],
)
def test_expected_action_and_resource(
    service: Service[Any], operation: str, params: dict[str, Any], action: str, resource: str
) -> None:
    assert service.action(operation, params, REGION, ACCOUNT) == (action, resource)


def _cases() -> list[tuple[Service[Any], str]]:
    return [(service, operation) for service in SERVICES for operation in sorted(service.handlers)]


@pytest.mark.parametrize(("service", "operation"), _cases(), ids=lambda v: getattr(v, "model", v))
def test_every_operation_has_a_documented_action_and_resource(service: Service[Any], operation: str) -> None:
    """For every served operation, on model-valid input (three different samples): an action
    the reference documents, "*" exactly where it lists no resource type, else an ARN of the
    service, this region and account, of one of its resource types; and never an exception."""
    shape = service_model(service.model).operation_model(operation).input_shape
    for seed in ("a", "b", "c"):
        params = sample(shape, seed=f"{operation}/{seed}") if shape is not None else {}
        for (model, member), arn in WELL_FORMED.items():
            if model == service.model and member in params:
                params[member] = arn
        action, resource = service.action(operation, params, REGION, ACCOUNT)
        prefix, _, name = action.partition(":")
        assert name in DOCUMENTED[prefix], (operation, action)
        if action in UNSCOPED:
            assert resource == "*", (operation, resource)
        else:
            assert RESOURCE_ARN[prefix].match(resource), (operation, params, resource)


def test_every_lambda_operation_is_classified() -> None:
    """A Lambda operation added without an entry would fall to `lambda:<Operation>` on "*":
    only the reference's unscoped operations may."""
    declared = set(actions.AUTHORIZATION) | set(actions.UNSCOPED_OPERATIONS)
    assert declared == set(LAMBDA.handlers)
    assert not set(actions.AUTHORIZATION) & set(actions.UNSCOPED_OPERATIONS)


def test_the_action_prefixes() -> None:
    assert {s.action(next(iter(s.handlers)), {}, REGION, ACCOUNT)[0].split(":")[0] for s in SERVICES} == {
        "lambda",
        "logs",
        "events",
        "cloudwatch",
        "apigateway",
        "sqs",
        "sns",
        "dynamodb",
    }


@pytest.mark.parametrize(
    ("name", "qualifier"),
    [
        ("fn", None),
        ("fn", "prod"),
        ("fn:3", None),
        ("fn:3", "3"),
        (f"{ACCOUNT}:function:fn", "live"),
        (FN, None),
        (f"{FN}:$LATEST", None),
        ("fn:1", "2"),  # disagreeing: refused by the handler, still a resource here
        ("999999999999:function:fn", None),  # another account: likewise
    ],
)
def test_the_lean_invoke_path_agrees(name: str, qualifier: str | None) -> None:
    params: dict[str, Any] = {"FunctionName": name}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    declared = LAMBDA.action("Invoke", params, REGION, ACCOUNT)
    assert declared == ("lambda:InvokeFunction", actions.invoke_resource(name, qualifier, REGION, ACCOUNT))


def _allows(pattern: str, resource: str) -> bool:
    """IAM's Resource matching: `*` any run of characters, `?` one (no brackets in these)."""
    return fnmatch.fnmatchcase(resource, pattern)


def test_policies_as_aws_documents_them_match() -> None:
    """The resources are the ones AWS's documented policy patterns reach: Lambda's
    `function:NAME` only the unqualified function and `function:NAME:*` its versions and
    aliases; CloudWatch Logs' `log-group:NAME:*` a group's operations and its streams, a bare
    `log-group:NAME` neither."""
    invoke_latest = LAMBDA.action("Invoke", {"FunctionName": "fn"}, REGION, ACCOUNT)[1]
    invoke_alias = LAMBDA.action("Invoke", {"FunctionName": "fn:prod"}, REGION, ACCOUNT)[1]
    assert _allows(FN, invoke_latest) and not _allows(FN, invoke_alias)
    assert _allows(f"{FN}:*", invoke_alias) and not _allows(f"{FN}:*", invoke_latest)

    streams = logs.SERVICE.action("DescribeLogStreams", {"logGroupName": "/aws/lambda/fn"}, REGION, ACCOUNT)[
        1
    ]
    events_of = logs.SERVICE.action(
        "GetLogEvents", {"logGroupName": "/aws/lambda/fn", "logStreamName": "s"}, REGION, ACCOUNT
    )[1]
    other = logs.SERVICE.action("DescribeLogStreams", {"logGroupName": "/aws/lambda/fn2"}, REGION, ACCOUNT)[1]
    assert _allows(f"{GROUP}:*", streams) and _allows(f"{GROUP}:*", events_of)
    assert not _allows(f"{GROUP}:*", other)
    assert not _allows(GROUP, streams) and not _allows(GROUP, events_of)
    everything = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"
    assert _allows(everything, logs.SERVICE.action("DescribeLogGroups", {}, REGION, ACCOUNT)[1])
