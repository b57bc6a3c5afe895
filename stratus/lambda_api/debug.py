"""Stratus's debug invoke: `POST /_stratus/debug/functions/{name}/invocations`, SigV4-signed for
`lambda` like every API request (what `stratus invoke NAME --debug` sends).

It is a path of its own rather than a header on Invoke: the caller must learn the debugger's
port before the result exists, which Invoke's answer cannot carry, and the Invoke hot path stays
as it is. The answer is a stream of JSON lines (application/x-ndjson):
  {"event": "listening", "port", "protocol", "runtime", "remoteRoot", "waitTimeout", "requestId"}
  {"event": "result", "statusCode": 200, "executedVersion", "functionError"?, "payload" (base64),
   "logResult" (base64 tail)}     or     {"event": "error", "code", "message"}
A refusal before the stream starts is an ordinary error answer (4xx with Lambda's error shape).

Who may: root; any other caller needs both `lambda:InvokeFunction` on the function (checked as
Invoke checks it, the function's resource policy included) and `stratus:DebugFunction` on the
function's ARN in its own identity policies (a resource policy never grants it: whoever may
invoke a function must not thereby read its memory and its role's credentials in a debugger).
With STRATUS_IAM=off, as every check, these are off. The request must come over the host's
loopback, since the port it opens is there, and only the local user that sent it may attach.

Query: `Qualifier`, `waitTimeout` (seconds, default 60, at most 3600), `port` (a host port to
listen on; default any free one).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from stratus.control.arns import function_arn, merge_qualifier, parse_function_ref
from stratus.control.keys import FunctionKey, check_region
from stratus.errors import (
    AccessDenied,
    InvalidParameterValue,
    RequestTooLarge,
    ServiceError,
    StratusError,
)
from stratus.frontend.responses import incident_error
from stratus.identity.keyring import Caller
from stratus.invoke.debug_relay import connection_uid
from stratus.invoke.debug_sessions import Ended, Session, runs_in_session
from stratus.invoke.debugging import (
    CALLER_CHECK_S,
    DebugRequest,
    Listening,
    debug_invoke,
    not_debuggable,
    protocol_for,
)
from stratus.invoke.records import MAX_SYNC_PAYLOAD
from stratus.invoke.target import Target
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.invoke import _authorize, log_tail

PATH = "/_stratus/debug/functions/{name}/invocations"
SESSION_PATH = "/_stratus/debug/functions/{name}/sessions"
DEBUG_ACTION = "stratus:DebugFunction"
DEFAULT_WAIT_S = 60.0
MAX_WAIT_S = 3600.0


def routes(context: LambdaContext, scratch: Path) -> Callable[[web.Application], None]:
    """What adds the debug invoke route to an app; `scratch` is a directory of the data dir for
    the debug environments' copies of debugpy."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await debug_invocation(context, scratch, request)

    async def hold(request: web.Request) -> web.StreamResponse:
        return await debug_session(context, scratch, request)

    def register(app: web.Application) -> None:
        app.router.add_post(PATH, handle)
        app.router.add_post(SESSION_PATH, hold)

    return register


def parse_wait(value: str | None) -> float:
    if value is None:
        return DEFAULT_WAIT_S
    try:
        wait = float(value)
    except ValueError:
        raise InvalidParameterValue("waitTimeout must be a number of seconds.") from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise InvalidParameterValue(f"waitTimeout must be between 0 and {MAX_WAIT_S:.0f} seconds.")
    return wait


def parse_port(value: str | None) -> int:
    if value is None:
        return 0
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise InvalidParameterValue("port must be a TCP port number (0 for any free one).")
    return int(value)


def local_owner(peer: Any, local: Any) -> int:
    """The local uid that sent this request, which alone may attach. Raises AccessDenied for a
    request from another machine."""
    try:
        loopback = peer is not None and ipaddress.ip_address(str(peer[0])).is_loopback
    except ValueError:
        loopback = False
    if not loopback or local is None:
        raise AccessDenied(
            "A debug invocation must be asked for from this machine: its debugger's port is on the "
            "host's loopback only."
        )
    uid = connection_uid(int(peer[1]), int(local[1]))
    if uid is None:
        raise ServiceError("The local user of this connection could not be found.")
    return uid


def authorized_target(context: LambdaContext, request: web.Request) -> tuple[Target, int]:
    """The function a debug request names, once its caller may debug it; and the local uid that
    alone may attach. Raises StratusError."""
    caller = request.get("caller")
    if not isinstance(caller, Caller):
        raise AccessDenied("The request was not signed.")
    region = str(request["region"])
    params: dict[str, Any] = {"FunctionName": request.match_info["name"]}
    if "Qualifier" in request.query:
        params["Qualifier"] = request.query["Qualifier"]
    ref = parse_function_ref(params["FunctionName"], context.account_id)
    qualifier = merge_qualifier(ref, params.get("Qualifier"))
    check_region(ref.region, region)
    _authorize(context, caller, params, region, request.remote or "")
    arn = function_arn(region, context.account_id, ref.name)
    context.authorizer.check(caller, DEBUG_ACTION, arn, region=region, source_ip=request.remote)
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport else None
    local = transport.get_extra_info("sockname") if transport else None
    owner = local_owner(peer, local)
    return Target(ref.name, qualifier, region, context.account_id), owner


def listening_line(told: Listening) -> dict[str, Any]:
    return {
        "event": "listening",
        "port": told.port,
        "protocol": told.protocol,
        "runtime": told.runtime,
        "remoteRoot": told.remote_root,
        "waitTimeout": told.wait_timeout,
        "requestId": told.request_id,
    }


async def debug_invocation(context: LambdaContext, scratch: Path, request: web.Request) -> web.StreamResponse:
    wait = parse_wait(request.query.get("waitTimeout"))
    port = parse_port(request.query.get("port"))
    payload = bytes(request["body"]) or b"{}"
    if len(payload) > MAX_SYNC_PAYLOAD:
        raise RequestTooLarge(f"Request must be smaller than {MAX_SYNC_PAYLOAD} bytes.")
    try:
        json.loads(payload)
    except ValueError as e:
        raise InvalidParameterValue(f"The payload is not JSON: {e}") from None
    target, owner = authorized_target(context, request)
    transport = request.transport

    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    started = False

    async def line(body: dict[str, Any]) -> None:
        nonlocal started
        if not started:
            await response.prepare(request)
            started = True
        await response.write(json.dumps(body).encode() + b"\n")

    async def announce(told: Listening) -> None:
        await line(listening_line(told))

    try:
        result = await debug_invoke(
            context.invoker,
            target,
            payload,
            DebugRequest(wait, owner, port),
            scratch,
            announce,
            gone=lambda: transport is None or transport.is_closing(),
        )
    except OSError as e:
        if started:
            raise
        raise InvalidParameterValue(f"Cannot listen on port {port}: {e.strerror or e}.") from None
    except StratusError as e:
        if not started:
            raise
        with contextlib.suppress(ConnectionError):  # the caller may be the one that went away
            await line({"event": "error", "code": e.code, "message": e.message})
        return response
    except Exception as e:
        if not started:
            raise
        error = incident_error(e)
        with contextlib.suppress(ConnectionError):
            await line({"event": "error", "code": error.code, "message": error.message})
        return response
    answer: dict[str, Any] = {
        "event": "result",
        "statusCode": 200,
        "executedVersion": result.executed_version,
        "payload": base64.b64encode(result.payload).decode(),
        "logResult": log_tail(result.log_tail),
    }
    if result.function_error:
        answer["functionError"] = result.function_error
    await line(answer)
    await response.write_eof()
    return response


async def debug_session(context: LambdaContext, scratch: Path, request: web.Request) -> web.StreamResponse:
    """`stratus dev --debug`: a debug session (invoke/debug_sessions.py) for the function's $LATEST,
    open for as long as this request's connection is. The answer is a stream of JSON lines:
      {"event": "session", "port", "protocol", "runtime", "waitTimeout"}   once, at the start;
    then for each invocation its "listening" line (as a debug invocation's) and
      {"event": "ended", "requestId", "functionError"?}.
    Authorized as a debug invocation is; `port` and `waitTimeout` as there."""
    wait = parse_wait(request.query.get("waitTimeout"))
    port = parse_port(request.query.get("port"))
    target, owner = authorized_target(context, request)
    if not runs_in_session(target.qualifier):
        raise InvalidParameterValue(
            "A debug session follows the function's $LATEST (what `stratus dev` updates); "
            "debug a version or an alias with a debug invocation."
        )
    config = context.invoker.resolve(FunctionKey(target.region, target.name), None)
    protocol = protocol_for(config.runtime)
    if protocol is None:
        raise not_debuggable(config.runtime)
    transport = request.transport
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})

    async def tell(news: Listening | Ended) -> None:
        if isinstance(news, Listening):
            body = listening_line(news)
        else:
            body = {"event": "ended", "requestId": news.request_id}
            if news.function_error:
                body["functionError"] = news.function_error
        await response.write(json.dumps(body).encode() + b"\n")

    async def hold(session: Session) -> None:
        try:
            await response.prepare(request)
            start = {"event": "session", "port": session.port, "protocol": protocol}
            start |= {"runtime": config.runtime, "waitTimeout": wait}
            await response.write(json.dumps(start).encode() + b"\n")
            while not session.closed and transport is not None and not transport.is_closing():
                await asyncio.sleep(CALLER_CHECK_S)
        except ConnectionError:
            pass  # the holder went away: the session ends

    key = FunctionKey(target.region, target.name)
    try:
        async with context.invoker.debugging.open(
            key, DebugRequest(wait, owner, port), scratch, tell
        ) as session:
            await hold(session)
    except OSError as e:  # from `open` only: `hold` keeps its own
        raise InvalidParameterValue(f"Cannot listen on port {port}: {e.strerror or e}.") from None
    return response
