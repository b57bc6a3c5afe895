"""Lambda REST API: Invoke (RequestResponse and DryRun)."""

from __future__ import annotations

import base64
import json

from aiohttp import web

from stratus.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from stratus.gateway.server import body, ctx, region
from stratus.invoke.records import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, TAIL_BYTES
from stratus.lambda_api.arns import function_arn
from stratus.lambda_api.functions import function_ref

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def log_tail(text: str) -> str:
    data = text.encode()[-TAIL_BYTES:]
    return base64.b64encode(data).decode()


async def invoke(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    name, qualifier = function_ref(request)
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed "
            "to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        )
    log_type = request.headers.get("X-Amz-Log-Type", "None")
    if log_type not in ("None", "Tail"):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{log_type}' at 'logType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Tail, None]"
        )
    payload = body(request)
    limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise RequestTooLarge(
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        )
    config = context.invoker.resolve(name, qualifier)
    if invocation_type == "DryRun":
        return web.Response(status=204, headers={"X-Amz-Executed-Version": config.version})
    if payload:
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidRequestContent(
                f"Could not parse request body into json: Could not parse payload into json: {e}"
            ) from None
    if invocation_type == "Event":
        request_id = await context.async_invoker.accept(name, qualifier, payload or b"{}", region(request))
        return web.Response(status=202, headers={"x-amzn-RequestId": request_id})
    client_context = request.headers.get("X-Amz-Client-Context")
    if client_context:
        try:
            client_context = base64.b64decode(client_context, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterValue(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
    result = await context.invoker.invoke(
        config,
        payload or b"{}",
        region=region(request),
        invoked_arn=function_arn(region(request), context.account_id, name, qualifier),
        client_context=client_context,
    )
    headers = {"X-Amz-Executed-Version": result.executed_version}
    if result.function_error:
        headers["X-Amz-Function-Error"] = result.function_error
    if log_type == "Tail":
        headers["X-Amz-Log-Result"] = log_tail(result.log_tail)
    return web.Response(status=200, body=result.payload, headers=headers, content_type="application/json")
