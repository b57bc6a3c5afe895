"""Lambda REST API: provisioned concurrency on published versions and aliases."""

from __future__ import annotations

from typing import Any

from stratus.control.arns import function_arn
from stratus.control.keys import FunctionKey
from stratus.control.models import ProvisionedConcurrency
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref


class ProvisionedConfigNotFound(ResourceNotFound):
    code = "ProvisionedConcurrencyConfigNotFoundException"


def _qualified(context: LambdaContext, params: dict[str, Any], region: str) -> tuple[FunctionKey, str]:
    # The model requires a Qualifier, but it may also come in the function's ARN.
    key, qualifier = function_ref(context, params, region)
    if not qualifier:
        raise InvalidParameterValue("A Qualifier (a published version or an alias) is required.")
    return key, qualifier


def _shape(context: LambdaContext, key: FunctionKey, config: ProvisionedConcurrency) -> dict[str, Any]:
    available, failure = context.invoker.provisioned_status(key, config.qualifier)
    if available >= config.requested:
        status = "READY"
    elif failure:
        status = "FAILED"
    else:
        status = "IN_PROGRESS"
    shape: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": available,
        "AllocatedProvisionedConcurrentExecutions": available,
        "Status": status,
        "LastModified": config.last_modified,
    }
    if status == "FAILED" and failure:
        shape["StatusReason"] = failure[:1000]
    return shape


async def put_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualified(context, params, region)
    requested = params["ProvisionedConcurrentExecutions"]  # the model holds it to >= 1
    record = context.registry.get(key)
    others = sum(p.requested for q, p in record.provisioned.items() if q != qualifier)
    if record.reserved_concurrency is not None and others + requested > record.reserved_concurrency:
        raise InvalidParameterValue(
            f"Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
            f"for function ({record.reserved_concurrency})."
        )
    floor = context.config.min_unreserved_concurrency
    unreserved = context.config.concurrency_limit - context.invoker.reserved_total(key.region)
    if record.reserved_concurrency is None and requested > unreserved - floor:
        raise InvalidParameterValue(
            "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency "
            f"less its minimum of [{floor}]."
        )
    config = context.registry.put_provisioned(key, qualifier, requested, region)
    return _shape(context, key, config)


async def get_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualified(context, params, region)
    config = context.registry.get(key).provisioned.get(qualifier)
    if config is None:
        raise ProvisionedConfigNotFound("No Provisioned Concurrency Config found for this function")
    return _shape(context, key, config)


async def delete_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualified(context, params, region)
    context.registry.delete_provisioned(key, qualifier)
    return {}


async def list_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    items = []
    for qualifier in sorted(record.provisioned):
        shape = _shape(context, key, record.provisioned[qualifier])
        shape["FunctionArn"] = function_arn(region, context.account_id, key.name, qualifier)
        items.append(shape)
    return {"ProvisionedConcurrencyConfigs": items}
