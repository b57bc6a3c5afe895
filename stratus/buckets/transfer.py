"""Object bodies in and out: a PUT's (or a part's) body streamed through the aws-chunked
decoder and the payload checks into the store, and an object streamed out (sendfile from its
open files) with its Range and conditional headers honoured."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from aiohttp import web

from stratus.buckets import api, chunked
from stratus.buckets.context import S3Context
from stratus.buckets.errors import (
    BadDigest,
    ContentSHA256Mismatch,
    EntityTooLarge,
    InvalidArgument,
    PreconditionFailed,
    S3Error,
)
from stratus.buckets.http_rules import byte_range, content_md5, object_headers, precondition
from stratus.buckets.model import ObjectInfo
from stratus.buckets.objects import OpenSpan
from stratus.store.blobs import CHUNK, MissingBlob
from stratus.wire import sigv4
from stratus.wire.dispatch import Incident

MAX_OBJECT = 5 * 1024**3  # a single PUT (and a part) holds at most 5 GiB


# The XML bodies of the other operations: CompleteMultipartUpload names up to 10,000 parts.
MAX_XML_BODY = 8 * 1024 * 1024


# Bytes handed to the blob writer at a time: each write is a hop to a thread.
WRITE_CHUNK = 1024 * 1024


class MaxMessageLengthExceeded(S3Error):
    code = "MaxMessageLengthExceeded"


class MissingContentLength(S3Error):
    code, status = "MissingContentLength", 411


@dataclasses.dataclass(frozen=True)
class Signed:
    identity: sigv4.Identity
    key: sigv4.StreamKey
    claimed: str  # x-amz-content-sha256, or UNSIGNED-PAYLOAD for a presigned request


def is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


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
    signed: Signed,
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
    digests = chunked.Digests(is_sha256(claimed), {*from_headers, *trailer_names})
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
    if is_sha256(claimed) and digests.sha256_hex() != claimed:
        raise ContentSHA256Mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    claims = {**from_headers, **{k: v for k, v in trailers.items() if k in chunked.CHECKSUMS}}
    digests.verify(claims)
    checksums.update({chunked.CHECKSUMS[k]: v for k, v in claims.items()})


async def small_body(request: web.Request, signed: Signed, headers: Mapping[str, str]) -> bytes:
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


async def put(
    request: web.Request,
    context: S3Context,
    operation: str,
    params: dict[str, Any],
    signed: Signed,
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


async def get(
    request: web.Request, context: S3Context, params: dict[str, Any], request_id: str, incident: Incident
) -> web.StreamResponse:
    for attempt in range(2):
        info = await context.buckets.get_object(params["Bucket"], params["Key"])
        headers = object_headers(info, request.query)
        headers["x-amz-request-id"] = headers["x-amz-id-2"] = request_id
        lowered = {k.lower(): v for k, v in request.headers.items()}
        verdict = precondition(info.etag, info.last_modified, lowered)
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
        if request.method == "HEAD" or end <= start:
            response = web.StreamResponse(status=status, headers=headers)
            await response.prepare(request)
            await response.write_eof()
            return response
        try:
            # Opened before anything is sent: an overwrite or delete from here on does not cut
            # the answer, and one since get_object is met by asking again.
            opened = await context.buckets.open(info, start, end)
        except MissingBlob:
            if attempt:
                raise
            continue
        return await _send(request, context, info, status, headers, (start, end), opened, incident)
    raise AssertionError("unreachable")


async def _send(
    request: web.Request,
    context: S3Context,
    info: ObjectInfo,
    status: int,
    headers: dict[str, str],
    span: tuple[int, int],
    opened: list[OpenSpan] | None,
    incident: Incident,
) -> web.StreamResponse:
    """The object's bytes after the headers: by sendfile from its open files (the kernel copies
    page cache to socket), or read and written in chunks where that cannot be done."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = span[1] - span[0]
    try:
        await response.prepare(request)
        transport = request.transport
        if opened is not None and transport is not None:
            loop = asyncio.get_running_loop()
            for piece in opened:
                try:
                    await loop.sendfile(transport, piece.file, piece.offset, piece.length)
                except NotImplementedError:  # a transport without sendfile: read and write
                    await _copy(response, piece)
        else:
            async for chunk in context.buckets.read(info, *span):
                await response.write(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away mid-object: nothing to answer
    except Exception as e:  # the status is sent: logged, and the connection cut short
        incident(e)
        if request.transport is not None:
            request.transport.abort()
    finally:
        for piece in opened or ():
            piece.file.close()
    return response


async def _copy(response: web.StreamResponse, piece: OpenSpan) -> None:
    left, position = piece.length, piece.offset
    while left > 0:
        chunk = await asyncio.to_thread(os.pread, piece.file.fileno(), min(CHUNK, left), position)
        if not chunk:
            raise MissingBlob("The object's data ended before its recorded size.")
        await response.write(chunk)
        left -= len(chunk)
        position += len(chunk)
