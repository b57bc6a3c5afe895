"""One request to a declared service, from the wire to the wire:

    operation -> parse -> validate (the model) -> handler -> serialize

Every way it can go wrong becomes the protocol's own error answer here, once: a request that
names no operation or cannot be read (BadRequest), input the model refuses (the service's
validation error), an operation the service does not implement, any `StratusError` a handler
raises (it carries its code, status and fault), and an unexpected exception, which the client
hears of only as an incident id (`incident`, the gateway's mapper: never a traceback).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from stratus.errors import DiskFull, StratusError
from stratus.wire import validate
from stratus.wire.legacy_query import AUTH_CODES
from stratus.wire.models import protocol_model
from stratus.wire.service import Service, not_implemented
from stratus.wire.types import BadRequest, WireError, WireProtocol, WireRequest, WireResponse

C = TypeVar("C")
FORM = "application/x-www-form-urlencoded"

# What a client hears of an exception nobody expected: the gateway's mapper, which logs it under
# an incident id (and recognises a full disk). Passed in, so the wire layer imports no gateway.
Incident = Callable[[BaseException], StratusError]
# Whether the caller may run the operation, given the service, its context, the operation's
# name, its checked input and the region; raises AccessDenied when not (identity/guard.py).
Guard = Callable[[Service[Any], Any, str, Mapping[str, Any], str], None]


async def dispatch(
    service: Service[C],
    protocol: WireProtocol,
    request: WireRequest,
    context: C,
    region: str,
    *,
    incident: Incident,
    guard: Guard | None = None,
) -> WireResponse:
    model = protocol_model(service.model, protocol.name)
    request_id = str(uuid.uuid4())
    try:
        try:
            operation, labels = protocol.operation(model, request)
            handler = service.handlers.get(operation.name)
            if handler is None:
                return protocol.error(model, not_implemented(protocol.name, operation.name), request_id)
            params = protocol.parse(operation, request, labels)
        except BadRequest as e:
            return protocol.error(model, WireError(e.code, e.message, e.status), request_id)
        if operation.input_shape is not None:
            problems = validate.validate(
                operation.input_shape, params, unchecked_enums=service.unchecked_enums
            )
            if problems:
                return protocol.error(
                    model, service.invalid(problems, validate.message(problems)), request_id
                )
        if guard is not None:
            guard(service, context, operation.name, params, region)
        result = await handler(context, params, region)
        return protocol.serialize(operation, result, request_id)
    except DiskFull as e:  # the gateway's mapper also notes it in the log, once a minute
        return protocol.error(model, wire_error(incident(e)), request_id)
    except StratusError as e:
        error = for_protocol(wire_error(e), protocol.name)
        if service.access_denied_code and error.code in ("AccessDenied", "AccessDeniedException"):
            error = WireError(service.access_denied_code, error.message, error.status, error.sender_fault)
        return protocol.error(model, error, request_id)
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return protocol.error(model, wire_error(incident(e)), request_id)


def wire_error(error: StratusError) -> WireError:
    return WireError(error.code, error.message, error.status, error.sender_fault, dict(error.extra))


def for_protocol(error: WireError, protocol: str) -> WireError:
    """`error` with the code the protocol's services give it (AccessDenied in XML)."""
    if protocol in ("query", "rest-xml") and error.code in AUTH_CODES:
        return WireError(
            AUTH_CODES[error.code], error.message, error.status, error.sender_fault, error.fields
        )
    return error


def protocol_for(service: Service[Any], request: WireRequest) -> str | None:
    """The protocol a request to `service` speaks, or None when the service does not speak it:
    `X-Amz-Target` is JSON; a form is query where the service speaks query (its Action, or the
    lack of one, is the query protocol's to read), else a REST request like any other body;
    anything else is the service's REST protocol."""
    if request.header("x-amz-target") is not None:
        name: str | None = "json"
    elif service.speaks("query") and _content_type(request) == FORM:
        name = "query"
    else:
        name = service.rest_protocol
    return name if name is not None and service.speaks(name) else None


def _content_type(request: WireRequest) -> str:
    return (request.header("content-type") or "").partition(";")[0].strip().lower()
