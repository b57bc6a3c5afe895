"""Lambda REST API: Invoke (RequestResponse, Event and DryRun).

`run_invoke` is the operation itself, independent of the HTTP server: the switchboard calls it
for the hot path (it parses requests without aiohttp's web layer), and `invoke` is the aiohttp
route for connections aiohttp serves.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from stratus.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge, StratusError
from stratus.gateway import authn
from stratus.gateway.responses import error_parts, unexpected_error_response
from stratus.gateway.server import ApiContext, body, ctx, region
from stratus.http_types import HttpReply, Incoming
from stratus.invoke.records import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, TAIL_BYTES
from stratus.lambda_api.arns import function_arn, merge_qualifier, parse_function_ref
from stratus.observe import tracing

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
JSON = ("Content-Type", "application/json")


def log_tail(text: str) -> str:
    data = text.encode()[-TAIL_BYTES:]
    return base64.b64encode(data).decode()


async def run_invoke(
    context: ApiContext,
    name_ref: str,
    qualifier_param: str | None,
    header: Callable[[str], str | None],
    payload: bytes,
    region_name: str,
) -> HttpReply:
    """Raises StratusError for what the API refuses; function faults are 200 replies."""
    ref = parse_function_ref(name_ref, context.account_id)
    name, qualifier = ref.name, merge_qualifier(ref, qualifier_param)
    invocation_type = header("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed "
            "to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )
    log_type = header("X-Amz-Log-Type") or "None"
    if log_type not in ("None", "Tail"):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Tail, None]"
        )
    limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise RequestTooLarge(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    config = context.invoker.resolve(name, qualifier)
    if invocation_type == "DryRun":
        return HttpReply(204, (("X-Amz-Executed-Version", config.version),), b"")
    if payload:
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidRequestContent(
                f"Could not parse request body into json: Could not parse payload into json: {e}"
            ) from None
    if invocation_type == "Event":
        request_id = await context.async_invoker.accept(
            name, qualifier, payload or b"{}", region_name, trace=_caller_trace(header)
        )
        return HttpReply(202, (("x-amzn-RequestId", request_id),), b"")
    client_context = header("X-Amz-Client-Context")
    if client_context:
        try:
            client_context = base64.b64decode(client_context, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterValue(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
    request_id = str(uuid.uuid4())
    trace = tracing.for_function(tracing.parse(header("X-Amzn-Trace-Id")), config.tracing_mode == "Active")
    result = await context.invoker.invoke(
        config,
        payload or b"{}",
        region=region_name,
        invoked_arn=function_arn(region_name, context.account_id, name, qualifier),
        client_context=client_context,
        request_id=request_id,
        trace=trace,
    )
    headers = [
        JSON,
        ("X-Amz-Executed-Version", result.executed_version),
        ("x-amzn-RequestId", request_id),
        ("X-Amzn-Trace-Id", trace.render()),
    ]
    if result.function_error:
        headers.append(("X-Amz-Function-Error", result.function_error))
    if log_type == "Tail":
        headers.append(("X-Amz-Log-Result", log_tail(result.log_tail)))
    return HttpReply(200, tuple(headers), result.payload)


def _caller_trace(header: Callable[[str], str | None]) -> str | None:
    """The caller's trace header, kept with an event only when it is a usable one."""
    incoming = tracing.parse(header("X-Amzn-Trace-Id"))
    return incoming.render() if incoming else None


INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def is_invoke(method: str, path: str) -> bool:
    return method == "POST" and INVOKE_PATH.match(path) is not None


async def invoke_incoming(context: ApiContext, request: Incoming) -> HttpReply:
    """Invoke from the switchboard: SigV4 checked here, every error mapped as the gateway maps
    it, and never an exception."""
    try:
        match = INVOKE_PATH.match(request.path)
        assert match is not None
        if request.body is None:
            raise RequestTooLarge(
                f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes for the InvokeFunction operation"
            )
        query = parse_qsl(request.query, keep_blank_values=True)
        identity = authn.verify_routed(
            request.method, request.path, query, request.headers, request.body, context.credentials
        )
        headers = dict(request.headers)
        return await run_invoke(
            context,
            unquote(match.group(1)),
            dict(query).get("Qualifier"),
            lambda name: headers.get(name.lower()),
            request.body,
            identity.region,
        )
    except StratusError as e:
        status, extra, body_bytes = error_parts(e)
        return HttpReply(status, (JSON, *extra.items()), body_bytes)
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        response = unexpected_error_response(e)
        assert isinstance(response.body, bytes)
        return HttpReply(response.status, (JSON,), response.body)


async def invoke(request: web.Request) -> web.StreamResponse:
    reply = await run_invoke(
        ctx(request),
        request.match_info["name"],
        request.query.get("Qualifier"),
        request.headers.get,
        body(request),
        region(request),
    )
    return web.Response(status=reply.status, headers=dict(reply.headers), body=reply.body)
