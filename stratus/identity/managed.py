"""AWS's managed policies that people attach to Lambda roles and users, under their real ARNs,
paths, ids, descriptions and default version ids, with AWS's documents (as AWS's managed policy
reference and GetPolicyVersion give them, early 2026).

One exception: ReadOnlyAccess. AWS's document lists read actions of some 400 services; the one
here keeps, from its two statements, only the entries for the services Stratus serves (lambda,
logs, events, cloudwatch, apigateway, iam, sts, s3, sqs, sns, dynamodb, states). It still
allows every read-only action of those services that AWS's does, and nothing more. Its
description stays AWS's.

Pure data; `MANAGED` is keyed by ARN. Every document parses as an "identity" policy (a unit
test checks them all).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_PREFIX = "arn:aws:iam::aws:policy"


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    arn: str
    description: str
    document: str  # JSON text
    version_id: str  # AWS's current default version id, e.g. "v1"
    policy_id: str = ""  # AWS's PolicyId ("ANPA...")
    created: str = ""  # AWS's CreateDate, ISO 8601 UTC
    updated: str = ""  # AWS's UpdateDate (of the default version)


def _statement(
    effect: str,
    actions: str | list[str],
    resources: str | list[str] = "*",
    *,
    sid: str | None = None,
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sid is not None:
        out["Sid"] = sid
    out.update(Effect=effect, Action=actions, Resource=resources)
    if condition is not None:
        out["Condition"] = condition
    return out


def _allow(actions: str | list[str], resources: str | list[str] = "*", **kw: Any) -> dict[str, Any]:
    return _statement("Allow", actions, resources, **kw)


_LOGS_WRITE = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

# name -> (path, PolicyId, default version, created, updated, description, statements)
_POLICIES: dict[str, tuple[str, str, str, str, str, str, list[dict[str, Any]]]] = {
    "AWSLambdaBasicExecutionRole": (
        "/service-role/",
        "ANPAJNCQGXC42545SKXIK",
        "v1",
        "2015-04-09T15:03:43Z",
        "2015-04-09T15:03:43Z",
        "Provides write permissions to CloudWatch Logs.",
        [_allow(_LOGS_WRITE)],
    ),
    "AWSLambdaRole": (
        "/service-role/",
        "ANPAJX4DPCRGTC4NFDUXI",
        "v1",
        "2015-02-06T18:41:28Z",
        "2015-02-06T18:41:28Z",
        "Default policy for AWS Lambda service role.",
        [_allow(["lambda:InvokeFunction"], ["*"])],
    ),
    "AWSLambdaVPCAccessExecutionRole": (
        "/service-role/",
        "ANPAJVTME3YLVNL72YR2K",
        "v3",
        "2016-02-11T23:15:26Z",
        "2024-01-05T22:38:26Z",
        "Provides minimum permissions for a Lambda function to execute while accessing a resource within "
        "a VPC - create, describe, delete network interfaces and write permissions to CloudWatch Logs.",
        [
            _allow(
                [
                    *_LOGS_WRITE,
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                sid="AWSLambdaVPCAccessExecutionPermissions",
            )
        ],
    ),
    "AWSLambdaSQSQueueExecutionRole": (
        "/service-role/",
        "ANPAJFWJZI6JNND4TSELK",
        "v1",
        "2018-06-14T21:50:45Z",
        "2018-06-14T21:50:45Z",
        "Provides receive message, delete message, and read attribute access to SQS queues, and write "
        "permissions to CloudWatch logs.",
        [_allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS_WRITE])],
    ),
    "AWSLambdaDynamoDBExecutionRole": (
        "/service-role/",
        "ANPAIP7WNAGMIPYNW4WQG",
        "v1",
        "2015-04-09T15:09:29Z",
        "2015-04-09T15:09:29Z",
        "Provides list and read access to DynamoDB streams and write permissions to CloudWatch logs.",
        [
            _allow(
                [
                    "dynamodb:DescribeStream",
                    "dynamodb:GetRecords",
                    "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams",
                    *_LOGS_WRITE,
                ]
            )
        ],
    ),
    "AWSLambdaKinesisExecutionRole": (
        "/service-role/",
        "ANPAJHOLKJPXV4GBRMJUQ",
        "v2",
        "2015-04-09T15:14:16Z",
        "2018-11-19T20:09:24Z",
        "Provides list and read access to Kinesis streams and write permissions to CloudWatch logs.",
        [
            _allow(
                [
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                    "kinesis:GetRecords",
                    "kinesis:GetShardIterator",
                    "kinesis:ListShards",
                    "kinesis:ListStreams",
                    "kinesis:SubscribeToShard",
                    *_LOGS_WRITE,
                ]
            )
        ],
    ),
    "AWSLambda_FullAccess": (
        "/",
        "ANPAZKAPJZG4OXQPYWZ5D",
        "v7",
        "2020-11-17T21:14:08Z",
        "2026-02-12T18:00:51Z",
        "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS "
        "services.",
        [
            _allow(
                [
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStackResources",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:GetMetricData",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:ListRoles",
                    "lambda:*",
                    "logs:DescribeLogGroups",
                    "states:DescribeStateMachine",
                    "states:ListStateMachines",
                    "tag:GetResources",
                    "xray:GetTraceSummaries",
                    "xray:BatchGetTraces",
                ]
            ),
            _allow(
                "iam:PassRole",
                condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            ),
            _allow(
                [
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                    "logs:StartLiveTail",
                    "logs:StopLiveTail",
                ],
                "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            ),
            _allow(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::*:role/aws-service-role/lambda.amazonaws.com/AWSServiceRoleForLambda",
                condition={"StringEquals": {"iam:AWSServiceName": "lambda.amazonaws.com"}},
            ),
        ],
    ),
    "AWSLambda_ReadOnlyAccess": (
        "/",
        "ANPAZKAPJZG4IERNVMNPE",
        "v5",
        "2020-11-17T21:10:32Z",
        "2026-02-12T18:02:55Z",
        "Grants read-only access to AWS Lambda service, AWS Lambda console features, and other related AWS "
        "services.",
        [
            _allow(
                [
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStacks",
                    "cloudformation:ListStackResources",
                    "cloudwatch:GetMetricData",
                    "cloudwatch:ListMetrics",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                    "kms:ListAliases",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:ListRoles",
                    "logs:DescribeLogGroups",
                    "lambda:Get*",
                    "lambda:List*",
                    "states:DescribeStateMachine",
                    "states:ListStateMachines",
                    "tag:GetResources",
                    "xray:GetTraceSummaries",
                    "xray:BatchGetTraces",
                ]
            ),
            _allow(
                [
                    "logs:DescribeLogStreams",
                    "logs:GetLogEvents",
                    "logs:FilterLogEvents",
                    "logs:StartQuery",
                    "logs:StopQuery",
                    "logs:DescribeQueries",
                    "logs:GetLogGroupFields",
                    "logs:GetLogRecord",
                    "logs:GetQueryResults",
                    "logs:StartLiveTail",
                    "logs:StopLiveTail",
                ],
                "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            ),
        ],
    ),
    "AmazonS3ReadOnlyAccess": (
        "/",
        "ANPAIZTJ4DXE7G6AGAE6M",
        "v3",
        "2015-02-06T18:40:59Z",
        "2023-08-10T21:31:39Z",
        "Provides read only access to all buckets via the AWS Management Console.",
        [_allow(["s3:Get*", "s3:List*", "s3:Describe*", "s3-object-lambda:Get*", "s3-object-lambda:List*"])],
    ),
    "AmazonS3FullAccess": (
        "/",
        "ANPAIFIR6V6BVTRAHWINE",
        "v2",
        "2015-02-06T18:40:58Z",
        "2021-09-27T20:16:37Z",
        "Provides full access to all buckets via the AWS Management Console.",
        [_allow(["s3:*", "s3-object-lambda:*"])],
    ),
    "AmazonDynamoDBFullAccess": (
        "/",
        "ANPAINUGF2JSOSUY76KYA",
        "v15",
        "2015-02-06T18:40:11Z",
        "2021-01-29T17:38:30Z",
        "Provides full access to Amazon DynamoDB via the AWS Management Console.",
        [
            _allow(
                [
                    "dynamodb:*",
                    "dax:*",
                    "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingActivities",
                    "application-autoscaling:DescribeScalingPolicies",
                    "application-autoscaling:PutScalingPolicy",
                    "application-autoscaling:RegisterScalableTarget",
                    "cloudwatch:DeleteAlarms",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:GetMetricStatistics",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:PutMetricAlarm",
                    "cloudwatch:GetMetricData",
                    "datapipeline:ActivatePipeline",
                    "datapipeline:CreatePipeline",
                    "datapipeline:DeletePipeline",
                    "datapipeline:DescribeObjects",
                    "datapipeline:DescribePipelines",
                    "datapipeline:GetPipelineDefinition",
                    "datapipeline:ListPipelines",
                    "datapipeline:PutPipelineDefinition",
                    "datapipeline:QueryObjects",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "iam:GetRole",
                    "iam:ListRoles",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "sns:CreateTopic",
                    "sns:DeleteTopic",
                    "sns:ListSubscriptions",
                    "sns:ListSubscriptionsByTopic",
                    "sns:ListTopics",
                    "sns:Subscribe",
                    "sns:Unsubscribe",
                    "sns:SetTopicAttributes",
                    "lambda:CreateFunction",
                    "lambda:ListFunctions",
                    "lambda:ListEventSourceMappings",
                    "lambda:CreateEventSourceMapping",
                    "lambda:DeleteEventSourceMapping",
                    "lambda:GetFunctionConfiguration",
                    "lambda:DeleteFunction",
                    "resource-groups:ListGroups",
                    "resource-groups:ListGroupResources",
                    "resource-groups:GetGroup",
                    "resource-groups:GetGroupQuery",
                    "resource-groups:DeleteGroup",
                    "resource-groups:CreateGroup",
                    "tag:GetResources",
                    "kinesis:ListStreams",
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                ]
            ),
            _allow(
                "cloudwatch:GetInsightRuleReport",
                "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*",
            ),
            _allow(
                ["iam:PassRole"],
                condition={
                    "StringLike": {
                        "iam:PassedToService": [
                            "application-autoscaling.amazonaws.com",
                            "application-autoscaling.amazonaws.com.cn",
                            "dax.amazonaws.com",
                        ]
                    }
                },
            ),
            _allow(
                ["iam:CreateServiceLinkedRole"],
                condition={
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "replication.dynamodb.amazonaws.com",
                            "dax.amazonaws.com",
                            "dynamodb.application-autoscaling.amazonaws.com",
                            "contributorinsights.dynamodb.amazonaws.com",
                            "kinesisreplication.dynamodb.amazonaws.com",
                        ]
                    }
                },
            ),
        ],
    ),
    "AmazonDynamoDBReadOnlyAccess": (
        "/",
        "ANPAIY2XFNA232XJ6J7X2",
        "v15",
        "2015-02-06T18:40:12Z",
        "2024-11-18T17:38:15Z",
        "Provides read only access to Amazon DynamoDB via the AWS Management Console.",
        [
            _allow(
                [
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingActivities",
                    "application-autoscaling:DescribeScalingPolicies",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DescribeAlarmsForMetric",
                    "cloudwatch:GetMetricStatistics",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:GetMetricData",
                    "datapipeline:DescribeObjects",
                    "datapipeline:DescribePipelines",
                    "datapipeline:GetPipelineDefinition",
                    "datapipeline:ListPipelines",
                    "datapipeline:QueryObjects",
                    "dynamodb:BatchGetItem",
                    "dynamodb:Describe*",
                    "dynamodb:List*",
                    "dynamodb:GetAbacStatus",
                    "dynamodb:GetItem",
                    "dynamodb:GetResourcePolicy",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "dynamodb:PartiQLSelect",
                    "dax:Describe*",
                    "dax:List*",
                    "dax:GetItem",
                    "dax:BatchGetItem",
                    "dax:Query",
                    "dax:Scan",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "iam:GetRole",
                    "iam:ListRoles",
                    "kms:DescribeKey",
                    "kms:ListAliases",
                    "sns:ListSubscriptionsByTopic",
                    "sns:ListTopics",
                    "lambda:ListFunctions",
                    "lambda:ListEventSourceMappings",
                    "lambda:GetFunctionConfiguration",
                    "resource-groups:ListGroups",
                    "resource-groups:ListGroupResources",
                    "resource-groups:GetGroup",
                    "resource-groups:GetGroupQuery",
                    "tag:GetResources",
                    "kinesis:ListStreams",
                    "kinesis:DescribeStream",
                    "kinesis:DescribeStreamSummary",
                ],
                sid="GeneralReadOnlyAccess",
            ),
            _allow(
                "cloudwatch:GetInsightRuleReport",
                "arn:aws:cloudwatch:*:*:insight-rule/DynamoDBContributorInsights*",
                sid="CCIAccess",
            ),
        ],
    ),
    "AmazonSQSFullAccess": (
        "/",
        "ANPAI65L554VRJ33ECQS6",
        "v1",
        "2015-02-06T18:41:07Z",
        "2015-02-06T18:41:07Z",
        "Provides full access to Amazon SQS via the AWS Management Console.",
        [_allow(["sqs:*"])],
    ),
    "AmazonSQSReadOnlyAccess": (
        "/",
        "ANPAIUGSSQY362XGCM6KW",
        "v4",
        "2015-02-06T18:41:08Z",
        "2024-05-24T18:16:44Z",
        "Provides read only access to Amazon SQS via the AWS Management Console.",
        [
            _allow(
                [
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ListDeadLetterSourceQueues",
                    "sqs:ListQueues",
                    "sqs:ListMessageMoveTasks",
                    "sqs:ListQueueTags",
                ],
                sid="AmazonSQSReadOnlyAccess",
            )
        ],
    ),
    "AmazonSNSFullAccess": (
        "/",
        "ANPAJWEKLCXXUNT2SOLSG",
        "v2",
        "2015-02-06T18:41:05Z",
        "2024-09-24T22:32:05Z",
        "Provides full access to Amazon SNS via the AWS Management Console.",
        [
            _allow("sns:*", sid="SNSFullAccess"),
            _allow(
                [
                    "sms-voice:DescribeVerifiedDestinationNumbers",
                    "sms-voice:CreateVerifiedDestinationNumber",
                    "sms-voice:SendDestinationNumberVerificationCode",
                    "sms-voice:SendTextMessage",
                    "sms-voice:DeleteVerifiedDestinationNumber",
                    "sms-voice:VerifyDestinationNumber",
                    "sms-voice:DescribeAccountAttributes",
                    "sms-voice:DescribeSpendLimits",
                    "sms-voice:DescribePhoneNumbers",
                    "sms-voice:SetTextMessageSpendLimitOverride",
                    "sms-voice:DescribeOptedOutNumbers",
                    "sms-voice:DeleteOptedOutNumber",
                ],
                sid="SMSAccessViaSNS",
                condition={"StringEquals": {"aws:CalledViaLast": "sns.amazonaws.com"}},
            ),
        ],
    ),
    "AWSStepFunctionsFullAccess": (
        "/",
        "ANPAJXKA6VP3UFBVHDPPA",
        "v1",
        "2017-01-11T21:51:32Z",
        "2017-01-11T21:51:32Z",
        "An access policy for providing a user/role/etc access to the AWS StepFunctions API. For full "
        "access, in addition to this policy, a user MUST have iam:PassRole permission on at least one IAM "
        "role that can be assumed by the service.",
        [_allow("states:*")],
    ),
    "AWSStepFunctionsReadOnlyAccess": (
        "/",
        "ANPAJONHB2TJQDJPFW5TM",
        "v4",
        "2017-01-11T21:46:19Z",
        "2024-04-26T18:53:54Z",
        "An access policy for providing a user/role/etc read only access to the AWS StepFunctions service.",
        [
            _allow(
                [
                    "states:ListStateMachines",
                    "states:ListActivities",
                    "states:DescribeStateMachine",
                    "states:DescribeStateMachineForExecution",
                    "states:ListExecutions",
                    "states:DescribeExecution",
                    "states:GetExecutionHistory",
                    "states:DescribeActivity",
                    "states:ListTagsForResource",
                    "states:DescribeMapRun",
                    "states:ListMapRuns",
                    "states:DescribeStateMachineAlias",
                    "states:ListStateMachineAliases",
                    "states:ListStateMachineVersions",
                    "states:ValidateStateMachineDefinition",
                ],
                sid="ReadOnlyAccess",
            )
        ],
    ),
    "CloudWatchLogsFullAccess": (
        "/",
        "ANPAJ3ZGNWK2R5HW5BQFO",
        "v8",
        "2015-02-06T18:40:02Z",
        "2026-02-12T18:00:33Z",
        "Provides full access to CloudWatch Logs",
        [
            _allow(
                [
                    "logs:*",
                    "cloudwatch:GenerateQuery",
                    "cloudwatch:GenerateQueryResultsSummary",
                    "observabilityadmin:GetS3TableIntegration",
                    "observabilityadmin:ListS3TableIntegrations",
                    "observabilityadmin:ListTelemetryPipelines",
                ],
                sid="CloudWatchLogsFullAccess",
            )
        ],
    ),
    "CloudWatchLogsReadOnlyAccess": (
        "/",
        "ANPAJ2YIYDYSNNEHK3VKW",
        "v12",
        "2015-02-06T18:40:03Z",
        "2026-02-12T17:59:13Z",
        "Provides read only access to CloudWatch Logs",
        [
            _allow(
                [
                    "logs:Describe*",
                    "logs:Get*",
                    "logs:List*",
                    "logs:StartQuery",
                    "logs:StopQuery",
                    "logs:TestMetricFilter",
                    "logs:FilterLogEvents",
                    "logs:StartLiveTail",
                    "logs:StopLiveTail",
                    "cloudwatch:GenerateQuery",
                    "cloudwatch:GenerateQueryResultsSummary",
                    "observabilityadmin:ListS3TableIntegrations",
                    "observabilityadmin:GetS3TableIntegration",
                    "observabilityadmin:ListTelemetryPipelines",
                ],
                sid="CloudWatchLogsReadOnlyAccess",
            )
        ],
    ),
    "AmazonEventBridgeFullAccess": (
        "/",
        "ANPAZKAPJZG4BUM4GCASI",
        "v7",
        "2019-07-11T14:08:55Z",
        "2026-02-12T17:58:25Z",
        "Provides full access to Amazon EventBridge.",
        [
            _allow(["events:*", "schemas:*", "scheduler:*", "pipes:*"], sid="EventBridgeActions"),
            _allow(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::*:role/aws-service-role/apidestinations.events.amazonaws.com/"
                "AWSServiceRoleForAmazonEventBridgeApiDestinations",
                sid="IAMCreateServiceLinkedRoleForApiDestinations",
                condition={"StringEquals": {"iam:AWSServiceName": "apidestinations.events.amazonaws.com"}},
            ),
            _allow(
                "iam:CreateServiceLinkedRole",
                "arn:aws:iam::*:role/aws-service-role/schemas.amazonaws.com/AWSServiceRoleForSchemas",
                sid="IAMCreateServiceLinkedRoleForAmazonEventBridgeSchemas",
                condition={"StringEquals": {"iam:AWSServiceName": "schemas.amazonaws.com"}},
            ),
            _allow(
                [
                    "secretsmanager:CreateSecret",
                    "secretsmanager:UpdateSecret",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:GetSecretValue",
                    "secretsmanager:PutSecretValue",
                ],
                "arn:aws:secretsmanager:*:*:secret:events!*",
                sid="SecretsManagerAccessForApiDestinations",
            ),
            *(
                _allow(
                    "iam:PassRole",
                    "arn:aws:iam::*:role/*",
                    sid=sid,
                    condition={"StringLike": {"iam:PassedToService": service}},
                )
                for sid, service in (
                    ("IAMPassRoleAccessForEventBridge", "events.amazonaws.com"),
                    ("IAMPassRoleAccessForScheduler", "scheduler.amazonaws.com"),
                    ("IAMPassRoleAccessForPipes", "pipes.amazonaws.com"),
                )
            ),
        ],
    ),
    "AdministratorAccess": (
        "/",
        "ANPAIWMBCKSKIEE64ZLYK",
        "v1",
        "2015-02-06T18:39:46Z",
        "2015-02-06T18:39:46Z",
        "Provides full access to AWS services and resources.",
        [_allow("*")],
    ),
    # AWS's document covers ~400 services; this one only Stratus's (see the module docstring).
    "ReadOnlyAccess": (
        "/",
        "ANPAILL3HVNFSB6DCOWYQ",
        "v178",
        "2015-02-06T18:39:48Z",
        "2026-02-12T18:01:33Z",
        "Provides read-only access to AWS services and resources.",
        [
            _allow(
                [
                    "apigateway:GET",
                    "apigateway:GetPortal",
                    "apigateway:GetPortalProduct",
                    "apigateway:GetProductPage",
                    "apigateway:GetProductRestEndpointPage",
                    "apigateway:GetRoutingRule",
                    "apigateway:ListPortalProducts",
                    "apigateway:ListPortals",
                    "apigateway:ListProductPages",
                    "apigateway:ListProductRestEndpointPages",
                    "apigateway:ListRoutingRules",
                    "cloudwatch:Describe*",
                    "cloudwatch:GenerateQuery",
                    "cloudwatch:GenerateQueryResultsSummary",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "dynamodb:BatchGet*",
                    "dynamodb:Describe*",
                    "dynamodb:Get*",
                    "dynamodb:List*",
                    "dynamodb:PartiQLSelect",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "events:Describe*",
                    "events:List*",
                    "events:Test*",
                    "iam:Generate*",
                    "iam:Get*",
                    "iam:List*",
                    "iam:Simulate*",
                ],
                sid="ReadOnlyActionsGroup1",
            ),
            _allow(
                [
                    "lambda:Get*",
                    "lambda:List*",
                    "logs:Describe*",
                    "logs:FilterLogEvents",
                    "logs:Get*",
                    "logs:ListAnomalies",
                    "logs:ListEntitiesForLogGroup",
                    "logs:ListIntegrations",
                    "logs:ListLogAnomalyDetectors",
                    "logs:ListLogDeliveries",
                    "logs:ListLogGroupsForEntity",
                    "logs:ListLogGroupsForQuery",
                    "logs:ListTagsForResource",
                    "logs:ListTagsLogGroup",
                    "logs:StartLiveTail",
                    "logs:StartQuery",
                    "logs:StopLiveTail",
                    "logs:StopQuery",
                    "logs:TestMetricFilter",
                    "logs:ListAggregateLogGroupSummaries",
                    "logs:ListSourcesForS3TableIntegration",
                    "logs:ListScheduledQueries",
                    "s3:DescribeJob",
                    "s3:Get*",
                    "s3:List*",
                    "sns:Check*",
                    "sns:Get*",
                    "sns:List*",
                    "sqs:Get*",
                    "sqs:List*",
                    "sqs:Receive*",
                    "states:Describe*",
                    "states:GetExecutionHistory",
                    "states:List*",
                    "states:ValidateStateMachineDefinition",
                    "sts:GetAccessKeyInfo",
                    "sts:GetCallerIdentity",
                    "sts:GetSessionToken",
                ],
                sid="ReadOnlyActionsGroup2",
            ),
        ],
    ),
    "IAMFullAccess": (
        "/",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "v2",
        "2015-02-06T18:40:38Z",
        "2019-06-21T19:40:00Z",
        "Provides full access to IAM via the AWS Management Console.",
        [
            _allow(
                [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ]
            )
        ],
    ),
    "IAMReadOnlyAccess": (
        "/",
        "ANPAJKSO7NDY4T57MWDSQ",
        "v4",
        "2015-02-06T18:40:39Z",
        "2018-01-25T19:11:27Z",
        "Provides read only access to IAM via the AWS Management Console.",
        [
            _allow(
                [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ]
            )
        ],
    ),
}


def _build() -> dict[str, ManagedPolicy]:
    out: dict[str, ManagedPolicy] = {}
    for name, (path, policy_id, version, created, updated, description, statements) in _POLICIES.items():
        arn = f"{_PREFIX}{path}{name}"
        document = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=4)
        out[arn] = ManagedPolicy(name, path, arn, description, document, version, policy_id, created, updated)
    return out


MANAGED: Mapping[str, ManagedPolicy] = _build()
