"""Lambda REST API: InvokeWithResponseStream
(`POST /2021-11-15/functions/NAME/response-streaming-invocations`).

The answer is an event stream (`application/vnd.amazon.eventstream`): a `PayloadChunk` event
per chunk the function writes, sent as it is written, then one `InvokeComplete` (ErrorCode and
ErrorDetails when the function failed, LogResult with LogType Tail). The HTTP status is 200
whatever the function did; a failure shows in InvokeComplete, as on Lambda. A runtime that
answers whole (Python, Java, a Node handler not wrapped in `awslambda.streamifyResponse`) gives
one chunk with its whole result.

The operation is claimed by path on both servers of the port (lean_routes.Claim), like
function URLs, because the declared dispatch writes a whole body at once: the request is read,
checked against botocore's model, signed and authorized (`lambda:InvokeFunction`, as Invoke)
here, with every error answered in Lambda's rest-json form.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from stratus.control.arns import merge_qualifier, parse_function_ref
from stratus.errors import (
    ClientError,
    StratusError,
    UnknownOperation,
)
from stratus.frontend.responses import incident_error
from stratus.http_types import HttpReply, Incoming, StreamedReply
from stratus.identity.guard import guard
from stratus.identity.keyring import Caller
from stratus.invoke.records import MAX_SYNC_PAYLOAD
from stratus.invoke.streaming import ResponseStream, StreamedInvoke
from stratus.invoke.target import Invoked, Target
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.conventions import PROTOCOL, invalid
from stratus.lambda_api.invoke import check_json, decoded_client_context, log_tail, run, too_large
from stratus.lambda_api.signing import SIGNING
from stratus.observe import tracing
from stratus.wire import authn, validate
from stratus.wire.dispatch import wire_error
from stratus.wire.eventstream import encode_events
from stratus.wire.models import service_model
from stratus.wire.rest_json import CODEC
from stratus.wire.types import WireError

PREFIX = "/2021-11-15/"
STREAM_PATH = re.compile(r"^/2021-11-15/functions/([^/]+)/response-streaming-invocations$")
HEADER_MEMBERS = (
    ("InvocationType", "x-amz-invocation-type"),
    ("LogType", "x-amz-log-type"),
    ("ClientContext", "x-amz-client-context"),
    ("TenantId", "x-amz-tenant-id"),
)
_OPERATION = service_model("lambda").operation_model("InvokeWithResponseStream")
_EVENTS = _OPERATION.output_shape.members["EventStream"]
# What a runtime that answers whole is said to stream.
WHOLE_CONTENT_TYPE = "application/json"


def read_params(request: Incoming) -> dict[str, Any]:
    """The operation's parameters from the request, as the rest-json parser reads them."""
    match = STREAM_PATH.match(request.path)
    if match is None or request.method != "POST":
        raise UnknownOperation(f"No operation matches {request.method} {unquote(request.path)}.")
    params: dict[str, Any] = {"FunctionName": unquote(match.group(1))}
    for key, value in parse_qsl(request.query, keep_blank_values=True):
        if key == "Qualifier":
            params["Qualifier"] = value
            break
    for member, name in HEADER_MEMBERS:
        header = request.header(name)
        if header is not None:
            params[member] = header
    if request.body:
        params["Payload"] = request.body
    return params


def _check(params: Mapping[str, Any]) -> None:
    problems = validate.validate(_OPERATION.input_shape, params)
    if problems:
        error = invalid(problems, validate.message(problems))
        refused = ClientError(error.message)
        refused.code = error.code
        raise refused


def events(*items: Mapping[str, Any]) -> bytes:
    """Event stream messages of the operation's output union, as the model describes them."""
    return encode_events(_EVENTS, items, CODEC)


def completion(invoked: Invoked | StratusError, log_type: str | None) -> dict[str, Any]:
    """The InvokeComplete event of how the invocation ended (pure)."""
    complete: dict[str, Any] = {}
    if isinstance(invoked, StratusError):
        complete["ErrorCode"], complete["ErrorDetails"] = invoked.code, invoked.message
        return {"InvokeComplete": complete}
    result = invoked.result
    if result.function_error:
        code, details = error_parts(result.payload, result.error_type or result.function_error)
        complete["ErrorCode"], complete["ErrorDetails"] = code, details
    if log_type == "Tail":
        complete["LogResult"] = log_tail(result.log_tail)
    return {"InvokeComplete": complete}


def error_parts(document: bytes, fallback: str) -> tuple[str, str]:
    """(ErrorCode, ErrorDetails) of a function's error document: its errorType and
    errorMessage, or the fallback type and the text as it came."""
    try:
        parsed = json.loads(document)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return str(parsed.get("errorType") or fallback), str(parsed.get("errorMessage") or "")
    return fallback, document.decode("utf-8", "replace")


async def invoke_streaming(context: LambdaContext, request: Incoming) -> HttpReply | StreamedReply:
    """The claimed handler: SigV4 checked here, every refusal answered as Lambda's REST API
    answers it, and never an exception."""
    try:
        params = read_params(request)
        if request.body is None:
            raise too_large(MAX_SYNC_PAYLOAD)
        identity = authn.verify_parts(
            request.method,
            request.path,
            parse_qsl(request.query, keep_blank_values=True),
            request.headers,
            request.body,
            context.keyring.resolve,
            expect=SIGNING,
        )
        _check(params)
        _authorize(context, identity.caller, params, identity.region, request.peer)
        return await start(context, params, identity.region, request.header("x-amzn-trace-id"))
    except StratusError as e:
        return _error_reply(wire_error(e))
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return _error_reply(wire_error(incident_error(e)))


def _authorize(
    context: LambdaContext, caller: object, params: Mapping[str, Any], region: str, peer: str
) -> None:
    """lambda:InvokeFunction on what the request names, the check Invoke makes."""
    if not isinstance(caller, Caller):
        raise TypeError(f"unexpected signer {caller!r}")
    keep_out = guard(context.authorizer, caller, peer)
    if keep_out is not None:
        from stratus.lambda_api.service import SERVICE  # it imports the handlers' modules

        keep_out(SERVICE, context, "Invoke", params, region)


def _error_reply(error: WireError) -> HttpReply:
    answer = PROTOCOL.error(service_model("lambda"), error, str(uuid.uuid4()))
    return HttpReply(answer.status, answer.headers, answer.body)


async def start(
    context: LambdaContext, params: Mapping[str, Any], region: str, caller_trace: str | None
) -> HttpReply | StreamedReply:
    """Run the invocation; the answer's head goes out when the runtime begins streaming (or the
    invocation is over), its events as the function writes. Raises StratusError for what is
    refused before anything runs."""
    ref = parse_function_ref(params["FunctionName"], context.account_id)
    name, qualifier = ref.name, merge_qualifier(ref, params.get("Qualifier"))
    payload: bytes = params.get("Payload") or b""
    if len(payload) > MAX_SYNC_PAYLOAD:
        raise too_large(MAX_SYNC_PAYLOAD)
    if params.get("InvocationType") == "DryRun":
        checked = await run(context, {**params, "InvocationType": "DryRun"}, region, caller_trace)
        headers = (
            ("X-Amz-Executed-Version", checked["ExecutedVersion"]),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        )
        return HttpReply(204, headers, b"")
    check_json(payload)
    client_context = decoded_client_context(params)
    request_id = str(uuid.uuid4())
    target = Target(name, qualifier, region, context.account_id)
    trace = tracing.parse(caller_trace)

    def invoke(stream: ResponseStream) -> Awaitable[Invoked]:
        return context.invoker.invoke_target(
            target,
            payload or b"{}",
            request_id=request_id,
            client_context=client_context,
            caller_trace=trace,
            stream=stream,
        )

    streamed = await StreamedInvoke.start(invoke)
    if streamed.streaming:
        version, content_type = streamed.stream.executed_version, streamed.stream.content_type
    else:
        try:
            version, content_type = (await streamed.result()).result.executed_version, WHOLE_CONTENT_TYPE
        except StratusError:
            await streamed.close()
            raise
    head = (
        ("X-Amz-Executed-Version", version),
        ("Content-Type", content_type),
        ("x-amzn-RequestId", request_id),
    )
    return StreamedReply(200, head, _body(streamed, params.get("LogType")), streamed.close)


async def _body(streamed: StreamedInvoke, log_type: str | None) -> AsyncGenerator[bytes, None]:
    """PayloadChunk per chunk as written (or the whole result as one), then InvokeComplete."""
    while chunk := await streamed.read():
        yield events({"PayloadChunk": {"Payload": chunk}})
    ended: Invoked | StratusError
    try:
        ended = await streamed.result()
    except StratusError as e:
        ended = e
    if isinstance(ended, Invoked) and not streamed.streaming:
        result = ended.result
        if result.payload and not result.function_error:
            yield events({"PayloadChunk": {"Payload": result.payload}})
    yield events(completion(ended, log_type))
