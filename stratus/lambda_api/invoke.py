"""Lambda REST API: Invoke (RequestResponse, Event and DryRun), on two paths that share one
operation.

- `invoke` is the declared handler (lambda_api/service.py): the rest-json parser reads the
  request from botocore's model, the serializer writes the answer (status code, the
  header-bound FunctionError, LogResult and ExecutedVersion, the payload).
- `invoke_incoming` is the switchboard's lean path for the hot operation: it reads the request
  itself (`read_incoming`, tested against the general parser), checks it against the same model,
  and writes the same answer without aiohttp's web layer or the general serializer.

Both call `run`, which returns the result as boto3 shows it, `ResponseMetadata` included: the
invocation's own request id (the one the function saw) and the trace header it ran under.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from stratus.control.arns import merge_qualifier, parse_function_ref
from stratus.control.keys import FunctionKey, check_region
from stratus.errors import (
    ClientError,
    InvalidParameterValue,
    InvalidRequestContent,
    RequestTooLarge,
    StratusError,
)
from stratus.frontend.responses import incident_error
from stratus.http_types import HttpReply, Incoming
from stratus.identity.guard import guard
from stratus.identity.keyring import Caller
from stratus.invoke.records import MAX_ASYNC_PAYLOAD, MAX_SYNC_PAYLOAD, TAIL_BYTES
from stratus.invoke.target import Target
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.conventions import CALLER_TRACE, PROTOCOL, invalid
from stratus.lambda_api.signing import SIGNING
from stratus.observe import tracing
from stratus.wire import authn, validate
from stratus.wire.dispatch import wire_error
from stratus.wire.models import service_model
from stratus.wire.types import WireError


def log_tail(text: str) -> str:
    data = text.encode()[-TAIL_BYTES:]
    return base64.b64encode(data).decode()


def too_large(limit: int) -> RequestTooLarge:
    """The refusal of a payload over `limit` bytes (Invoke's and InvokeWithResponseStream's)."""
    return RequestTooLarge(f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


def check_json(payload: bytes) -> None:
    """Refuses a payload that is not JSON, as Invoke and InvokeWithResponseStream do (an empty
    one stands for `{}`)."""
    if payload:
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as e:
            raise InvalidRequestContent(
                f"Could not parse request body into json: Could not parse payload into json: {e}"
            ) from None


def decoded_client_context(params: Mapping[str, Any]) -> str | None:
    """The request's ClientContext as the function sees it (the header carries it in base64);
    refused when it is not base64 of UTF-8 text."""
    client_context: str | None = params.get("ClientContext")
    if client_context:
        try:
            client_context = base64.b64decode(client_context, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterValue(
                "Client context must be a valid Base64-encoded JSON object."
            ) from None
    return client_context


async def run(
    context: LambdaContext, params: Mapping[str, Any], region: str, caller_trace: str | None
) -> dict[str, Any]:
    """Invoke with checked parameters (as the rest-json parser reads them). Raises StratusError
    for what the API refuses; function faults are results (`FunctionError`)."""
    ref = parse_function_ref(params["FunctionName"], context.account_id)
    name, qualifier = ref.name, merge_qualifier(ref, params.get("Qualifier"))
    check_region(ref.region, region)  # a function is invoked in its own region only
    invocation_type = params.get("InvocationType", "RequestResponse")
    payload: bytes = params.get("Payload") or b""
    limit = MAX_ASYNC_PAYLOAD if invocation_type == "Event" else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise too_large(limit)
    config = context.invoker.resolve(FunctionKey(region, name), qualifier)
    if invocation_type == "DryRun":
        return {"StatusCode": 204, "ExecutedVersion": config.version}
    check_json(payload)
    if invocation_type == "Event":
        incoming = tracing.parse(caller_trace)
        request_id = await context.async_invoker.accept(
            name, qualifier, payload or b"{}", region, trace=incoming.render() if incoming else None
        )
        return {"StatusCode": 202, "ResponseMetadata": {"RequestId": request_id}}
    client_context = decoded_client_context(params)
    request_id = str(uuid.uuid4())
    invoked = await context.invoker.invoke_target(
        Target(name, qualifier, region, context.account_id),
        payload or b"{}",
        request_id=request_id,
        client_context=client_context,
        caller_trace=tracing.parse(caller_trace),
    )
    result = invoked.result
    answer: dict[str, Any] = {
        "StatusCode": 200,
        "ExecutedVersion": result.executed_version,
        "Payload": result.payload,
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPHeaders": {"Content-Type": "application/json", "X-Amzn-Trace-Id": invoked.trace.render()},
        },
    }
    if result.function_error:
        answer["FunctionError"] = result.function_error
    if params.get("LogType") == "Tail":
        answer["LogResult"] = log_tail(result.log_tail)
    return answer


async def invoke(context: LambdaContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    """The declared handler of Invoke."""
    return await run(context, params, region, CALLER_TRACE.get())


async def run_invoke(
    context: LambdaContext,
    name_ref: str,
    qualifier: str | None,
    header: Callable[[str], str | None],
    payload: bytes,
    region: str,
) -> HttpReply:
    """Invoke from Stratus's own callers (the dashboard's invoke form): the request's parts,
    checked as the API checks them, and the answer as the API sends it. Raises StratusError."""
    params = _params(name_ref, qualifier, header, payload)
    _check(params)
    return reply(await run(context, params, region, header("X-Amzn-Trace-Id")))


# -- the lean path -----------------------------------------------------------------------------

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
# Invoke's header-bound members, by the header that carries each (the model's locationName).
HEADER_MEMBERS = (
    ("InvocationType", "x-amz-invocation-type"),
    ("LogType", "x-amz-log-type"),
    ("ClientContext", "x-amz-client-context"),
    ("DurableExecutionName", "x-amz-durable-execution-name"),
    ("TenantId", "x-amz-tenant-id"),
)


def is_invoke(method: str, path: str) -> bool:
    return method == "POST" and INVOKE_PATH.match(path) is not None


def _params(
    name_ref: str, qualifier: str | None, header: Callable[[str], str | None], payload: bytes
) -> dict[str, Any]:
    params: dict[str, Any] = {"FunctionName": name_ref}
    if qualifier is not None:
        params["Qualifier"] = qualifier
    for member, name in HEADER_MEMBERS:
        value = header(name)
        if value is not None:
            params[member] = value
    if payload:
        params["Payload"] = payload
    return params


def read_incoming(request: Incoming) -> dict[str, Any]:
    """Invoke's parameters from a raw request, as the rest-json parser reads them from the model
    (tests/unit/test_invoke_lean.py holds the two to the same answers). The caller checked the
    path with `is_invoke` and that the body was not too large."""
    match = INVOKE_PATH.match(request.path)
    assert match is not None and request.body is not None
    qualifier = None
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        if key == "Qualifier":
            qualifier = value
            break
    return _params(unquote(match.group(1)), qualifier, request.header, request.body)


def _check(params: Mapping[str, Any]) -> None:
    """The model's checks, with the codes the declared path answers (lambda_api/conventions.py)."""
    problems = validate.validate(_INPUT, params)
    if problems:
        error = invalid(problems, validate.message(problems))
        refused = ClientError(error.message)
        refused.code = error.code
        raise refused


_INPUT = service_model("lambda").operation_model("Invoke").input_shape


def reply(result: Mapping[str, Any], request_id: str | None = None) -> HttpReply:
    """The answer `run` describes, as the general serializer writes it for Invoke (`request_id`:
    the answer's own when the result names none, as dispatch gives every answer one)."""
    meta = result.get("ResponseMetadata") or {}
    headers: list[tuple[str, str]] = []
    if "ExecutedVersion" in result:
        headers.append(("X-Amz-Executed-Version", result["ExecutedVersion"]))
    if "FunctionError" in result:
        headers.append(("X-Amz-Function-Error", result["FunctionError"]))
    if "LogResult" in result:
        headers.append(("X-Amz-Log-Result", result["LogResult"]))
    headers.append(("x-amzn-RequestId", meta.get("RequestId") or request_id or str(uuid.uuid4())))
    headers.extend((meta.get("HTTPHeaders") or {}).items())
    return HttpReply(int(result["StatusCode"]), tuple(headers), bytes(result.get("Payload") or b""))


def _error_reply(error: WireError) -> HttpReply:
    answer = PROTOCOL.error(service_model("lambda"), error, str(uuid.uuid4()))
    return HttpReply(answer.status, answer.headers, answer.body)


def _authorize(
    context: LambdaContext, caller: object, params: Mapping[str, Any], region: str, peer: str
) -> None:
    """The declared path's one check (identity/guard.py), for the lean path."""
    if not isinstance(caller, Caller):  # the keyring names every signer (a Caller)
        raise TypeError(f"unexpected signer {caller!r}")
    keep_out = guard(context.authorizer, caller, peer)
    if keep_out is not None:
        from stratus.lambda_api.service import SERVICE  # it imports this module's handlers

        keep_out(SERVICE, context, "Invoke", params, region)


async def invoke_incoming(context: LambdaContext, request: Incoming) -> HttpReply:
    """Invoke from the switchboard: SigV4 checked here, every error answered as the declared
    path answers it, and never an exception."""
    try:
        if request.body is None:
            raise too_large(MAX_SYNC_PAYLOAD)
        query = parse_qsl(request.query, keep_blank_values=True)
        identity = authn.verify_parts(
            request.method,
            request.path,
            query,
            request.headers,
            request.body,
            context.keyring.resolve,
            expect=SIGNING,
        )
        params = read_incoming(request)
        _check(params)
        _authorize(context, identity.caller, params, identity.region, request.peer)
        return reply(await run(context, params, identity.region, request.header("x-amzn-trace-id")))
    except StratusError as e:
        return _error_reply(wire_error(e))
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return _error_reply(wire_error(incident_error(e)))
