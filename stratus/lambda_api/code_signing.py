"""Code signing configurations and the functions that use them (control/code_signing.py says
what they mean here: no package deployed to Stratus is signed, so Enforce refuses new code and
Warn lets it through, as Lambda treats code that fails the check)."""

from __future__ import annotations

from typing import Any

from stratus.control.arns import function_arn
from stratus.errors import InvalidParameterValue, ResourceConflict
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref


def _profiles(params: dict[str, Any]) -> list[str] | None:
    publishers = params.get("AllowedPublishers")
    return None if publishers is None else list(publishers["SigningProfileVersionArns"])


def _policy(params: dict[str, Any]) -> str | None:
    policies = params.get("CodeSigningPolicies")
    return None if policies is None else policies.get("UntrustedArtifactOnDeployment")


async def create_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    if params.get("Tags"):
        raise InvalidParameterValue("Tags on code signing configurations are not kept by Stratus.")
    config = context.signing_configs.create(
        region, _profiles(params) or [], _policy(params), params.get("Description", "")
    )
    return {"CodeSigningConfig": config.shape(context.account_id)}


async def get_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    config = context.signing_configs.get(params["CodeSigningConfigArn"], region)
    return {"CodeSigningConfig": config.shape(context.account_id)}


async def update_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    config = context.signing_configs.update(
        params["CodeSigningConfigArn"], region, _profiles(params), _policy(params), params.get("Description")
    )
    return {"CodeSigningConfig": config.shape(context.account_id)}


def _users(context: LambdaContext, arn: str) -> list[str]:
    """The names of the functions held to a configuration (all of its region: the ARN says so)."""
    return [r.name for r in context.registry.records() if r.code_signing_config == arn]


async def delete_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    config = context.signing_configs.get(params["CodeSigningConfigArn"], region)
    users = _users(context, config.arn(context.account_id))
    if users:
        raise ResourceConflict(
            "The code signing configuration cannot be deleted because it is used by the following "
            f"functions: {', '.join(users)}"
        )
    context.signing_configs.delete(config.id, region)
    return {}


def _page(items: list[Any], params: dict[str, Any]) -> tuple[list[Any], str | None]:
    marker = params.get("Marker")
    start = int(marker) if isinstance(marker, str) and marker.isdigit() else 0
    size = int(params.get("MaxItems") or 50)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


async def list_code_signing_configs(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    page, marker = _page([c.shape(context.account_id) for c in context.signing_configs.all(region)], params)
    result: dict[str, Any] = {"CodeSigningConfigs": page}
    if marker:
        result["NextMarker"] = marker
    return result


async def list_functions_by_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    config = context.signing_configs.get(params["CodeSigningConfigArn"], region)
    names = sorted(_users(context, config.arn(context.account_id)))
    page, marker = _page([function_arn(region, context.account_id, n) for n in names], params)
    result: dict[str, Any] = {"FunctionArns": page}
    if marker:
        result["NextMarker"] = marker
    return result


async def put_function_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    context.registry.get(key)
    arn = context.signing_configs.get(params["CodeSigningConfigArn"], region).arn(context.account_id)
    context.registry.set_code_signing(key, arn)
    return {"CodeSigningConfigArn": arn, "FunctionName": key.name}


async def get_function_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)  # ResourceNotFoundException for a function that does not exist
    return {"CodeSigningConfigArn": record.code_signing_config, "FunctionName": key.name}


async def delete_function_code_signing_config(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    context.registry.get(key)
    context.registry.set_code_signing(key, "")
    return {}
