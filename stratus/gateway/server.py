"""The one HTTP front door: route, authenticate (SigV4), and map errors once.

Routing: the declared services (`wire.service.Service`) at `POST /` by `X-Amz-Target` (JSON
protocol) or by a form signed for them (query protocol), and the REST ones (rest-json, rest-xml)
under their signing declaration's path prefixes, each dispatched from its declaration by
`wire.dispatch`; the Lambda REST API by its dated paths; `/_stratus/` for Stratus's own
endpoints; S3 (signed for `s3`, or addressed to a bucket's host) by `buckets.front`, before
its body is read, so that objects stream. Every API request must carry a valid SigV4 signature.
The dashboard is not served here but on a port of its own (stratus/dashboard/pages.py), so that
no function's response shares its origin; this port only points browsers there.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web
from multidict import CIMultiDict

from stratus import lean_routes as lean
from stratus.buckets import front as s3_front
from stratus.buckets import http_rules
from stratus.errors import (
    InvalidAction,
    RequestTooLarge,
    StratusError,
    UnknownOperation,
)
from stratus.frontend.context import CTX, HOST, ApiContext, ctx
from stratus.frontend.responses import (
    error_response,
    incident_error,
    json_response,
    unexpected_error_response,
)
from stratus.gateway import connections
from stratus.identity.guard import CALLER, guard
from stratus.identity.keyring import Caller
from stratus.wire import authn, sigv4
from stratus.wire.dispatch import dispatch, for_protocol, protocol_for, wire_error
from stratus.wire.json_protocol import JsonProtocol
from stratus.wire.models import service_model
from stratus.wire.query_protocol import QueryProtocol
from stratus.wire.rest_json import RestJsonProtocol
from stratus.wire.rest_xml import RestXmlProtocol
from stratus.wire.service import Service
from stratus.wire.signing import Signing, reached
from stratus.wire.types import WireProtocol, WireRequest, WireResponse

# Large enough for a 50 MB zip sent base64-encoded inside JSON.
MAX_REQUEST_BYTES = 75 * 1024 * 1024
# Paths without SigV4: health, the pointer to the dashboard's port, and the Prometheus scrape,
# which checks its own setting (public, a bearer token, or SigV4: services/metering.py).
# S3 event webhooks from other stores check their own bearer token (buckets/webhook.py).
PUBLIC_PREFIXES = ("/_stratus/health", "/_stratus/code/", "/_stratus/webhooks/")
PUBLIC_PATHS = ("/_stratus/", "/_stratus", "/_stratus/metrics")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The protocols of the declared services, by botocore's names (the REST ones serve paths).
QUERY_PATH_ROUTE = "query-path-"  # route names of paths that query services post forms to
PROTOCOLS: dict[str, WireProtocol] = {"json": JsonProtocol(), "query": QueryProtocol()}


C = TypeVar("C")


@dataclass(frozen=True)
class Bound(Generic[C]):
    """A declared service and the context its handlers get (its own, with only what they
    read): the pairing is checked where it is made (`gateway/declared.py`)."""

    service: Service[C]
    context: C


# The declared services with their contexts, by signing name.
# The declared services, by botocore model name.
SERVICES = web.AppKey("services", dict[str, Bound[Any]])
# The REST protocol of each declared REST service, by model name (each answers an unknown
# route with its service's own error, so each service has its own instance).
REST_PROTOCOLS = web.AppKey("rest_protocols", dict[str, WireProtocol])


def region(request: web.Request) -> str:
    return str(request["region"])


def body(request: web.Request) -> bytes:
    return bytes(request["body"])


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    claimed = request.app.get(lean.ROUTES, lean.NO_ROUTES).claimed(request.raw_path, request.host)
    if claimed is not None:
        # Function URLs and HTTP APIs (the switchboard's table): answered here, each
        # authenticated (or not) by its own configuration rather than by the SigV4 check below.
        return await mapped_errors(request, functools.partial(lean.answer, handler=claimed))
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
    s3 = request.app[SERVICES].get("s3")
    if s3 is not None and _for_s3(request):
        # Before the body is read: S3's front checks the signature first and streams the body.
        return await s3_front.handle(
            request, s3.service, s3.context, context.keyring.resolve, context.authorizer, incident_error
        )
    raw = await request.read()
    signings = (bound.service.signing for bound in request.app[SERVICES].values())
    try:
        identity = authn.verify(request, raw, context.keyring.resolve, signings)
    except StratusError as e:
        refused = _query_refusal(request, raw, e)
        if refused is None:
            raise
        return refused
    request["region"] = identity.region
    request["service"] = identity.service
    request["caller"] = identity.caller
    request["body"] = raw
    return await handler(request)


def _for_s3(request: web.Request) -> bool:
    """S3's requests: addressed to a bucket's host, or for no route of the gateway's own and
    signed for `s3` or not signed at all (S3 answers those AccessDenied in its XML). A request
    signed for `s3` to another service's route stays there, to be refused as signed for the
    wrong service."""
    if http_rules.virtual_bucket(request.host):
        return True
    route_name = request.match_info.route.name or ""
    # A path a query service posts forms to (an SQS queue's URL) is no route of S3's own: a
    # bucket may have the same name, and only a form signed for that service belongs there.
    routed = request.match_info.http_exception is None and not route_name.startswith(QUERY_PATH_ROUTE)
    if routed or request.path.startswith("/_stratus"):
        return False
    return http_rules.signed_for_s3(request.headers, request.query) or http_rules.unsigned(
        request.headers, request.query
    )


def _query_refusal(request: web.Request, raw: bytes, error: StratusError) -> web.Response | None:
    """A refused signature on a query-protocol request (IAM, STS, CloudWatch), answered in
    that protocol's XML as the service would, so that its clients read the code; None for the
    others (the JSON error shape, which the JSON and REST-JSON clients read)."""
    if request.path != "/" or request.content_type != authn.FORM:
        return None
    signed = authn.snapshot(
        request.method, request.raw_path.split("?", 1)[0], (), request.headers.items(), raw
    )
    scope = sigv4.signing_scope(signed)
    bound = next(
        (
            b
            for b in request.app[SERVICES].values()
            if scope and b.service.signing.name == scope[1] and b.service.speaks("query")
        ),
        None,
    )
    if bound is None:
        return None
    model = service_model(bound.service.model)
    answer = PROTOCOLS["query"].error(model, for_protocol(wire_error(error), "query"), str(uuid.uuid4()))
    return _answer(answer)


async def declared_service(request: web.Request) -> web.StreamResponse:
    """`POST /`: a declared service, reached as `authn` reached it for the signature check
    (X-Amz-Target, or a form signed for it), in the protocol the request speaks."""
    wire = wire_request(request)
    services = request.app[SERVICES]
    target = wire.header("x-amz-target")
    form = target is None and request.content_type == authn.FORM
    signings = (b.service.signing for b in services.values())
    signing = reached(signings, wire.raw_path, target, form, str(request["service"]))
    bound = _bound_for(services, signing)
    if signing is not None and wire.raw_path != "/":
        wire = _with_path_member(wire, signing, request)
    protocol = protocol_for(bound.service, wire) if bound else None
    if bound is None or protocol is None or protocol not in PROTOCOLS:
        if form:
            raise InvalidAction("The action is not valid for this web service.")
        raise UnknownOperation(f"Unknown operation {(target or '(no X-Amz-Target)')[:200]}.")
    return _answer(await _dispatch(request, bound, PROTOCOLS[protocol], wire))


async def declared_rest(request: web.Request) -> web.StreamResponse:
    """A path under a declared REST service's prefixes, in its REST protocol; a path that
    matches none of its operations gets the service's own no-route answer."""
    wire = wire_request(request)
    services = request.app[SERVICES]
    signing = reached((b.service.signing for b in services.values()), wire.raw_path, None, False, None)
    bound = _bound_for(services, signing)
    protocol = request.app[REST_PROTOCOLS].get(bound.service.model) if bound else None
    if bound is None or protocol is None:  # the router sends only declared prefixes here
        raise UnknownOperation(f"No operation matches {request.method} {request.path}.")
    return _answer(await _dispatch(request, bound, protocol, wire))


def _bound_for(services: dict[str, Bound[Any]], signing: Signing | None) -> Bound[Any] | None:
    """The declared service whose signing declaration `reached` found (two services may share
    a signing name: DynamoDB and DynamoDB Streams both sign as "dynamodb")."""
    return next((b for b in services.values() if b.service.signing is signing), None)


async def _dispatch(
    request: web.Request, bound: Bound[C], protocol: WireProtocol, wire: WireRequest
) -> WireResponse:
    token = HOST.set(request.host or None)
    caller = request["caller"]
    if not isinstance(caller, Caller):  # the keyring names every signer (a Caller)
        raise TypeError(f"unexpected signer {caller!r}")
    caller_token = CALLER.set(caller)
    keep_out = guard(ctx(request).authorizer, caller, request.remote)
    try:
        return await dispatch(
            bound.service,
            protocol,
            wire,
            bound.context,
            region(request),
            incident=incident_error,
            guard=keep_out,
        )
    finally:
        CALLER.reset(caller_token)
        HOST.reset(token)


def _with_path_member(wire: WireRequest, signing: Signing, request: web.Request) -> WireRequest:
    """A form posted to the URL of a resource (an SQS queue), with the member that URL stands
    for added when the form leaves it out, as query-era clients do."""
    member = signing.query_path_member
    if member is None or any(k == member for k, _ in wire.query) or f"{member}=".encode() in wire.body:
        return wire
    url = f"{request.scheme}://{request.host}{wire.raw_path}"
    return dataclasses.replace(wire, query=(*wire.query, (member, url)))


def _answer(answer: WireResponse) -> web.Response:
    return web.Response(status=answer.status, headers=CIMultiDict(answer.headers), body=answer.body)


def rest_protocol(service: Service[Any]) -> WireProtocol | None:
    """The protocol serving a service's paths, answering an unknown route as the service
    declares (or as the protocol does by default)."""
    if service.rest_impl is not None:
        return service.rest_impl
    name = service.rest_protocol
    if name == "rest-json":
        return RestJsonProtocol(service.no_route) if service.no_route else RestJsonProtocol()
    if name == "rest-xml":
        return RestXmlProtocol(service.no_route) if service.no_route else RestXmlProtocol()
    return None


def wire_request(request: web.Request) -> WireRequest:
    """The aiohttp request as the wire layer reads it, once (its body read by auth_middleware)."""
    return WireRequest(
        method=request.method,
        raw_path=request.raw_path.split("?", 1)[0],
        query=tuple(request.query.items()),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body(request),
    )


async def health(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


def build_app(
    context: ApiContext,
    register: list[Callable[[web.Application], None]],
    services: Iterable[Bound[Any]] = (),
) -> web.Application:
    """The gateway's app. `context` is what the signature check (its keyring) and the
    routes `register` adds (`services/metering.py`'s) read; each declared service is
    dispatched with the context it is bound to."""
    app = web.Application(
        # track_answers first: a connection is busy for as long as any middleware works on its request.
        middlewares=[connections.track_answers, errors_middleware, auth_middleware],
        client_max_size=MAX_REQUEST_BYTES,
    )
    app[CTX] = context
    app[SERVICES] = {b.service.model: b for b in services}
    app[REST_PROTOCOLS] = {}
    app.router.add_get("/_stratus/health", health)
    app.router.add_post("/", declared_service)
    for bound in app[SERVICES].values():
        pattern = bound.service.signing.query_path
        if pattern is not None:  # "/{x:<the pattern after its leading slash>}"
            name = f"{QUERY_PATH_ROUTE}{bound.service.signing.name}"
            app.router.add_post(
                "/{path:" + pattern.pattern.removeprefix("/") + "}", declared_service, name=name
            )
    for bound in app[SERVICES].values():
        service = bound.service
        rest = rest_protocol(service)
        if rest is None:
            continue
        app[REST_PROTOCOLS][service.model] = rest
        for prefix in service.signing.paths:
            app.router.add_route("*", prefix.rstrip("/") + "/{tail:.*}", declared_rest)
    for add_routes in register:
        add_routes(app)
    return app
