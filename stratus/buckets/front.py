"""The S3 front: a request the gateway recognises as S3's (its credential scope, its host, or
an unsigned request nothing else claims), from the first header to the last byte.

The gateway's own SigV4 middleware reads a whole body before checking it; S3's bodies can be
5 GiB, so S3 is checked here instead, before its body is read: the signature covers the
payload hash the client claims (x-amz-content-sha256), the body is held to that claim as it
streams (XAmzContentSHA256Mismatch at its end, before anything is committed), and an
aws-chunked body's chunks are verified one by one (chunked.py). The operation is found with
the rest-xml route table, parsed from a body-less request, and authorized by the identity
guard from `api.SERVICE`'s table, exactly as `wire.dispatch` does; PutObject, UploadPart,
GetObject and HeadObject then stream here, every other operation goes through
`wire.dispatch` with its (small, XML) body read in memory.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import uuid
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from stratus.buckets import api, chunked
from stratus.buckets.context import S3Context
from stratus.buckets.errors import (
    AccessDenied,
    BadDigest,
    ContentSHA256Mismatch,
    EntityTooLarge,
    InvalidArgument,
    InvalidDigest,
    InvalidRange,
    InvalidRequest,
    NotModified,
    PreconditionFailed,
    S3Error,
)
from stratus.buckets.model import ObjectInfo
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

MAX_OBJECT = 5 * 1024**3  # a single PUT (and a part) holds at most 5 GiB
# The XML bodies of the other operations: CompleteMultipartUpload names up to 10,000 parts.
MAX_XML_BODY = 8 * 1024 * 1024
# Bytes handed to the blob writer at a time: each write is a hop to a thread.
WRITE_CHUNK = 1024 * 1024
PROTOCOL = RestXmlProtocol(api.NO_ROUTE)
# The request headers an object keeps (api.stored_headers), by boto3 name -> response header.
HEADER_NAMES = {
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "Expires": "Expires",
    "WebsiteRedirectLocation": "x-amz-website-redirect-location",
}
# GetObject's response-* query parameters override the stored headers.
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


class MaxMessageLengthExceeded(S3Error):
    code = "MaxMessageLengthExceeded"


class MissingContentLength(S3Error):
    code, status = "MissingContentLength", 411


# -- what is S3's ------------------------------------------------------------------------------


def virtual_bucket(host: str | None) -> str | None:
    """The bucket a virtual-hosted request names in its Host (`BUCKET.s3.ANYTHING`,
    `BUCKET.localhost`), or None for path-style addressing."""
    if not host:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    if ".s3." in name:
        bucket = name.split(".s3.", 1)[0]
        return bucket or None
    if name.endswith(".s3"):
        return name[: -len(".s3")] or None
    if name.endswith(".localhost"):
        # One label only: longer names under .localhost are other things' (function URLs).
        bucket = name[: -len(".localhost")]
        return bucket if bucket and "." not in bucket and bucket != "s3" else None
    return None


def signed_for_s3(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether the credential scope (header or presigned query) names the service `s3`."""
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    credential = query.get("X-Amz-Credential", "")
    return "/s3/aws4_request" in auth or credential.endswith("/s3/aws4_request")


def unsigned(headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    return (
        not (headers.get("Authorization") or headers.get("authorization")) and "X-Amz-Algorithm" not in query
    )


# -- pure decisions ----------------------------------------------------------------------------


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a `Range: bytes=...` header against an object of `size` bytes; None
    for the whole object (no header, or one S3 ignores: not bytes, several ranges, unreadable);
    InvalidRange when it cannot be satisfied."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0 or size == 0:
                raise _unsatisfiable(size)
            return max(0, size - suffix), size
        start = int(first)
        end = int(last) + 1 if last else max(size, start + 1)
    except ValueError:
        return None
    if start < 0 or end <= start:  # bytes=5-2: not a range, the whole object
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size)


def _unsatisfiable(size: int) -> InvalidRange:
    return InvalidRange("The requested range is not satisfiable", ActualObjectSize=str(size))


def _etags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()]


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def precondition(etag: str, modified: datetime, headers: Mapping[str, str]) -> int | None:
    """None when the conditional headers let a GET/HEAD through, else 412 or 304, as S3
    combines them: If-Match that holds overrides a failing If-Unmodified-Since, and
    If-None-Match that fails (304) overrides an If-Modified-Since that holds."""
    modified = modified.replace(microsecond=0)
    if_match, if_none = headers.get("if-match"), headers.get("if-none-match")
    if if_match is not None:
        tags = _etags(if_match)
        if "*" not in tags and etag not in tags:
            return 412
    elif (since := _http_date(headers.get("if-unmodified-since", ""))) is not None and modified > since:
        return 412
    if if_none is not None:
        tags = _etags(if_none)
        if "*" in tags or etag in tags:
            return 304
    elif (since := _http_date(headers.get("if-modified-since", ""))) is not None and modified <= since:
        return 304
    return None


def content_md5(header: str | None) -> bytes | None:
    if header is None:
        return None
    try:
        raw = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise InvalidDigest("The Content-MD5 you specified was not valid.")
    return raw


# -- the request -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Signed:
    identity: sigv4.Identity
    key: sigv4.StreamKey
    claimed: str  # x-amz-content-sha256, or UNSIGNED-PAYLOAD for a presigned request


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
    bucket = virtual_bucket(request.host)
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
    if unsigned(headers, dict(query)):
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
            body = await _small_body(request, signed, headers)
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
            return await _get(request, context, params, request_id, incident)
        return await _put(request, context, operation.name, params, signed, headers, request_id)
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
) -> _Signed:
    presigned = "authorization" not in headers
    claimed = headers.get("x-amz-content-sha256")
    if presigned:
        claimed = dict(query).get("X-Amz-Content-Sha256") or sigv4.UNSIGNED_PAYLOAD
        if claimed.startswith(sigv4.STREAMING):
            raise InvalidRequest("A presigned request cannot carry an aws-chunked body.")
    elif not claimed:
        raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
    elif not (claimed in (sigv4.UNSIGNED_PAYLOAD, *chunked.MODES) or _is_sha256(claimed)):
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
    return _Signed(identity, key, claimed)


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


# -- bodies ------------------------------------------------------------------------------------


def _expected_size(headers: Mapping[str, str], claimed: str) -> int | None:
    name = "x-amz-decoded-content-length" if claimed.startswith(sigv4.STREAMING) else "content-length"
    text = headers.get(name)
    if text is None:
        if claimed.startswith(sigv4.STREAMING):
            raise MissingContentLength("You must provide the x-amz-decoded-content-length header.")
        return None
    if not text.isdigit():
        raise InvalidArgument(f"{name} must be a whole number of bytes.")
    size = int(text)
    if size > MAX_OBJECT:
        raise EntityTooLarge("Your proposed upload exceeds the maximum allowed object size.")
    return size


async def payload(
    request: web.Request,
    signed: _Signed,
    headers: Mapping[str, str],
    checksums: dict[str, str],
) -> AsyncGenerator[bytes, None]:
    """The request's payload, decoded (aws-chunked) and checked as it streams. The checks that
    need the whole payload (its SHA-256, its checksums, a chunked body's end) raise before
    the iterator ends, so whoever consumes it commits nothing when they fail. `checksums` is
    filled, by boto3 parameter name, with what the headers and trailers claim."""
    claimed = signed.claimed
    decoder = chunked.Decoder(claimed, signed.key) if claimed.startswith(sigv4.STREAMING) else None
    from_headers = chunked.checksum_headers(headers)
    trailer_names = {n.strip().lower() for n in headers.get("x-amz-trailer", "").split(",") if n.strip()}
    digests = chunked.Digests(_is_sha256(claimed), {*from_headers, *trailer_names})
    pending: list[bytes] = []
    held = 0
    while True:
        data = await request.content.readany()
        if not data:
            break
        for piece in decoder.feed(data) if decoder is not None else (data,):
            digests.update(piece)
            pending.append(piece)
            held += len(piece)
        if held >= WRITE_CHUNK:
            yield b"".join(pending)
            pending, held = [], 0
    trailers = decoder.finish() if decoder is not None else {}
    if pending:
        yield b"".join(pending)
    if _is_sha256(claimed) and digests.sha256_hex() != claimed:
        raise ContentSHA256Mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    claims = {**from_headers, **{k: v for k, v in trailers.items() if k in chunked.CHECKSUMS}}
    digests.verify(claims)
    checksums.update({chunked.CHECKSUMS[k]: v for k, v in claims.items()})


async def _small_body(request: web.Request, signed: _Signed, headers: Mapping[str, str]) -> bytes:
    """The body of an operation other than the streamed ones (XML, or nothing), whole, held to
    the same checks as a streamed one."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_XML_BODY:
        raise MaxMessageLengthExceeded("Your request was too big.")
    parts: list[bytes] = []
    size = 0
    async for piece in payload(request, signed, headers, {}):
        size += len(piece)
        if size > MAX_XML_BODY:
            raise MaxMessageLengthExceeded("Your request was too big.")
        parts.append(piece)
    body = b"".join(parts)
    md5 = content_md5(headers.get("content-md5"))
    if md5 is not None and hashlib.md5(body).digest() != md5:
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    return body


async def _put(
    request: web.Request,
    context: S3Context,
    operation: str,
    params: dict[str, Any],
    signed: _Signed,
    headers: Mapping[str, str],
    request_id: str,
) -> web.StreamResponse:
    expected = _expected_size(headers, signed.claimed)
    if expected is None and request.headers.get("Transfer-Encoding", "").lower() != "chunked":
        raise MissingContentLength("You must provide the Content-Length HTTP header.")
    md5 = content_md5(headers.get("content-md5"))
    checksums: dict[str, str] = {}
    body = payload(request, signed, headers, checksums)
    answer = {"x-amz-request-id": request_id, "x-amz-id-2": request_id}
    try:
        if operation == "UploadPart":
            number = int(params["PartNumber"])
            if not 1 <= number <= 10000:
                raise InvalidArgument("Part number must be an integer between 1 and 10000, inclusive")
            part = await context.buckets.put_part(
                params["Bucket"],
                params["Key"],
                params["UploadId"],
                number,
                body,
                content_md5=md5,
                expected_size=expected,
            )
            answer["ETag"] = api.quoted(part.etag)
        else:
            info = await context.buckets.put_object(
                params["Bucket"],
                params["Key"],
                body,
                content_type=params.get("ContentType") or "binary/octet-stream",
                metadata={k.lower(): v for k, v in (params.get("Metadata") or {}).items()},
                headers=api.stored_headers(params),
                checksums=checksums,
                content_md5=md5,
                expected_size=expected,
                requester=api.REQUESTER.get(),
            )
            answer["ETag"] = api.quoted(info.etag)
    finally:
        await body.aclose()
    reverse = {v: k for k, v in chunked.CHECKSUMS.items()}
    answer.update({reverse[name]: value for name, value in checksums.items()})
    return web.Response(status=200, headers=answer)


async def _get(
    request: web.Request, context: S3Context, params: dict[str, Any], request_id: str, incident: Incident
) -> web.StreamResponse:
    info = await context.buckets.get_object(params["Bucket"], params["Key"])
    headers = object_headers(info, request.query)
    headers["x-amz-request-id"] = headers["x-amz-id-2"] = request_id
    verdict = precondition(info.etag, info.last_modified, {k.lower(): v for k, v in request.headers.items()})
    if verdict == 412:
        raise PreconditionFailed("At least one of the pre-conditions you specified did not hold")
    if verdict == 304:
        keep = ("ETag", "Last-Modified", "x-amz-request-id", "x-amz-id-2")
        return web.Response(status=304, headers={k: headers[k] for k in keep})
    span = byte_range(request.headers.get("Range"), info.size)
    start, end = span if span is not None else (0, info.size)
    status = 206 if span is not None else 200
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
    headers["Content-Length"] = str(end - start)
    if request.method == "HEAD":
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        await response.write_eof()
        return response
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    try:
        if end > start:
            async for chunk in context.buckets.read(info, start, end):
                await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-object: nothing to answer
    except Exception as e:  # the status is sent: logged, and the connection cut short
        incident(e)
        if request.transport is not None:
            request.transport.abort()
    return response


def object_headers(info: ObjectInfo, query: Mapping[str, str]) -> dict[str, str]:
    """The headers GetObject and HeadObject answer an object with."""
    headers = {
        "Content-Type": info.content_type,
        "ETag": api.quoted(info.etag),
        "Last-Modified": format_datetime(info.last_modified.astimezone(UTC), usegmt=True),
        "Accept-Ranges": "bytes",
    }
    for name, value in info.headers.items():
        header = HEADER_NAMES.get(name)
        if header is not None:
            headers[header] = value
    for name, value in info.metadata.items():
        headers[f"x-amz-meta-{name}"] = value
    for name, value in info.checksums.items():
        header = {v: k for k, v in chunked.CHECKSUMS.items()}.get(name)
        if header is not None and query.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers[header] = value
    if info.parts_count:
        headers["x-amz-mp-parts-count"] = str(info.parts_count)
    for name, header in OVERRIDES.items():
        if name in query:
            headers[header] = query[name]
    return headers


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
