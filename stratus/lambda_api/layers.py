"""Lambda REST API: layers (PublishLayerVersion, GetLayerVersion[ByArn], ListLayers,
ListLayerVersions, DeleteLayerVersion, and the layer version permission calls)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from stratus.control.layers import VERSION_ARN, LayerVersion
from stratus.control.registry import new_revision, now_iso
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body, region
from stratus.lambda_api.functions import KNOWN_RUNTIMES, code_location, decode_zip, store_code

ARCHITECTURES = ("x86_64", "arm64")


def layer_arn(region_name: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region_name}:{account}:layer:{name}"


def _shape(request: web.Request, v: LayerVersion, *, content: bool = True) -> dict[str, Any]:
    context = ctx(request)
    arn = layer_arn(v.region, context.account_id, v.name)
    shape: dict[str, Any] = {
        "LayerArn": arn,
        "LayerVersionArn": f"{arn}:{v.version}",
        "Description": v.description,
        "CreatedDate": v.created,
        "Version": v.version,
        "CompatibleRuntimes": list(v.compatible_runtimes),
        "CompatibleArchitectures": list(v.compatible_architectures),
    }
    if v.license_info is not None:
        shape["LicenseInfo"] = v.license_info
    if content:
        shape["Content"] = {
            "Location": code_location(request, v.code_key),
            "CodeSha256": v.code_sha256,
            "CodeSize": v.code_size,
        }
    return shape


def _strings(data: dict[str, Any], key: str, allowed: tuple[str, ...], most: int) -> tuple[str, ...]:
    values = data.get(key) or []
    if not isinstance(values, list) or len(values) > most or any(v not in allowed for v in values):
        raise InvalidParameterValue(f"{key} must be a list of at most {most} of: {', '.join(allowed)}.")
    return tuple(values)


def _version(request: web.Request) -> int:
    try:
        return int(request.match_info["version"])
    except ValueError:
        raise InvalidParameterValue("The layer version must be a number.") from None


async def publish_layer_version(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    data = json_body(request)
    stored = await store_code(context, decode_zip(data.get("Content")))
    description = data.get("Description", "")
    if not isinstance(description, str) or len(description) > 256:
        raise InvalidParameterValue("Description must be a string of at most 256 characters.")
    license_info = data.get("LicenseInfo")
    if license_info is not None and (not isinstance(license_info, str) or len(license_info) > 512):
        raise InvalidParameterValue("LicenseInfo must be a string of at most 512 characters.")
    draft = LayerVersion(
        name=request.match_info["name"],
        version=0,
        code_key=stored.key,
        code_sha256=stored.sha256_b64,
        code_size=stored.size,
        created=now_iso(),
        region=region(request),
        description=description,
        compatible_runtimes=_strings(data, "CompatibleRuntimes", KNOWN_RUNTIMES, 15),
        compatible_architectures=_strings(data, "CompatibleArchitectures", ARCHITECTURES, 2),
        license_info=license_info,
    )
    published = context.layers.publish(draft)
    return json_response(_shape(request, published), status=201)


async def get_layer_version(request: web.Request) -> web.StreamResponse:
    found = ctx(request).layers.get(request.match_info["name"], _version(request))
    return json_response(_shape(request, found))


async def get_layer_version_by_arn(request: web.Request) -> web.StreamResponse:
    if request.query.get("find") != "LayerVersion":
        raise InvalidParameterValue("find must be LayerVersion.")
    arn = request.query.get("Arn", "")
    if not VERSION_ARN.match(arn):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+"
        )
    return json_response(_shape(request, ctx(request).layers.by_arn(arn)))


def _page(request: web.Request, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    try:
        start = int(request.query.get("Marker", "0") or 0)
        size = int(request.query.get("MaxItems", "50") or 50)
    except ValueError:
        raise InvalidParameterValue("Marker and MaxItems must be integers.") from None
    if not 1 <= size <= 50:
        raise InvalidParameterValue("MaxItems must be between 1 and 50.")
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(start + size)
    return page


def _matches(request: web.Request, v: LayerVersion) -> bool:
    runtime = request.query.get("CompatibleRuntime")
    arch = request.query.get("CompatibleArchitecture")
    return (not runtime or runtime in v.compatible_runtimes) and (
        not arch or arch in v.compatible_architectures
    )


async def list_layers(request: web.Request) -> web.StreamResponse:
    layers = ctx(request).layers
    items = []
    for name in layers.names():
        latest = next((v for v in layers.versions(name) if _matches(request, v)), None)
        if latest is not None:
            shape = _shape(request, latest, content=False)
            items.append(
                {
                    "LayerName": name,
                    "LayerArn": shape.pop("LayerArn"),
                    "LatestMatchingVersion": shape,
                }
            )
    return json_response(_page(request, items, "Layers"))


async def list_layer_versions(request: web.Request) -> web.StreamResponse:
    versions = ctx(request).layers.versions(request.match_info["name"])
    items = [_shape(request, v, content=False) for v in versions if _matches(request, v)]
    return json_response(_page(request, items, "LayerVersions"))


async def delete_layer_version(request: web.Request) -> web.StreamResponse:
    ctx(request).layers.delete(request.match_info["name"], _version(request))
    return empty_response(204)


async def add_layer_version_permission(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, version = request.match_info["name"], _version(request)
    data = json_body(request)
    for key in ("StatementId", "Action", "Principal"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise InvalidParameterValue(f"{key} is required.")
    if data["Action"] != "lambda:GetLayerVersion":
        raise InvalidParameterValue("Action must be lambda:GetLayerVersion.")
    found = context.layers.get(name, version)
    statement: dict[str, Any] = {
        "Sid": data["StatementId"],
        "Effect": "Allow",
        "Principal": "*" if data["Principal"] == "*" else {"AWS": f"arn:aws:iam::{data['Principal']}:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": f"{layer_arn(found.region, context.account_id, name)}:{version}",
    }
    if data.get("OrganizationId"):
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": data["OrganizationId"]}}
    context.layers.add_statement(name, version, statement)
    return json_response({"Statement": json.dumps(statement), "RevisionId": new_revision()}, status=201)


async def get_layer_version_policy(request: web.Request) -> web.StreamResponse:
    found = ctx(request).layers.get(request.match_info["name"], _version(request))
    if not found.policy:
        raise ResourceNotFound("No policy is associated with the given resource.")
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": list(found.policy)}
    return json_response({"Policy": json.dumps(policy), "RevisionId": new_revision()})


async def remove_layer_version_permission(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, version, sid = request.match_info["name"], _version(request), request.match_info["sid"]
    found = context.layers.get(name, version)
    kept = tuple(s for s in found.policy if s["Sid"] != sid)
    if len(kept) == len(found.policy):
        raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
    context.layers.set_policy(name, version, kept)
    return empty_response(204)


def register(app: web.Application) -> None:
    r = app.router
    base = "/2018-10-31/layers"
    r.add_get(base, list_layers_or_find)
    r.add_post(base + "/{name}/versions", publish_layer_version)
    r.add_get(base + "/{name}/versions", list_layer_versions)
    r.add_get(base + "/{name}/versions/{version}", get_layer_version)
    r.add_delete(base + "/{name}/versions/{version}", delete_layer_version)
    r.add_post(base + "/{name}/versions/{version}/policy", add_layer_version_permission)
    r.add_get(base + "/{name}/versions/{version}/policy", get_layer_version_policy)
    r.add_delete(base + "/{name}/versions/{version}/policy/{sid}", remove_layer_version_permission)


async def list_layers_or_find(request: web.Request) -> web.StreamResponse:
    """GET /layers is ListLayers, or GetLayerVersionByArn with `?find=LayerVersion`."""
    if "find" in request.query:
        return await get_layer_version_by_arn(request)
    return await list_layers(request)
