"""The S3 front: a request the gateway recognises as S3's (its credential scope, its host, or
an unsigned request nothing else claims), from the first header to the last byte.

The gateway's own SigV4 middleware reads a whole body before checking it; S3's bodies can be
5 GiB, so S3 is checked here instead, before its body is read: the signature covers the
payload hash the client claims (x-amz-content-sha256), the body is held to that claim as it
streams (XAmzContentSHA256Mismatch at its end, before anything is committed), and an
aws-chunked body's chunks are verified one by one (chunked.py). The operation is found with
the rest-xml route table, parsed from a body-less request, and authorized by the identity
guard from `api.SERVICE`'s table, exactly as `wire.dispatch` does; PutObject, UploadPart,
GetObject and HeadObject then stream (transfer.py), every other operation goes through
`wire.dispatch` with its (small, XML) body read in memory.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

from aiohttp import web
from multidict import CIMultiDict

from stratus.buckets import api, chunked, http_rules, transfer
from stratus.buckets.context import S3Context
from stratus.buckets.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidRequest,
    NotModified,
)
from stratus.errors import StratusError
from stratus.identity.authorizer import Authorizer
from stratus.identity.guard import CALLER, guard
from stratus.identity.keyring import Caller
from stratus.wire import sigv4, validate
from stratus.wire.dispatch import Incident, dispatch, for_protocol, wire_error
from stratus.wire.models import service_model
from stratus.wire.rest_xml import RestXmlProtocol
from stratus.wire.service import Service
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse

PROTOCOL = RestXmlProtocol(api.NO_ROUTE)


# -- what is S3's ------------------------------------------------------------------------------


# -- pure decisions ----------------------------------------------------------------------------


# -- the request -------------------------------------------------------------------------------


async def handle(
    request: web.Request,
    service: Service[S3Context],
    context: S3Context,
    keys: sigv4.KeyLookup,
    authorizer: Authorizer,
    incident: Incident,
) -> web.StreamResponse:
    """Answer one S3 request; every error in S3's XML (none at all for HEAD)."""
    request_id = uuid.uuid4().hex.upper()[:16]
    raw_path = request.raw_path.split("?", 1)[0]
    bucket = http_rules.virtual_bucket(request.host)
    routed = f"/{bucket}{raw_path if raw_path != '/' else ''}" if bucket else raw_path
    try:
        return await _serve(request, service, context, keys, authorizer, incident, routed, request_id)
    except StratusError as e:
        return _error(request, for_protocol(wire_error(e), "rest-xml"), routed, request_id)
    except BadRequest as e:
        return _error(request, WireError(e.code, e.message, e.status), routed, request_id)
    except Exception as e:  # the client gets a code and an incident id, never a traceback
        return _error(request, wire_error(incident(e)), routed, request_id)


async def _serve(
    request: web.Request,
    service: Service[S3Context],
    context: S3Context,
    keys: sigv4.KeyLookup,
    authorizer: Authorizer,
    incident: Incident,
    routed: str,
    request_id: str,
) -> web.StreamResponse:
    query = tuple(request.query.items())
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = headers.get("authorization", "")
    if "AWSAccessKeyId" in dict(query) or auth.startswith("AWS "):  # Signature Version 2
        raise InvalidRequest(
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
        )
    if http_rules.unsigned(headers, dict(query)):
        raise AccessDenied("Access Denied: anonymous requests are not accepted; sign the request (SigV4).")
    signed = _verify(request, query, headers, routed, service, keys)
    caller = signed.identity.caller
    if not isinstance(caller, Caller):  # the keyring names every signer (a Caller)
        raise TypeError(f"unexpected signer {caller!r}")
    region = signed.identity.region
    wire = WireRequest(request.method, routed, query, headers, b"")
    model = service_model(service.model)
    operation, labels = PROTOCOL.operation(model, wire)
    keep_out = guard(authorizer, caller, request.remote)
    caller_token = CALLER.set(caller)
    requester_token = api.REQUESTER.set((f"AWS:{caller.user_id}", request.remote or "127.0.0.1", request_id))
    try:
        if operation.name not in api.STREAMED:
            body = await transfer.small_body(request, signed, headers)
            answer = await dispatch(
                service,
                PROTOCOL,
                dataclasses.replace(wire, body=body),
                context,
                region,
                incident=incident,
                guard=keep_out,
            )
            return _answer(request, answer)
        params = PROTOCOL.parse(operation, wire, labels)
        if operation.input_shape is not None:
            problems = validate.validate(operation.input_shape, params)
            if problems:
                problem = service.invalid(problems, validate.message(problems))
                raise InvalidArgument(problem.message)
        if keep_out is not None:
            keep_out(service, context, operation.name, params, region)
        if operation.name in ("GetObject", "HeadObject"):
            return await transfer.get(request, context, params, request_id, incident)
        return await transfer.put(request, context, operation.name, params, signed, headers, request_id)
    finally:
        api.REQUESTER.reset(requester_token)
        CALLER.reset(caller_token)


def _verify(
    request: web.Request,
    query: tuple[tuple[str, str], ...],
    headers: dict[str, str],
    routed: str,
    service: Service[S3Context],
    keys: sigv4.KeyLookup,
) -> transfer.Signed:
    presigned = "authorization" not in headers
    claimed = headers.get("x-amz-content-sha256")
    if presigned:
        claimed = dict(query).get("X-Amz-Content-Sha256") or sigv4.UNSIGNED_PAYLOAD
        if claimed.startswith(sigv4.STREAMING):
            raise InvalidRequest("A presigned request cannot carry an aws-chunked body.")
    elif not claimed:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    elif not (claimed in (sigv4.UNSIGNED_PAYLOAD, *chunked.MODES) or transfer.is_sha256(claimed)):
        raise InvalidArgument(
            f"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a SHA-256: {claimed[:80]!r}"
        )
    snapshot = sigv4.SignedRequest(
        method=request.method,
        raw_path=request.raw_path.split("?", 1)[0],  # the path as signed (virtual-hosted: no bucket)
        query=query,
        headers=headers,
        body_sha256=claimed,
    )
    # Presigned requests are held to the object paths, read on the routed (path-style) path.
    expect = dataclasses.replace(
        service.signing, presigned=lambda method, _path: api.presignable(method, routed)
    )
    identity, key = sigv4.verify_head(snapshot, keys, datetime.now(UTC), expect=expect)
    return transfer.Signed(identity, key, claimed)


# -- bodies ------------------------------------------------------------------------------------


# -- answers -----------------------------------------------------------------------------------


def _answer(request: web.Request, answer: WireResponse) -> web.Response:
    headers = CIMultiDict(answer.headers)
    if request.method == "HEAD":
        return web.Response(status=answer.status, headers=headers)
    return web.Response(status=answer.status, headers=headers, body=answer.body)


def _error(request: web.Request, error: WireError, routed: str, request_id: str) -> web.StreamResponse:
    if error.code == NotModified.code:
        return web.Response(status=304, headers={"x-amz-request-id": request_id})
    fields = {"Resource": routed, **error.fields}
    shaped = WireError(error.code, error.message, error.status, error.sender_fault, fields)
    answer = PROTOCOL.error(service_model("s3"), shaped, request_id)
    if request.method == "HEAD":  # S3 answers HEAD errors with a status and no body
        return web.Response(
            status=answer.status, headers={k: v for k, v in answer.headers if k != "Content-Type"}
        )
    # The client may still be sending a body nobody will read: say the connection ends here.
    headers = CIMultiDict(answer.headers)
    if request.can_read_body and not request.content.at_eof():
        headers["Connection"] = "close"
    return web.Response(status=answer.status, headers=headers, body=answer.body)
