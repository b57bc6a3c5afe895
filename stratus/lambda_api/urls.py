"""Lambda REST API: function URL configurations (Create/Get/Update/Delete/ListFunctionUrlConfigs).

The URL a configuration returns is built from the Host the client used to reach this server,
so it works as-is from that client.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from aiohttp import web

from stratus.control.models import LATEST, FunctionUrl
from stratus.control.registry import now_iso
from stratus.errors import ResourceConflict, ResourceNotFound, ValidationError
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body, region
from stratus.httpapi import cors
from stratus.httpapi.front import url_path
from stratus.lambda_api.arns import function_arn
from stratus.lambda_api.functions import function_ref

AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
_URL_ID_ALPHABET = string.ascii_lowercase + string.digits


def _qualifier(request: web.Request) -> tuple[str, str]:
    name, qualifier = function_ref(request)
    return name, qualifier or LATEST


def _shape(request: web.Request, name: str, url: FunctionUrl, *, modified: bool = True) -> dict[str, Any]:
    context = ctx(request)
    host = request.host or f"{context.config.host}:{context.config.port}"
    qualifier = None if url.qualifier == LATEST else url.qualifier
    shape: dict[str, Any] = {
        "FunctionUrl": url_path(host, url.url_id),
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


def _enum(data: dict[str, Any], key: str, member: str, allowed: tuple[str, ...]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if value not in allowed:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return str(value)


def _cors(data: dict[str, Any]) -> dict[str, Any] | None:
    if "Cors" not in data or data["Cors"] is None:
        return None
    try:
        return cors.validate(data["Cors"], camel=False)
    except ValueError as e:
        raise ValidationError(f"Invalid Cors configuration: {e}.") from None


def _find(request: web.Request, name: str, qualifier: str) -> FunctionUrl:
    found = ctx(request).registry.get(name).urls.get(qualifier)
    if found is None:
        raise ResourceNotFound("The resource you requested does not exist.")
    return found


async def create_url(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = _qualifier(request)
    data = json_body(request)
    auth = _enum(data, "AuthType", "authType", AUTH_TYPES)
    if auth is None:
        raise ValidationError(
            "1 validation error detected: Value null at 'authType' failed to satisfy constraint: "
            "Member must not be null"
        )
    mode = _enum(data, "InvokeMode", "invokeMode", INVOKE_MODES) or "BUFFERED"
    rules = _cors(data)
    record = context.registry.get(name)
    if qualifier in record.urls:
        arn = function_arn(
            region(request), context.account_id, name, None if qualifier == LATEST else qualifier
        )
        raise ResourceConflict(
            f"Failed to create function url config for [functionArn = {arn}]. "
            "Error message:  FunctionUrlConfig exists for this Lambda function"
        )
    now = now_iso()
    url_id = "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(32))
    url = FunctionUrl(url_id, qualifier, auth, now, now, rules, mode, region(request))
    context.registry.put_url(name, url)
    return json_response(_shape(request, name, url, modified=False), status=201)


async def get_url(request: web.Request) -> web.StreamResponse:
    name, qualifier = _qualifier(request)
    return json_response(_shape(request, name, _find(request, name, qualifier)))


async def update_url(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = _qualifier(request)
    current = _find(request, name, qualifier)
    data = json_body(request)
    changes: dict[str, Any] = {"last_modified": now_iso()}
    auth = _enum(data, "AuthType", "authType", AUTH_TYPES)
    if auth is not None:
        changes["auth_type"] = auth
    mode = _enum(data, "InvokeMode", "invokeMode", INVOKE_MODES)
    if mode is not None:
        changes["invoke_mode"] = mode
    if "Cors" in data:
        changes["cors"] = _cors(data)
    updated = FunctionUrl(**{**current.to_dict(), **changes})
    context.registry.put_url(name, updated)
    return json_response(_shape(request, name, updated))


async def delete_url(request: web.Request) -> web.StreamResponse:
    name, qualifier = _qualifier(request)
    ctx(request).registry.delete_url(name, qualifier)
    return empty_response(204)


async def list_urls(request: web.Request) -> web.StreamResponse:
    name, _ = function_ref(request)
    record = ctx(request).registry.get(name)
    items = [_shape(request, name, record.urls[q]) for q in sorted(record.urls)]
    try:
        start = int(request.query.get("Marker", "0") or 0)
        limit = int(request.query.get("MaxItems", "50") or 50)
    except ValueError:
        raise ValidationError("Marker and MaxItems must be integers.") from None
    if not 1 <= limit <= 50:
        raise ValidationError(
            f"1 validation error detected: Value '{limit}' at 'maxItems' failed to satisfy "
            "constraint: Member must have value between 1 and 50"
        )
    page: dict[str, Any] = {"FunctionUrlConfigs": items[start : start + limit]}
    if start + limit < len(items):
        page["NextMarker"] = str(start + limit)
    return json_response(page)
