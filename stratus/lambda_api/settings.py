"""Lambda REST API: reserved concurrency, tags and account settings."""

from __future__ import annotations

from typing import Any

from stratus.control import validate
from stratus.control.arns import parse_resource_arn
from stratus.control.codestore import MAX_UNZIPPED
from stratus.control.keys import FunctionKey, check_region
from stratus.errors import InvalidParameterValue
from stratus.lambda_api import event_sources
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import MAX_ZIP_BYTES, function_ref


def _tagged_function(params: dict[str, Any], region: str) -> FunctionKey:
    """The function a tag call's resource ARN names: one of the request's region only."""
    key = parse_resource_arn(params["Resource"])
    check_region(key.region, region)
    return key


async def put_function_concurrency(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    value = params["ReservedConcurrentExecutions"]  # the model holds it to a whole number >= 0
    record = context.registry.get(key)
    # The region's reservations: each region's unreserved pool is its own (key.region is the request's).
    others = context.invoker.reserved_total(key.region) - (record.reserved_concurrency or 0)
    limit = context.config.concurrency_limit
    floor = context.config.min_unreserved_concurrency
    if limit - others - value < floor:
        raise InvalidParameterValue(
            f"Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
        )
    context.registry.put_reserved_concurrency(key, value)
    return {"ReservedConcurrentExecutions": value}


async def get_function_concurrency(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    if record.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": record.reserved_concurrency}


async def delete_function_concurrency(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    context.registry.put_reserved_concurrency(key, None)
    return {}


async def tag_resource(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    mapping = event_sources.tagged_mapping(context, params["Resource"])
    if mapping is not None:
        event_sources.tag_mapping(context, mapping, validate.tags(params["Tags"]))
        return {}
    key = _tagged_function(params, region)
    context.registry.tag(key, validate.tags(params["Tags"]))
    return {}


async def untag_resource(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    mapping = event_sources.tagged_mapping(context, params["Resource"])
    if mapping is not None:
        event_sources.untag_mapping(context, mapping, params["TagKeys"])
        return {}
    key = _tagged_function(params, region)
    context.registry.untag(key, params["TagKeys"])
    return {}


async def list_tags(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    mapping = event_sources.tagged_mapping(context, params["Resource"])
    if mapping is not None:
        return {"Tags": event_sources.mapping_tags(context, mapping)}
    key = _tagged_function(params, region)
    return {"Tags": dict(context.registry.get(key).tags)}


async def get_account_settings(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    # The request's region's numbers: Lambda's account limits and usage are per region.
    records = [r for r in context.registry.records() if r.key.region == region]
    total_code = sum(r.latest.code_size + sum(v.code_size for v in r.versions.values()) for r in records)
    limit = context.config.concurrency_limit
    return {
        "AccountLimit": {
            "TotalCodeSize": 80 * 1024 * 1024 * 1024,
            "CodeSizeUnzipped": MAX_UNZIPPED,
            "CodeSizeZipped": MAX_ZIP_BYTES,
            "ConcurrentExecutions": limit,
            "UnreservedConcurrentExecutions": limit - context.invoker.reserved_total(region),
        },
        "AccountUsage": {"TotalCodeSize": total_code, "FunctionCount": len(records)},
    }
