"""Lambda REST API: published versions and aliases."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from stratus.control import validate
from stratus.errors import InvalidParameterValue
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body, region
from stratus.lambda_api.functions import function_ref
from stratus.lambda_api.shapes import alias_configuration, function_configuration


def _routing(params: dict[str, Any]) -> dict[str, float] | None:
    if "RoutingConfig" not in params:
        return None
    config = params["RoutingConfig"] or {}
    if not isinstance(config, dict):
        raise InvalidParameterValue("RoutingConfig must be an object.")
    weights = config.get("AdditionalVersionWeights") or {}
    if not isinstance(weights, dict):
        raise InvalidParameterValue("AdditionalVersionWeights must be a map of version to weight.")
    result: dict[str, float] = {}
    for version, weight in weights.items():
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise InvalidParameterValue("Additional version weight must be a number.")
        result[str(version)] = float(weight)
    return result


def _page(items: list[dict[str, Any]], request: web.Request, key: str) -> dict[str, Any]:
    marker = request.query.get("Marker")
    try:
        max_items = int(request.query.get("MaxItems", "50"))
        start = int(base64.urlsafe_b64decode(marker.encode()).decode()) if marker else 0
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterValue("Invalid Marker or MaxItems.") from None
    if not 1 <= max_items <= 10000:
        raise InvalidParameterValue("MaxItems must be a number between 1 and 10000.")
    end = start + min(max_items, 50)
    result: dict[str, Any] = {key: items[start:end]}
    if end < len(items):
        result["NextMarker"] = base64.urlsafe_b64encode(str(end).encode()).decode()
    return result


async def publish_version(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    description = params.get("Description", "")
    validate.description(description)
    cfg = context.registry.publish_version(
        name,
        code_sha256=params.get("CodeSha256"),
        description=description,
        revision_id=params.get("RevisionId"),
    )
    return json_response(function_configuration(cfg, region(request), context.account_id), 201)


async def list_versions(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    record = context.registry.get(name)
    configs = [record.latest] + [record.versions[v] for v in sorted(record.versions, key=int)]
    shapes = [function_configuration(c, region(request), context.account_id) for c in configs]
    return json_response(_page(shapes, request, "Versions"))


async def create_alias(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    alias = validate.alias_name(params.get("Name"))
    version = params.get("FunctionVersion")
    if not isinstance(version, str) or not version:
        raise InvalidParameterValue("FunctionVersion is required.")
    description = validate.description(params.get("Description", ""))
    created = context.registry.create_alias(name, alias, version, description, _routing(params) or {})
    return json_response(alias_configuration(name, created, region(request), context.account_id), 201)


async def get_alias(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    alias = context.registry.get_alias(name, request.match_info["alias"])
    return json_response(alias_configuration(name, alias, region(request), context.account_id))


async def update_alias(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    params = json_body(request)
    description = params.get("Description")
    if description is not None:
        validate.description(description)
    updated = context.registry.update_alias(
        name,
        request.match_info["alias"],
        version=params.get("FunctionVersion"),
        description=description,
        routing=_routing(params),
        revision_id=params.get("RevisionId"),
    )
    return json_response(alias_configuration(name, updated, region(request), context.account_id))


async def delete_alias(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    context.registry.delete_alias(name, request.match_info["alias"])
    return empty_response(204)


async def list_aliases(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, _ = function_ref(request)
    record = context.registry.get(name)
    wanted = request.query.get("FunctionVersion")
    aliases = [
        alias_configuration(name, a, region(request), context.account_id)
        for a in sorted(record.aliases.values(), key=lambda a: a.name)
        if wanted is None or a.function_version == wanted
    ]
    return json_response(_page(aliases, request, "Aliases"))
