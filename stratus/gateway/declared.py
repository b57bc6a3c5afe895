"""The services served from their declarations (`wire.service.Service`): the gateway
dispatches to these and holds their requests' signatures to their signing declarations. A new
service is one more entry here."""

from __future__ import annotations

from stratus.frontend.context import ApiContext
from stratus.lambda_api import service as lambda_api
from stratus.services import apigatewayv2, cloudwatch, events, logs
from stratus.wire.service import Service

SERVICES: tuple[Service[ApiContext], ...] = (
    lambda_api.SERVICE,
    logs.SERVICE,
    events.SERVICE,
    cloudwatch.SERVICE,
    apigatewayv2.SERVICE,
)
