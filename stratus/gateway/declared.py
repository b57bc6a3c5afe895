"""The services served from their declarations (`wire.service.Service`), each bound to the
context its handlers read: the gateway dispatches to these and holds their requests' signatures
to their signing declarations. A new service is one more context here and one more entry."""

from __future__ import annotations

from typing import Any

from stratus.buckets import api as s3_api
from stratus.buckets.context import S3Context
from stratus.gateway.server import Bound
from stratus.identity import iam_api, sts_api
from stratus.lambda_api import service as lambda_api
from stratus.lambda_api.context import LambdaContext
from stratus.queues import api as sqs_api
from stratus.services import apigatewayv2, cloudwatch, events, logs
from stratus.tables import api as dynamodb_api
from stratus.tables import streams_api
from stratus.tables.context import TablesContext
from stratus.tables.streams_api import StreamsContext
from stratus.topics import api as sns_api
from stratus.topics.context import SnsContext
from stratus.workflows import api as sfn_api


def declared(
    lambda_context: LambdaContext,
    logs_context: logs.LogsContext,
    events_context: events.EventsContext,
    cloudwatch_context: cloudwatch.CloudWatchContext,
    apigatewayv2_context: apigatewayv2.ApiGatewayContext,
    sts_context: sts_api.StsContext,
    iam_context: iam_api.IamContext,
    s3_context: S3Context,
    sns_context: SnsContext,
    sqs_context: sqs_api.SqsContext,
    tables_context: TablesContext,
    streams_context: StreamsContext,
    sfn_context: sfn_api.SfnContext,
) -> tuple[Bound[Any], ...]:
    """Each declared service with its context (mypy checks each pair agrees)."""
    return (
        Bound(lambda_api.SERVICE, lambda_context),
        Bound(logs.SERVICE, logs_context),
        Bound(events.SERVICE, events_context),
        Bound(cloudwatch.SERVICE, cloudwatch_context),
        Bound(apigatewayv2.SERVICE, apigatewayv2_context),
        Bound(sts_api.SERVICE, sts_context),
        Bound(iam_api.SERVICE, iam_context),
        Bound(s3_api.SERVICE, s3_context),
        Bound(sqs_api.SERVICE, sqs_context),
        Bound(sns_api.SERVICE, sns_context),
        Bound(dynamodb_api.SERVICE, tables_context),
        Bound(streams_api.STREAMS_SERVICE, streams_context),
        Bound(sfn_api.SERVICE, sfn_context),
    )
