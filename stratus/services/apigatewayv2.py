"""API Gateway v2 (HTTP APIs) control API: the operations `boto3.client("apigatewayv2")` uses to
create APIs, routes, Lambda proxy integrations, stages and deployments, declared once
(`SERVICE`) and served by the gateway in rest-json from botocore's model.

The model checks at the edge what it can (required members, types, enums, TimeoutInMillis's
50..30000); the handlers keep what it cannot: HTTP APIs only (no WEBSOCKET), Lambda proxy
integrations only, route keys, CORS values, stage names, page tokens."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from stratus.errors import BadRequest
from stratus.frontend.context import request_host
from stratus.httpapi import cors, routing
from stratus.httpapi.apis import DEFAULT_STAGE, HttpApis, function_of
from stratus.httpapi.front import api_endpoint
from stratus.httpapi.models import Api, Integration, Route, Stage, new_id, now_iso, wire
from stratus.wire.models import service_model
from stratus.wire.rest_routes import NoRoute
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing


@dataclass(frozen=True)
class ApiGatewayContext:
    """What the API Gateway handlers read: the HTTP APIs, and the host (and port) this server
    is configured on, for an ApiEndpoint outside a request that sent a Host."""

    apis: HttpApis
    configured_host: str


PAYLOAD_VERSIONS = ("1.0", "2.0")
ROUTE_AUTH = ("NONE",)
Params = dict[str, Any]
Result = dict[str, Any]


@cache
def _names(shape: str) -> dict[str, str]:
    """The model's member names of `shape` by their wire names (`apiId` -> `ApiId`)."""
    members = service_model("apigatewayv2").shape_for(shape).members  # type: ignore[attr-defined]
    return {m.serialization.get("name", n): n for n, m in members.items()}


def _shaped(record: Any, shape: str) -> Result:
    """A record (its fields in the API's camelCase wire names) as boto3 returns it."""
    names = _names(shape)
    return {names[k]: v for k, v in wire(record).items() if k in names}


def _api(context: ApiGatewayContext, api: Api) -> Result:
    shape = _shaped(api, "Api")
    shape["ApiEndpoint"] = api_endpoint(request_host(context), api.apiId)
    shape["RouteSelectionExpression"] = "$request.method $request.path"
    shape["ApiKeySelectionExpression"] = "$request.header.x-api-key"
    return shape


def _page(items: list[Result], params: Params) -> Result:
    # The model types both as strings; that they hold numbers is this API's own rule.
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 100)
    except ValueError:
        raise BadRequest("nextToken and maxResults must be integers.") from None
    page: Result = {"Items": items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _was(current: Any, field: str) -> Any:
    """A field of the record being updated (None when creating)."""
    return getattr(current, field) if current is not None else None


def _given_or_kept(params: Params, key: str, current: Any, field: str) -> Any:
    """An optional member: the request's value if it names one, else the current one."""
    return params[key] if key in params else _was(current, field)


def _cors(params: Params) -> dict[str, Any] | None:
    if params.get("CorsConfiguration") is None:
        return None
    try:  # the values the model cannot check: methods, empty strings
        return cors.validate(params["CorsConfiguration"], camel=False)
    except ValueError as e:
        raise BadRequest(f"Invalid corsConfiguration: {e}.") from None


# -- APIs ----------------------------------------------------------------------------------------


async def create_api(context: ApiGatewayContext, params: Params, region: str) -> Result:
    if params["ProtocolType"] != "HTTP":
        raise BadRequest(f"protocolType {params['ProtocolType']} is not supported here; only HTTP APIs are.")
    api = Api(
        apiId=new_id(10),
        name=params["Name"],
        createdDate=now_iso(),
        description=params.get("Description"),
        version=params.get("Version"),
        corsConfiguration=_cors(params),
        disableExecuteApiEndpoint=params.get("DisableExecuteApiEndpoint", False),
        tags=dict(params.get("Tags") or {}),
        region=region,  # its namespace: listed, read and changed in this region only
    )
    if "Target" in params:
        api = _quick_create(api, params["Target"], params.get("RouteKey") or "$default")
    elif "RouteKey" in params:
        raise BadRequest("routeKey is only for quick create, together with target.")
    context.apis.create_api(api)
    return _api(context, api)


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


async def get_apis(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _page([_api(context, a) for a in context.apis.list(region)], params)


async def get_api(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _api(context, context.apis.get(region, params["ApiId"]))


async def update_api(context: ApiGatewayContext, params: Params, region: str) -> Result:
    fields = {"Name": "name", "Description": "description", "Version": "version"}
    changes: dict[str, Any] = {field: params[key] for key, field in fields.items() if key in params}
    if "CorsConfiguration" in params:
        changes["corsConfiguration"] = _cors(params)
    if "DisableExecuteApiEndpoint" in params:
        changes["disableExecuteApiEndpoint"] = params["DisableExecuteApiEndpoint"]
    return _api(context, context.apis.update_api(region, params["ApiId"], **changes))


async def delete_api(context: ApiGatewayContext, params: Params, region: str) -> Result:
    context.apis.delete_api(region, params["ApiId"])
    return {}


# -- routes --------------------------------------------------------------------------------------


def _route(params: Params, current: Route | None) -> Route:
    auth = params.get("AuthorizationType") or (_was(current, "authorizationType") or "NONE")
    if auth not in ROUTE_AUTH:
        raise BadRequest(f"authorizationType {auth} is not supported here; use NONE.")
    return Route(
        routeId=_was(current, "routeId") or new_id(7),
        routeKey=params.get("RouteKey") or _was(current, "routeKey"),  # CreateRoute's is required
        target=_given_or_kept(params, "Target", current, "target"),
        authorizationType=auth,
        apiKeyRequired=_given_or_kept(params, "ApiKeyRequired", current, "apiKeyRequired") or False,
        operationName=_given_or_kept(params, "OperationName", current, "operationName"),
    )


async def create_route(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _shaped(context.apis.put_route(region, params["ApiId"], _route(params, None)), "Route")


async def get_routes(context: ApiGatewayContext, params: Params, region: str) -> Result:
    api = context.apis.get(region, params["ApiId"])
    return _page([_shaped(r, "Route") for r in api.routes.values()], params)


async def get_route(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _shaped(context.apis.route(region, params["ApiId"], params["RouteId"]), "Route")


async def update_route(context: ApiGatewayContext, params: Params, region: str) -> Result:
    current = context.apis.route(region, params["ApiId"], params["RouteId"])
    return _shaped(context.apis.put_route(region, params["ApiId"], _route(params, current)), "Route")


async def delete_route(context: ApiGatewayContext, params: Params, region: str) -> Result:
    context.apis.delete_route(region, params["ApiId"], params["RouteId"])
    return {}


# -- integrations --------------------------------------------------------------------------------


def _integration(params: Params, current: Integration | None) -> Integration:
    kind = params.get("IntegrationType") or _was(current, "integrationType")
    if kind != "AWS_PROXY":
        raise BadRequest(
            f"integrationType {kind} is not supported here; use AWS_PROXY with a Lambda function."
        )
    uri = params.get("IntegrationUri") or _was(current, "integrationUri")
    if uri is None or function_of(uri) is None:
        raise BadRequest(
            f"Invalid integrationUri {uri}: an AWS_PROXY integration needs a Lambda function ARN."
        )
    version = params.get("PayloadFormatVersion") or _was(current, "payloadFormatVersion")
    if version not in PAYLOAD_VERSIONS:
        raise BadRequest("payloadFormatVersion must be 1.0 or 2.0 for a Lambda proxy integration.")
    return Integration(
        integrationId=_was(current, "integrationId") or new_id(7),
        integrationType=kind,
        integrationUri=uri,
        payloadFormatVersion=version,
        integrationMethod=params.get("IntegrationMethod") or "POST",
        timeoutInMillis=params.get("TimeoutInMillis", _was(current, "timeoutInMillis") or 30000),
        description=_given_or_kept(params, "Description", current, "description"),
    )


async def create_integration(context: ApiGatewayContext, params: Params, region: str) -> Result:
    created = context.apis.put_integration(region, params["ApiId"], _integration(params, None))
    return _shaped(created, "Integration")


async def get_integrations(context: ApiGatewayContext, params: Params, region: str) -> Result:
    api = context.apis.get(region, params["ApiId"])
    return _page([_shaped(i, "Integration") for i in api.integrations.values()], params)


async def get_integration(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _shaped(context.apis.integration(region, params["ApiId"], params["IntegrationId"]), "Integration")


async def update_integration(context: ApiGatewayContext, params: Params, region: str) -> Result:
    current = context.apis.integration(region, params["ApiId"], params["IntegrationId"])
    updated = context.apis.put_integration(region, params["ApiId"], _integration(params, current))
    return _shaped(updated, "Integration")


async def delete_integration(context: ApiGatewayContext, params: Params, region: str) -> Result:
    context.apis.delete_integration(region, params["ApiId"], params["IntegrationId"])
    return {}


# -- stages and deployments ----------------------------------------------------------------------


def _stage(params: Params, current: Stage | None) -> Stage:
    now = now_iso()
    return Stage(
        stageName=_was(current, "stageName") or params["StageName"],
        createdDate=_was(current, "createdDate") or now,
        lastUpdatedDate=now,
        autoDeploy=_given_or_kept(params, "AutoDeploy", current, "autoDeploy") or False,
        description=_given_or_kept(params, "Description", current, "description"),
        stageVariables=dict(_given_or_kept(params, "StageVariables", current, "stageVariables") or {}),
        deploymentId=params.get("DeploymentId") or _was(current, "deploymentId"),
        tags=dict(_given_or_kept(params, "Tags", current, "tags") or {}),
    )


async def create_stage(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _shaped(
        context.apis.put_stage(region, params["ApiId"], _stage(params, None), create=True), "Stage"
    )


async def get_stages(context: ApiGatewayContext, params: Params, region: str) -> Result:
    api = context.apis.get(region, params["ApiId"])
    return _page([_shaped(s, "Stage") for s in api.stages.values()], params)


async def get_stage(context: ApiGatewayContext, params: Params, region: str) -> Result:
    return _shaped(context.apis.stage(region, params["ApiId"], params["StageName"]), "Stage")


async def update_stage(context: ApiGatewayContext, params: Params, region: str) -> Result:
    current = context.apis.stage(region, params["ApiId"], params["StageName"])
    updated = context.apis.put_stage(region, params["ApiId"], _stage(params, current), create=False)
    return _shaped(updated, "Stage")


async def delete_stage(context: ApiGatewayContext, params: Params, region: str) -> Result:
    context.apis.delete_stage(region, params["ApiId"], params["StageName"])
    return {}


async def create_deployment(context: ApiGatewayContext, params: Params, region: str) -> Result:
    deployment = context.apis.create_deployment(
        region, params["ApiId"], params.get("Description"), params.get("StageName")
    )
    return _shaped(deployment, "Deployment")


async def get_deployments(context: ApiGatewayContext, params: Params, region: str) -> Result:
    api = context.apis.get(region, params["ApiId"])
    return _page([_shaped(d, "Deployment") for d in api.deployments.values()], params)


# -- the declaration -----------------------------------------------------------------------------


def _authorization(operation: str) -> Authorization:
    """API Gateway's IAM model: the action is the HTTP method (`apigateway:PATCH`) and the
    resource the path without its version (`arn:aws:apigateway:REGION::/apis/ID/routes/ID`),
    both from the operation's HTTP binding in the model."""
    model = service_model("apigatewayv2").operation_model(operation)
    method, template = model.http["method"], model.http["requestUri"].partition("?")[0].removeprefix("/v2")
    members = model.input_shape.members if model.input_shape is not None else {}
    labels = {m.serialization.get("name", n): n for n, m in members.items()}

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        path = template
        for wire_name, name in labels.items():
            path = path.replace("{" + wire_name + "}", str(params.get(name, "*")))
        return f"apigateway:{method}", f"arn:aws:apigateway:{region}::{path}"

    return authorize


HANDLERS: dict[str, Handler[ApiGatewayContext]] = {
    "CreateApi": create_api,
    "GetApis": get_apis,
    "GetApi": get_api,
    "UpdateApi": update_api,
    "DeleteApi": delete_api,
    "CreateRoute": create_route,
    "GetRoutes": get_routes,
    "GetRoute": get_route,
    "UpdateRoute": update_route,
    "DeleteRoute": delete_route,
    "CreateIntegration": create_integration,
    "GetIntegrations": get_integrations,
    "GetIntegration": get_integration,
    "UpdateIntegration": update_integration,
    "DeleteIntegration": delete_integration,
    "CreateStage": create_stage,
    "GetStages": get_stages,
    "GetStage": get_stage,
    "UpdateStage": update_stage,
    "DeleteStage": delete_stage,
    "CreateDeployment": create_deployment,
    "GetDeployments": get_deployments,
}

SERVICE = Service[ApiGatewayContext](
    model="apigatewayv2",
    signing=Signing("apigateway", paths=("/v2/",)),
    handlers=HANDLERS,
    validation_error="BadRequestException",
    protocols=("rest-json",),
    no_route=NoRoute("NotFoundException", 404, "Invalid request path: {method} {path}"),
    authorization={name: _authorization(name) for name in HANDLERS},
)
