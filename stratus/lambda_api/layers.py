"""Lambda REST API: layers (PublishLayerVersion, GetLayerVersion[ByArn], ListLayers,
ListLayerVersions, DeleteLayerVersion, and the layer version permission calls)."""

from __future__ import annotations

import json
from typing import Any

from stratus.control.layers import LayerVersion
from stratus.control.registry import new_revision, now_iso
from stratus.errors import InvalidParameterValue, ResourceNotFound
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import KNOWN_RUNTIMES, code_location, decode_zip, store_code


def layer_arn(region_name: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region_name}:{account}:layer:{name}"


def _layer_name(params: dict[str, Any], region: str) -> str:
    """LayerName is a name or a layer ARN; an ARN is of the request's region, whose layers are
    the only ones this request reaches (each region is its own namespace)."""
    value = str(params["LayerName"])
    if not value.startswith("arn:"):
        return value
    parts = value.split(":")
    if len(parts) != 7 or parts[2] != "lambda" or parts[5] != "layer":
        raise InvalidParameterValue(f"Invalid layer ARN: {value}")
    if parts[3] != region:
        raise ResourceNotFound("The resource you requested does not exist.")
    return parts[6]


def _shape(context: LambdaContext, v: LayerVersion, *, content: bool = True) -> dict[str, Any]:
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
            "Location": code_location(context, v.code_key),
            "CodeSha256": v.code_sha256,
            "CodeSize": v.code_size,
        }
    return shape


def _runtimes(params: dict[str, Any]) -> tuple[str, ...]:
    """The model holds the list to 15 of its runtimes; only the ones Stratus knows are taken."""
    values = params.get("CompatibleRuntimes") or []
    unknown = [v for v in values if v not in KNOWN_RUNTIMES]
    if unknown:
        raise InvalidParameterValue(f"CompatibleRuntimes must be some of: {', '.join(KNOWN_RUNTIMES)}.")
    return tuple(values)


async def publish_layer_version(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    stored = await store_code(context, decode_zip(params["Content"]))
    draft = LayerVersion(
        name=_layer_name(params, region),
        version=0,
        code_key=stored.key,
        code_sha256=stored.sha256_b64,
        code_size=stored.size,
        created=now_iso(),
        region=region,
        description=params.get("Description", ""),
        compatible_runtimes=_runtimes(params),
        compatible_architectures=tuple(params.get("CompatibleArchitectures") or ()),
        license_info=params.get("LicenseInfo"),
    )
    return _shape(context, context.layers.publish(draft))


async def get_layer_version(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return _shape(context, context.layers.get(region, _layer_name(params, region), params["VersionNumber"]))


async def get_layer_version_by_arn(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    found = context.layers.by_arn(params["Arn"])
    if found.region != region:  # a layer is reached only in its own region
        raise ResourceNotFound("The resource you requested does not exist.")
    return _shape(context, found)


def _page(params: dict[str, Any], items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    try:
        start = int(params.get("Marker") or 0)
    except ValueError:
        raise InvalidParameterValue("Marker must be an integer.") from None
    size = params.get("MaxItems", 50)  # the model's range: 1..50
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextMarker"] = str(start + size)
    return page


def _matches(params: dict[str, Any], v: LayerVersion) -> bool:
    runtime = params.get("CompatibleRuntime")
    arch = params.get("CompatibleArchitecture")
    return (not runtime or runtime in v.compatible_runtimes) and (
        not arch or arch in v.compatible_architectures
    )


async def list_layers(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    layers = context.layers
    items = []
    for name in layers.names(region):
        latest = next((v for v in layers.versions(region, name) if _matches(params, v)), None)
        if latest is not None:
            shape = _shape(context, latest, content=False)
            items.append(
                {"LayerName": name, "LayerArn": shape.pop("LayerArn"), "LatestMatchingVersion": shape}
            )
    return _page(params, items, "Layers")


async def list_layer_versions(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    versions = context.layers.versions(region, _layer_name(params, region))
    items = [_shape(context, v, content=False) for v in versions if _matches(params, v)]
    return _page(params, items, "LayerVersions")


async def delete_layer_version(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    context.layers.delete(region, _layer_name(params, region), params["VersionNumber"])
    return {}


async def add_layer_version_permission(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    name, version = _layer_name(params, region), params["VersionNumber"]
    if params["Action"] != "lambda:GetLayerVersion":
        raise InvalidParameterValue("Action must be lambda:GetLayerVersion.")
    found = context.layers.get(region, name, version)
    principal = params["Principal"]
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": f"{layer_arn(found.region, context.account_id, name)}:{version}",
    }
    if params.get("OrganizationId"):
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
    context.layers.add_statement(region, name, version, statement)
    return {"Statement": json.dumps(statement), "RevisionId": new_revision()}


async def get_layer_version_policy(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    found = context.layers.get(region, _layer_name(params, region), params["VersionNumber"])
    if not found.policy:
        raise ResourceNotFound("No policy is associated with the given resource.")
    policy = {"Version": "2012-10-17", "Id": "default", "Statement": list(found.policy)}
    return {"Policy": json.dumps(policy), "RevisionId": new_revision()}


async def remove_layer_version_permission(
    context: LambdaContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    name, version, sid = _layer_name(params, region), params["VersionNumber"], params["StatementId"]
    found = context.layers.get(region, name, version)
    kept = tuple(s for s in found.policy if s["Sid"] != sid)
    if len(kept) == len(found.policy):
        raise ResourceNotFound(f"Statement {sid} is not found in resource policy.")
    context.layers.set_policy(region, name, version, kept)
    return {}
