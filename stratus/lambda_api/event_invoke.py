"""Lambda REST API: asynchronous invocation settings (FunctionEventInvokeConfig): retries,
maximum event age and destinations, per $LATEST, version or alias."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from stratus.control.models import LATEST, EventInvokeConfig
from stratus.control.registry import Registry
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ApiContext, ctx, json_body, region
from stratus.lambda_api.arns import destination_function, function_arn
from stratus.lambda_api.functions import function_ref


def _destination(context: ApiContext, params: dict[str, Any], key: str) -> str | None:
    config = params.get("DestinationConfig") or {}
    if not isinstance(config, dict):
        raise InvalidParameterValue("DestinationConfig must be an object.")
    entry = config.get(key)
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise InvalidParameterValue(f"DestinationConfig.{key} must be an object.")
    arn = entry.get("Destination")
    if arn in (None, ""):
        return None
    if not isinstance(arn, str):
        raise InvalidParameterValue(f"DestinationConfig.{key}.Destination must be an ARN.")
    target = destination_function(arn)
    if target is None:
        raise InvalidParameterValue(
            f"The destination ARN {arn} is invalid or not supported here: "
            "Lambda functions are the destinations this server offers."
        )
    _check_exists(context.registry, *target, arn=arn)
    return arn


def _check_exists(registry: Registry, name: str, qualifier: str | None, *, arn: str) -> None:
    try:
        registry.version(name, qualifier)
    except ResourceNotFound:
        raise InvalidParameterValue(f"The destination {arn} does not exist.") from None


def _int_in(params: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at '{key[0].lower() + key[1:]}' failed to "
            f"satisfy constraint: Member must have value between {low} and {high}"
        )
    return value


def _shape(request: web.Request, name: str, config: EventInvokeConfig) -> dict[str, Any]:
    context = ctx(request)
    shape: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": function_arn(region(request), context.account_id, name, config.qualifier),
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
            "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
        },
    }
    if config.max_retries is not None:
        shape["MaximumRetryAttempts"] = config.max_retries
    if config.max_age_s is not None:
        shape["MaximumEventAgeInSeconds"] = config.max_age_s
    return shape


def _parsed(context: ApiContext, qualifier: str, params: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"qualifier": qualifier, "last_modified": time.time()}
    if "MaximumRetryAttempts" in params:
        values["max_retries"] = _int_in(params, "MaximumRetryAttempts", 0, 2)
    if "MaximumEventAgeInSeconds" in params:
        values["max_age_s"] = _int_in(params, "MaximumEventAgeInSeconds", 60, 21600)
    if "DestinationConfig" in params:
        values["on_success"] = _destination(context, params, "OnSuccess")
        values["on_failure"] = _destination(context, params, "OnFailure")
    return values


async def put_event_invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    config = EventInvokeConfig(**_parsed(context, qualifier or LATEST, json_body(request)))
    return json_response(_shape(request, name, context.registry.put_event_invoke(name, config)))


async def update_event_invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    current = context.registry.get(name).event_invoke.get(qualifier or LATEST)
    base = current.to_dict() if current else {"qualifier": qualifier or LATEST}
    config = EventInvokeConfig(**{**base, **_parsed(context, qualifier or LATEST, json_body(request))})
    return json_response(_shape(request, name, context.registry.put_event_invoke(name, config)))


async def get_event_invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    config = context.registry.get(name).event_invoke.get(qualifier or LATEST)
    if config is None:
        raise ResourceNotFound(
            f"The function {name} doesn't have an EventInvokeConfig for qualifier {qualifier or LATEST}"
        )
    return json_response(_shape(request, name, config))


async def delete_event_invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    context.registry.delete_event_invoke(name, qualifier or LATEST)
    return empty_response(204)


async def list_event_invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    record = context.registry.get(name)
    configs = [_shape(request, name, record.event_invoke[q]) for q in sorted(record.event_invoke)]
    return json_response({"FunctionEventInvokeConfigs": configs})
