"""API Gateway v2 (HTTP APIs) control API: the REST-JSON subset `boto3.client("apigatewayv2")`
uses to create APIs, routes, Lambda proxy integrations, stages and deployments."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from stratus.errors import BadRequest
from stratus.gateway.responses import empty_response, json_response
from stratus.gateway.server import ctx, json_body
from stratus.httpapi import cors, routing
from stratus.httpapi.apis import DEFAULT_STAGE, HttpApis, function_of
from stratus.httpapi.front import api_endpoint
from stratus.httpapi.models import Api, Integration, Route, Stage, new_id, now_iso, wire
from stratus.wire.signing import Signing

APIS = "/v2/apis"
API = APIS + "/{api_id}"
SIGNING = Signing("apigateway", paths=("/v2/",))
PAYLOAD_VERSIONS = ("1.0", "2.0")
ROUTE_AUTH = ("NONE",)


def _apis(request: web.Request) -> HttpApis:
    return ctx(request).apis


def _api_shape(request: web.Request, api: Api) -> dict[str, Any]:
    shape = wire(api)
    context = ctx(request)
    shape["apiEndpoint"] = api_endpoint(
        request.host or f"{context.config.host}:{context.config.port}", api.apiId
    )
    shape["routeSelectionExpression"] = "$request.method $request.path"
    shape["apiKeySelectionExpression"] = "$request.header.x-api-key"
    if api.corsConfiguration:
        shape["corsConfiguration"] = cors.to_camel(api.corsConfiguration)
    return shape


def _page(items: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
    try:
        start = int(request.query.get("nextToken", "0") or 0)
        size = int(request.query.get("maxResults", "100") or 100)
    except ValueError:
        raise BadRequest("nextToken and maxResults must be integers.") from None
    page: dict[str, Any] = {"items": items[start : start + size]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page


def _text(data: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required.")
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string.")
    return value


def _was(current: Any, field: str) -> Any:
    """A field of the record being updated (None when creating)."""
    return getattr(current, field) if current is not None else None


def _given_or_kept(data: dict[str, Any], key: str, current: Any) -> str | None:
    """An optional text field: the request's value if it names one, else the current one."""
    return _text(data, key) if key in data else _was(current, key)


def _cors(data: dict[str, Any]) -> dict[str, Any] | None:
    if data.get("corsConfiguration") is None:
        return None
    try:
        return cors.validate(data["corsConfiguration"], camel=True)
    except ValueError as e:
        raise BadRequest(f"Invalid corsConfiguration: {e}.") from None


def _tags(data: dict[str, Any]) -> dict[str, str]:
    tags = data.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise BadRequest("tags must map strings to strings.")
    return dict(tags)


# -- APIs ----------------------------------------------------------------------------------------


async def create_api(request: web.Request) -> web.StreamResponse:
    data = json_body(request)
    name = _text(data, "name", required=True)
    protocol = _text(data, "protocolType", required=True)
    if protocol != "HTTP":
        raise BadRequest(f"protocolType {protocol} is not supported here; only HTTP APIs are.")
    api = Api(
        apiId=new_id(10),
        name=name or "",
        createdDate=now_iso(),
        description=_text(data, "description"),
        version=_text(data, "version"),
        corsConfiguration=_cors(data),
        disableExecuteApiEndpoint=bool(data.get("disableExecuteApiEndpoint", False)),
        tags=_tags(data),
    )
    target = _text(data, "target")
    if target is not None:
        api = _quick_create(api, target, _text(data, "routeKey") or "$default")
    elif data.get("routeKey") is not None:
        raise BadRequest("routeKey is only for quick create, together with target.")
    _apis(request).create_api(api)
    return json_response(_api_shape(request, api), status=201)


def _quick_create(api: Api, target: str, route_key: str) -> Api:
    """An integration with the target, one route to it, and an auto-deployed $default stage."""
    if function_of(target) is None:
        raise BadRequest(f"Invalid target {target}: quick create needs a Lambda function ARN.")
    try:
        routing.parse(route_key)
    except routing.BadRouteKey as e:
        raise BadRequest(str(e)) from None
    integration = Integration(new_id(7), "AWS_PROXY", target, "2.0", apiGatewayManaged=True)
    route = Route(new_id(7), route_key, f"integrations/{integration.integrationId}", apiGatewayManaged=True)
    now = now_iso()
    stage = Stage(DEFAULT_STAGE, now, now, autoDeploy=True, apiGatewayManaged=True)
    return api.replace(
        integrations={integration.integrationId: integration},
        routes={route.routeId: route},
        stages={DEFAULT_STAGE: stage},
    )


async def get_apis(request: web.Request) -> web.StreamResponse:
    return json_response(_page([_api_shape(request, a) for a in _apis(request).list()], request))


async def get_api(request: web.Request) -> web.StreamResponse:
    return json_response(_api_shape(request, _apis(request).get(request.match_info["api_id"])))


async def update_api(request: web.Request) -> web.StreamResponse:
    data = json_body(request)
    changes: dict[str, Any] = {}
    for key in ("name", "description", "version"):
        if key in data:
            changes[key] = _text(data, key)
    if "corsConfiguration" in data:
        changes["corsConfiguration"] = _cors(data)
    if "disableExecuteApiEndpoint" in data:
        changes["disableExecuteApiEndpoint"] = bool(data["disableExecuteApiEndpoint"])
    api = _apis(request).update_api(request.match_info["api_id"], **changes)
    return json_response(_api_shape(request, api))


async def delete_api(request: web.Request) -> web.StreamResponse:
    _apis(request).delete_api(request.match_info["api_id"])
    return empty_response(204)


# -- routes --------------------------------------------------------------------------------------


def _route(data: dict[str, Any], current: Route | None) -> Route:
    key = _text(data, "routeKey", required=current is None) or (_was(current, "routeKey") or "")
    auth = _text(data, "authorizationType") or (_was(current, "authorizationType") or "NONE")
    if auth not in ROUTE_AUTH:
        raise BadRequest(f"authorizationType {auth} is not supported here; use NONE.")
    return Route(
        routeId=_was(current, "routeId") or new_id(7),
        routeKey=key,
        target=_given_or_kept(data, "target", current),
        authorizationType=auth,
        apiKeyRequired=bool(data.get("apiKeyRequired", _was(current, "apiKeyRequired") or False)),
        operationName=_given_or_kept(data, "operationName", current),
    )


async def create_route(request: web.Request) -> web.StreamResponse:
    route = _apis(request).put_route(request.match_info["api_id"], _route(json_body(request), None))
    return json_response(wire(route), status=201)


async def get_routes(request: web.Request) -> web.StreamResponse:
    api = _apis(request).get(request.match_info["api_id"])
    return json_response(_page([wire(r) for r in api.routes.values()], request))


async def get_route(request: web.Request) -> web.StreamResponse:
    return json_response(
        wire(_apis(request).route(request.match_info["api_id"], request.match_info["route_id"]))
    )


async def update_route(request: web.Request) -> web.StreamResponse:
    api_id, route_id = request.match_info["api_id"], request.match_info["route_id"]
    current = _apis(request).route(api_id, route_id)
    route = _apis(request).put_route(api_id, _route(json_body(request), current))
    return json_response(wire(route))


async def delete_route(request: web.Request) -> web.StreamResponse:
    _apis(request).delete_route(request.match_info["api_id"], request.match_info["route_id"])
    return empty_response(204)


# -- integrations --------------------------------------------------------------------------------


def _integration(data: dict[str, Any], current: Integration | None) -> Integration:
    kind = _text(data, "integrationType", required=current is None) or (
        _was(current, "integrationType") or ""
    )
    if kind != "AWS_PROXY":
        raise BadRequest(
            f"integrationType {kind} is not supported here; use AWS_PROXY with a Lambda function."
        )
    uri = _text(data, "integrationUri") or _was(current, "integrationUri")
    if uri is None or function_of(uri) is None:
        raise BadRequest(
            f"Invalid integrationUri {uri}: an AWS_PROXY integration needs a Lambda function ARN."
        )
    version = _text(data, "payloadFormatVersion") or _was(current, "payloadFormatVersion")
    if version not in PAYLOAD_VERSIONS:
        raise BadRequest("payloadFormatVersion must be 1.0 or 2.0 for a Lambda proxy integration.")
    timeout = data.get("timeoutInMillis", _was(current, "timeoutInMillis") or 30000)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 50 <= timeout <= 30000:
        raise BadRequest("timeoutInMillis must be between 50 and 30000 for HTTP APIs.")
    return Integration(
        integrationId=_was(current, "integrationId") or new_id(7),
        integrationType=kind,
        integrationUri=uri,
        payloadFormatVersion=version,
        integrationMethod=_text(data, "integrationMethod") or "POST",
        timeoutInMillis=timeout,
        description=_given_or_kept(data, "description", current),
    )


async def create_integration(request: web.Request) -> web.StreamResponse:
    created = _apis(request).put_integration(
        request.match_info["api_id"], _integration(json_body(request), None)
    )
    return json_response(wire(created), status=201)


async def get_integrations(request: web.Request) -> web.StreamResponse:
    api = _apis(request).get(request.match_info["api_id"])
    return json_response(_page([wire(i) for i in api.integrations.values()], request))


async def get_integration(request: web.Request) -> web.StreamResponse:
    found = _apis(request).integration(request.match_info["api_id"], request.match_info["integration_id"])
    return json_response(wire(found))


async def update_integration(request: web.Request) -> web.StreamResponse:
    api_id = request.match_info["api_id"]
    current = _apis(request).integration(api_id, request.match_info["integration_id"])
    updated = _apis(request).put_integration(api_id, _integration(json_body(request), current))
    return json_response(wire(updated))


async def delete_integration(request: web.Request) -> web.StreamResponse:
    _apis(request).delete_integration(request.match_info["api_id"], request.match_info["integration_id"])
    return empty_response(204)


# -- stages and deployments ----------------------------------------------------------------------


def _stage(data: dict[str, Any], current: Stage | None) -> Stage:
    variables = data.get("stageVariables", _was(current, "stageVariables") or {}) or {}
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise BadRequest("stageVariables must map strings to strings.")
    now = now_iso()
    return Stage(
        stageName=_was(current, "stageName") or (_text(data, "stageName", required=True) or ""),
        createdDate=_was(current, "createdDate") or now,
        lastUpdatedDate=now,
        autoDeploy=bool(data.get("autoDeploy", _was(current, "autoDeploy") or False)),
        description=_given_or_kept(data, "description", current),
        stageVariables=dict(variables),
        deploymentId=_text(data, "deploymentId") or _was(current, "deploymentId"),
        tags=_tags(data) if "tags" in data else (_was(current, "tags") or {}),
    )


async def create_stage(request: web.Request) -> web.StreamResponse:
    stage = _apis(request).put_stage(
        request.match_info["api_id"], _stage(json_body(request), None), create=True
    )
    return json_response(wire(stage), status=201)


async def get_stages(request: web.Request) -> web.StreamResponse:
    api = _apis(request).get(request.match_info["api_id"])
    return json_response(_page([wire(s) for s in api.stages.values()], request))


async def get_stage(request: web.Request) -> web.StreamResponse:
    return json_response(
        wire(_apis(request).stage(request.match_info["api_id"], request.match_info["stage"]))
    )


async def update_stage(request: web.Request) -> web.StreamResponse:
    api_id = request.match_info["api_id"]
    current = _apis(request).stage(api_id, request.match_info["stage"])
    return json_response(
        wire(_apis(request).put_stage(api_id, _stage(json_body(request), current), create=False))
    )


async def delete_stage(request: web.Request) -> web.StreamResponse:
    _apis(request).delete_stage(request.match_info["api_id"], request.match_info["stage"])
    return empty_response(204)


async def create_deployment(request: web.Request) -> web.StreamResponse:
    data = json_body(request)
    deployment = _apis(request).create_deployment(
        request.match_info["api_id"], _text(data, "description"), _text(data, "stageName")
    )
    return json_response(wire(deployment), status=201)


async def get_deployments(request: web.Request) -> web.StreamResponse:
    api = _apis(request).get(request.match_info["api_id"])
    return json_response(_page([wire(d) for d in api.deployments.values()], request))


def register(app: web.Application) -> None:
    r = app.router
    r.add_post(APIS, create_api)
    r.add_get(APIS, get_apis)
    r.add_get(API, get_api)
    r.add_patch(API, update_api)
    r.add_delete(API, delete_api)
    r.add_post(API + "/routes", create_route)
    r.add_get(API + "/routes", get_routes)
    r.add_get(API + "/routes/{route_id}", get_route)
    r.add_patch(API + "/routes/{route_id}", update_route)
    r.add_delete(API + "/routes/{route_id}", delete_route)
    r.add_post(API + "/integrations", create_integration)
    r.add_get(API + "/integrations", get_integrations)
    r.add_get(API + "/integrations/{integration_id}", get_integration)
    r.add_patch(API + "/integrations/{integration_id}", update_integration)
    r.add_delete(API + "/integrations/{integration_id}", delete_integration)
    r.add_post(API + "/stages", create_stage)
    r.add_get(API + "/stages", get_stages)
    r.add_get(API + "/stages/{stage}", get_stage)
    r.add_patch(API + "/stages/{stage}", update_stage)
    r.add_delete(API + "/stages/{stage}", delete_stage)
    r.add_post(API + "/deployments", create_deployment)
    r.add_get(API + "/deployments", get_deployments)
