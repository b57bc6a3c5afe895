"""Lambda REST API: asynchronous invocation settings (FunctionEventInvokeConfig): retries,
maximum event age and destinations, per $LATEST, version or alias."""

from __future__ import annotations

import time
from typing import Any

from stratus.control.arns import arn_function, function_arn, message_target
from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST, EventInvokeConfig
from stratus.control.registry import Registry
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref


def _destination(context: LambdaContext, params: dict[str, Any], key: str) -> str | None:
    entry = (params.get("DestinationConfig") or {}).get(key) or {}
    arn = entry.get("Destination")
    if not arn:
        return None
    target = arn_function(arn)  # a function of the ARN's region
    if target is not None:
        _check_exists(context.registry, *target, arn=arn)
        return str(arn)
    if message_target(arn) is None:
        raise InvalidParameterValue(
            f"The destination ARN {arn} is invalid: a destination is a Lambda function, an SQS "
            "queue or an SNS topic (EventBridge buses are not available here)."
        )
    if not context.message_target_exists(arn):
        raise InvalidParameterValue(f"The destination {arn} does not exist.")
    return str(arn)


def _check_exists(registry: Registry, key: FunctionKey, qualifier: str | None, *, arn: str) -> None:
    try:
        registry.version(key, qualifier)
    except ResourceNotFound:
        raise InvalidParameterValue(f"The destination {arn} does not exist.") from None


def _shape(context: LambdaContext, region: str, name: str, config: EventInvokeConfig) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": function_arn(region, context.account_id, name, config.qualifier),
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


def _parsed(context: LambdaContext, qualifier: str, params: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"qualifier": qualifier, "last_modified": time.time()}
    if "MaximumRetryAttempts" in params:
        values["max_retries"] = params["MaximumRetryAttempts"]  # the model's range: 0..2
    if "MaximumEventAgeInSeconds" in params:
        values["max_age_s"] = params["MaximumEventAgeInSeconds"]  # 60..21600
    if "DestinationConfig" in params:
        values["on_success"] = _destination(context, params, "OnSuccess")
        values["on_failure"] = _destination(context, params, "OnFailure")
    return values


async def put_event_invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    config = EventInvokeConfig(**_parsed(context, qualifier or LATEST, params))
    return _shape(context, region, key.name, context.registry.put_event_invoke(key, config))


async def update_event_invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    current = context.registry.get(key).event_invoke.get(qualifier or LATEST)
    base = current.to_dict() if current else {"qualifier": qualifier or LATEST}
    config = EventInvokeConfig(**{**base, **_parsed(context, qualifier or LATEST, params)})
    return _shape(context, region, key.name, context.registry.put_event_invoke(key, config))


async def get_event_invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    config = context.registry.get(key).event_invoke.get(qualifier or LATEST)
    if config is None:
        raise ResourceNotFound(
            f"The function {key.name} doesn't have an EventInvokeConfig for qualifier {qualifier or LATEST}"
        )
    return _shape(context, region, key.name, config)


async def delete_event_invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = function_ref(context, params, region)
    context.registry.delete_event_invoke(key, qualifier or LATEST)
    return {}


async def list_event_invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    configs = [_shape(context, region, key.name, record.event_invoke[q]) for q in sorted(record.event_invoke)]
    return {"FunctionEventInvokeConfigs": configs}
