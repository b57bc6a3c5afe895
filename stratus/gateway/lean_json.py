"""The JSON-protocol services (`POST /` with `X-Amz-Target`: SQS, CloudWatch Logs, EventBridge,
CloudWatch's JSON side) answered on the switchboard's lean path: the same SigV4 check, guard and
declared dispatch as the aiohttp path (`server.declared_service`), without aiohttp's web layer,
which cost about a third of the server's time per SendMessage.

The request's X-Amz-Target prefix picks the declaration; the signature must then be made for
that declaration's service (`authn.verify_parts` with it as `expect`), exactly as `reached`
holds a signature on the aiohttp path. Every failure is answered as that path answers it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from stratus.errors import RequestTooLarge, StratusError
from stratus.frontend.context import HOST, ApiContext
from stratus.frontend.responses import error_parts, incident_error
from stratus.gateway.server import PROTOCOLS, Bound
from stratus.http_types import MAX_BODY, HttpReply, Incoming
from stratus.identity.guard import CALLER, guard
from stratus.identity.keyring import Caller
from stratus.lean_routes import LeanHandler
from stratus.wire import authn
from stratus.wire.dispatch import dispatch
from stratus.wire.types import WireRequest


def json_targets(services: Iterable[Bound[Any]], context: ApiContext) -> Mapping[str, LeanHandler]:
    """A lean handler for each X-Amz-Target prefix a JSON-protocol service declares."""
    handlers: dict[str, LeanHandler] = {}
    for bound in services:
        if bound.service.speaks("json"):
            for prefix in bound.service.signing.targets:
                handlers[prefix] = _handler(bound, context)
    return handlers


def _handler(bound: Bound[Any], context: ApiContext) -> LeanHandler:
    service = bound.service
    protocol = PROTOCOLS["json"]

    async def handle(request: Incoming) -> HttpReply:
        try:
            if request.body is None:
                raise RequestTooLarge(f"Request must be smaller than {MAX_BODY} bytes.")
            query = parse_qsl(request.query, keep_blank_values=True)
            identity = authn.verify_parts(
                request.method,
                request.path,
                query,
                request.headers,
                request.body,
                context.keyring.resolve,
                expect=service.signing,
            )
            caller = identity.caller
            if not isinstance(caller, Caller):  # the keyring names every signer (a Caller)
                raise TypeError(f"unexpected signer {caller!r}")
            wire = WireRequest("POST", request.path, tuple(query), dict(request.headers), request.body)
            host_token = HOST.set(request.header("host"))
            caller_token = CALLER.set(caller)
            try:
                answer = await dispatch(
                    service,
                    protocol,
                    wire,
                    bound.context,
                    identity.region,
                    incident=incident_error,
                    guard=guard(context.authorizer, caller, request.peer),
                )
            finally:
                CALLER.reset(caller_token)
                HOST.reset(host_token)
            return HttpReply(answer.status, answer.headers, answer.body)
        except StratusError as e:
            return _error(e)
        except Exception as e:  # the client gets a code and an incident id, never a traceback
            return _error(incident_error(e))

    return handle


def _error(error: StratusError) -> HttpReply:
    status, headers, body = error_parts(error)
    return HttpReply(status, (("content-type", "application/json"), *headers.items()), body)
