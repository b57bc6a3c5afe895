"""Lambda REST API: provisioned concurrency on published versions and aliases."""

from __future__ import annotations

from typing import Any

from stratus.control.arns import function_arn
from stratus.control.models import ProvisionedConcurrency
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref


class ProvisionedConfigNotFound(ResourceNotFound):
    code = "ProvisionedConcurrencyConfigNotFoundException"


def _qualified(context: LambdaContext, params: dict[str, Any]) -> tuple[str, str]:
    # The model requires a Qualifier, but it may also come in the function's ARN.
    name, qualifier = function_ref(context, params)
    if not qualifier:
        raise InvalidParameterValue("A Qualifier (a published version or an alias) is required.")
    return name, qualifier


def _shape(context: LambdaContext, name: str, config: ProvisionedConcurrency) -> dict[str, Any]:
    available, failure = context.invoker.provisioned_status(name, config.qualifier)
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
    name, qualifier = _qualified(context, params)
    requested = params["ProvisionedConcurrentExecutions"]  # the model holds it to >= 1
    record = context.registry.get(name)
    others = sum(p.requested for q, p in record.provisioned.items() if q != qualifier)
    if record.reserved_concurrency is not None and others + requested > record.reserved_concurrency:
        raise InvalidParameterValue(
            f"Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution "
            f"for function ({record.reserved_concurrency})."
        )
    floor = context.config.min_unreserved_concurrency
    unreserved = context.config.concurrency_limit - context.invoker.reserved_total()
    if record.reserved_concurrency is None and requested > unreserved - floor:
        raise InvalidParameterValue(
            "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency "
            f"less its minimum of [{floor}]."
        )
    config = context.registry.put_provisioned(name, qualifier, requested, region)
    return _shape(context, name, config)


async def get_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name, qualifier = _qualified(context, params)
    config = context.registry.get(name).provisioned.get(qualifier)
    if config is None:
        raise ProvisionedConfigNotFound("No Provisioned Concurrency Config found for this function")
    return _shape(context, name, config)


async def delete_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name, qualifier = _qualified(context, params)
    context.registry.delete_provisioned(name, qualifier)
    return {}


async def list_provisioned(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name, _ = function_ref(context, params)
    record = context.registry.get(name)
    items = []
    for qualifier in sorted(record.provisioned):
        shape = _shape(context, name, record.provisioned[qualifier])
        shape["FunctionArn"] = function_arn(region, context.account_id, name, qualifier)
        items.append(shape)
    return {"ProvisionedConcurrencyConfigs": items}
