"""Lambda REST API: published versions and aliases."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from stratus.control import validate
from stratus.errors import InvalidParameterValue
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref
from stratus.lambda_api.shapes import alias_configuration, function_configuration


def _routing(params: dict[str, Any]) -> dict[str, float] | None:
    """The model has checked the shape (a map of version to a number); None when not given."""
    if "RoutingConfig" not in params:
        return None
    weights = params["RoutingConfig"].get("AdditionalVersionWeights") or {}
    return {str(version): float(weight) for version, weight in weights.items()}


def _page(items: list[dict[str, Any]], params: dict[str, Any], key: str) -> dict[str, Any]:
    marker = params.get("Marker")
    try:
        start = int(base64.urlsafe_b64decode(marker.encode()).decode()) if marker else 0
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterValue("Invalid Marker or MaxItems.") from None
    end = start + min(params.get("MaxItems", 50), 50)
    result: dict[str, Any] = {key: items[start:end]}
    if end < len(items):
        result["NextMarker"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    return result


async def publish_version(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    description = params.get("Description", "")
    validate.description(description)
    cfg = context.registry.publish_version(
        key,
        code_sha256=params.get("CodeSha256"),
        description=description,
        revision_id=params.get("RevisionId"),
    )
    return function_configuration(cfg, region, context.account_id)


async def list_versions(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    configs = [record.latest] + [record.versions[v] for v in sorted(record.versions, key=int)]
    shapes = [function_configuration(c, region, context.account_id) for c in configs]
    return _page(shapes, params, "Versions")


async def create_alias(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    # The model's pattern lets an all-digit name through; Lambda refuses it (a version's name).
    alias = validate.alias_name(params["Name"])
    description = validate.description(params.get("Description", ""))
    created = context.registry.create_alias(
        key, alias, params["FunctionVersion"], description, _routing(params) or {}
    )
    return alias_configuration(key.name, created, region, context.account_id)


async def get_alias(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    alias = context.registry.get_alias(key, params["Name"])
    return alias_configuration(key.name, alias, region, context.account_id)


async def update_alias(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    description = params.get("Description")
    if description is not None:
        validate.description(description)
    updated = context.registry.update_alias(
        key,
        params["Name"],
        version=params.get("FunctionVersion"),
        description=description,
        routing=_routing(params),
        revision_id=params.get("RevisionId"),
    )
    return alias_configuration(key.name, updated, region, context.account_id)


async def delete_alias(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    context.registry.delete_alias(key, params["Name"])
    return {}


async def list_aliases(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    wanted = params.get("FunctionVersion")
    aliases = [
        alias_configuration(key.name, a, region, context.account_id)
        for a in sorted(record.aliases.values(), key=lambda a: a.name)
        if wanted is None or a.function_version == wanted
    ]
    return _page(aliases, params, "Aliases")
