"""S3's pure HTTP rules for objects: which requests are S3's (a bucket's host, a credential
scope naming s3, no signature at all), the Range and conditional headers, Content-MD5, and the
headers an object is answered with."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from stratus.buckets import api, chunked
from stratus.buckets.errors import InvalidDigest, InvalidRange
from stratus.buckets.model import ObjectInfo

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
