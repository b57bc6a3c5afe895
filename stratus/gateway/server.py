"""The one HTTP front door: route, authenticate (SigV4), and map errors once.

Routing: the Lambda REST API by its dated paths; JSON-protocol services by `X-Amz-Target`;
`/_stratus/` for Stratus's own endpoints. Every API request must carry a valid SigV4 signature.
The dashboard is not served here but on a port of its own (stratus/dashboard/pages.py), so that
no function's response shares its origin; this port only points browsers there.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from stratus.config import Config, Credentials
from stratus.control.codestore import CodeStore
from stratus.control.layers import Layers
from stratus.control.registry import Registry
from stratus.dashboard.auth import Sessions
from stratus.errors import (
    InvalidAction,
    InvalidQueryParameter,
    InvalidRequestContent,
    RequestTooLarge,
    StratusError,
    UnknownOperation,
)
from stratus.events.rules import Rules
from stratus.gateway import authn, connections
from stratus.gateway import query_protocol as query
from stratus.gateway.responses import (
    error_response,
    incident_error,
    json_response,
    query_error_response,
    unexpected_error_response,
)
from stratus.httpapi.apis import HttpApis
from stratus.httpapi.front import API_PREFIX, URL_PREFIX, Front
from stratus.invoke.async_queue import AsyncInvoker
from stratus.invoke.service import InvokeService
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Metrics
from stratus.runtimes.kinds import Runtimes

# Large enough for a 50 MB zip sent base64-encoded inside JSON.
MAX_REQUEST_BYTES = 75 * 1024 * 1024
# Paths without SigV4: health, the pointer to the dashboard's port, and the Prometheus scrape,
# which checks its own setting (public, a bearer token, or SigV4: services/metering.py).
PUBLIC_PREFIXES = ("/_stratus/health", "/_stratus/code/")
PUBLIC_PATHS = ("/_stratus/", "/_stratus", "/_stratus/metrics")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonOperation = Callable[["ApiContext", dict[str, Any], str], Awaitable[dict[str, Any]]]


@dataclass
class ApiContext:
    config: Config
    credentials: Credentials
    registry: Registry
    code: CodeStore
    invoker: InvokeService
    logs: LogStore
    runtimes: Runtimes
    async_invoker: AsyncInvoker
    rules: Rules
    json_services: dict[str, dict[str, JsonOperation]]
    apis: HttpApis
    front: Front
    layers: Layers
    metrics: Metrics
    dashboard: Sessions  # the dashboard's logins
    # Query-protocol services by the name requests are signed for: (XML namespace, operations).
    query_services: dict[str, tuple[str, dict[str, JsonOperation]]] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.config.account_id


CTX = web.AppKey("ctx", ApiContext)


def ctx(request: web.Request) -> ApiContext:
    return request.app[CTX]


def region(request: web.Request) -> str:
    return str(request["region"])


def body(request: web.Request) -> bytes:
    return bytes(request["body"])


def json_body(request: web.Request) -> dict[str, Any]:
    raw = body(request)
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestContent(
            "Could not parse request body into json: Could not parse payload into json: "
            "Unexpected character. Check the request body and try again."
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequestContent("The request body must be a JSON object.")
    return parsed


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    front = ctx(request).front
    if front.claims(request.raw_path, request.host):
        # Function URLs and HTTP APIs: answered here, each authenticated (or not) by its
        # own configuration rather than by the SigV4 check below.
        return await mapped_errors(request, front.handle)
    return await mapped_errors(request, handler)


@web.middleware
async def mapped_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The handler's answer, with any error mapped to AWS's shape (the dashboard's port uses
    this alone: nothing there is routed to a function)."""
    try:
        return await handler(request)
    except StratusError as e:
        return error_response(e)
    except web.HTTPRequestEntityTooLarge:
        return error_response(RequestTooLarge(f"Request must be smaller than {MAX_REQUEST_BYTES} bytes."))
    except web.HTTPException as e:
        if e.status == 404:
            return error_response(UnknownOperation(f"No operation matches {request.method} {request.path}."))
        if e.status == 405:
            return error_response(UnknownOperation(f"{request.method} is not supported on {request.path}."))
        raise
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return unexpected_error_response(e)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    context = ctx(request)
    if request.path.startswith(PUBLIC_PREFIXES) or request.path in PUBLIC_PATHS:
        return await handler(request)
    raw = await request.read()
    identity = authn.verify(request, raw, context.credentials)
    request["region"] = identity.region
    request["service"] = identity.service
    request["body"] = raw
    return await handler(request)


async def json_protocol(request: web.Request) -> web.StreamResponse:
    """JSON-protocol services, dispatched by `X-Amz-Target: Prefix.Operation`; a form without
    that header is a query-protocol request, dispatched by the service it was signed for."""
    if "X-Amz-Target" not in request.headers and request.content_type == "application/x-www-form-urlencoded":
        return await query_protocol(request)
    target = request.headers.get("X-Amz-Target", "")
    prefix, _, operation = target.partition(".")
    context = ctx(request)
    service = context.json_services.get(prefix)
    if service is None or operation not in service:
        raise UnknownOperation(f"Unknown operation {target or '(no X-Amz-Target)'}.")
    result = await service[operation](context, json_body(request), region(request))
    return json_response(result, content_type="application/x-amz-json-1.1")


async def query_protocol(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    request_id = str(uuid.uuid4())
    service = context.query_services.get(str(request["service"]))
    try:
        try:
            pairs = parse_qsl(body(request).decode(), keep_blank_values=True, strict_parsing=False)
            action, params = query.parse_form(pairs)
        except (UnicodeDecodeError, query.QueryError) as e:
            raise InvalidQueryParameter(
                str(e) if isinstance(e, query.QueryError) else "The form is not UTF-8."
            ) from None
        if service is None or action not in service[1]:
            raise InvalidAction(f"The action {action or '(none)'} is not valid for this web service.")
        namespace, operations = service
        result = await operations[action](context, params, region(request))
    except StratusError as e:
        return query_error_response(e, request_id)
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return query_error_response(incident_error(e), request_id)
    return web.Response(
        body=query.to_xml(action, namespace, result, request_id),
        content_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )


async def health(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


def build_app(context: ApiContext, register: list[Callable[[web.Application], None]]) -> web.Application:
    app = web.Application(
        # track_answers first: a connection is busy for as long as any middleware works on its request.
        middlewares=[connections.track_answers, errors_middleware, auth_middleware],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[CTX] = context
    app.router.add_get("/_stratus/health", health)
    app.router.add_post("/", json_protocol)
    # The front answers these before routing completes (see auth_middleware); the routes only
    # spare the router a miss per request.
    for prefix in (URL_PREFIX, API_PREFIX):
        app.router.add_route("*", prefix + "{tail:.*}", context.front.handle)
    for add_routes in register:
        add_routes(app)
    return app
