"""Lambda REST API: function URL configurations (Create/Get/Update/Delete/ListFunctionUrlConfigs).

The URL a configuration returns is built from the Host the client used to reach this server,
so it works as-is from that client.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from stratus.control.arns import function_arn
from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST, FunctionUrl
from stratus.control.registry import now_iso
from stratus.errors import ResourceConflict, ResourceNotFound, ValidationError
from stratus.frontend.context import request_host
from stratus.httpapi import cors
from stratus.httpapi.front import url_path
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.functions import function_ref

_URL_ID_ALPHABET = string.ascii_lowercase + string.digits


def _qualifier(context: LambdaContext, params: dict[str, Any], region: str) -> tuple[FunctionKey, str]:
    key, qualifier = function_ref(context, params, region)
    return key, qualifier or LATEST


def _shape(context: LambdaContext, name: str, url: FunctionUrl, *, modified: bool = True) -> dict[str, Any]:
    qualifier = None if url.qualifier == LATEST else url.qualifier
    shape: dict[str, Any] = {
        # On the host the client reached this server by, so the URL works as-is for it.
        "FunctionUrl": url_path(request_host(context), url.url_id),
        "FunctionArn": function_arn(url.region, context.account_id, name, qualifier),
        "AuthType": url.auth_type,
        "CreationTime": url.creation_time,
        "InvokeMode": url.invoke_mode,
    }
    if url.cors:
        shape["Cors"] = url.cors
    if modified:
        shape["LastModifiedTime"] = url.last_modified
    return shape


def _cors(params: dict[str, Any]) -> dict[str, Any] | None:
    """What the model cannot check of a CORS configuration (origins, methods, header names)."""
    if params.get("Cors") is None:
        return None
    try:
        return cors.validate(params["Cors"], camel=False)
    except ValueError as e:
        raise ValidationError(f"Invalid Cors configuration: {e}.") from None


def _find(context: LambdaContext, key: FunctionKey, qualifier: str) -> FunctionUrl:
    found = context.registry.get(key).urls.get(qualifier)
    if found is None:
        raise ResourceNotFound("The resource you requested does not exist.")
    return found


async def create_url(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualifier(context, params, region)
    rules = _cors(params)
    record = context.registry.get(key)
    if qualifier in record.urls:
        arn = function_arn(region, context.account_id, key.name, None if qualifier == LATEST else qualifier)
        raise ResourceConflict(
            f"Failed to create function url config for [functionArn = {arn}]. "
            "Error message:  FunctionUrlConfig exists for this Lambda function"
        )
    now = now_iso()
    url_id = "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(32))
    mode = params.get("InvokeMode", "BUFFERED")
    url = FunctionUrl(url_id, qualifier, params["AuthType"], now, now, rules, mode, region)
    context.registry.put_url(key, url)
    return _shape(context, key.name, url, modified=False)


async def get_url(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualifier(context, params, region)
    return _shape(context, key.name, _find(context, key, qualifier))


async def update_url(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualifier(context, params, region)
    current = _find(context, key, qualifier)
    changes: dict[str, Any] = {"last_modified": now_iso()}
    if "AuthType" in params:
        changes["auth_type"] = params["AuthType"]
    if "InvokeMode" in params:
        changes["invoke_mode"] = params["InvokeMode"]
    if "Cors" in params:
        changes["cors"] = _cors(params)
    updated = FunctionUrl(**{**current.to_dict(), **changes})
    context.registry.put_url(key, updated)
    return _shape(context, key.name, updated)


async def delete_url(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, qualifier = _qualifier(context, params, region)
    context.registry.delete_url(key, qualifier)
    return {}


async def list_urls(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key, _ = function_ref(context, params, region)
    record = context.registry.get(key)
    items = [_shape(context, key.name, record.urls[q]) for q in sorted(record.urls)]
    try:
        start = int(params.get("Marker") or 0)
    except ValueError:
        raise ValidationError("Marker must be an integer.") from None
    limit = params.get("MaxItems", 50)  # the model's range: 1..50
    page: dict[str, Any] = {"FunctionUrlConfigs": items[start : start + limit]}
    if start + limit < len(items):
        page["NextMarker"] = str(start + limit)
    return page
