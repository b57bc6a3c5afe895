"""S3's declaration: its handlers (boto3's input in, boto3's result out) and its authorization
table. The operations whose bodies stream (PutObject, UploadPart, GetObject, HeadObject) are
served by `front.py`, which reads and writes the bytes itself; they are declared here so that
they are authorized from the same table.

S3's ARNs carry no region or account: a bucket is `arn:aws:s3:::BUCKET` and an object
`arn:aws:s3:::BUCKET/KEY`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, unquote

from stratus.buckets.context import S3Context
from stratus.buckets.errors import InvalidArgument, InvalidRequest, MalformedXML
from stratus.buckets.model import ObjectInfo, UploadInfo
from stratus.buckets.notify_api import (
    get_bucket_notification_configuration,
    put_bucket_notification_configuration,
)
from stratus.wire.rest_routes import NoRoute
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

# Who made the request being served, as an object change's record names it: (principal id,
# source IP, request id). Set by the front around each operation; handlers pass it to Buckets.
REQUESTER: ContextVar[tuple[str, str, str]] = ContextVar(
    "s3_requester", default=("AWS:stratus", "127.0.0.1", "")
)
US_EAST_1 = "us-east-1"
STANDARD = "STANDARD"


def owner(ctx: S3Context) -> dict[str, str]:
    return {"ID": ctx.account_id, "DisplayName": "stratus"}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def quoted(etag: str) -> str:
    return f'"{etag}"'


def presignable(method: str, path: str) -> bool:
    """Query-string signatures are accepted for reading and writing objects (a path with a
    bucket and a key), as presigned URLs are used: GET, HEAD and PUT."""
    if method not in ("GET", "HEAD", "PUT"):
        return False
    bucket, _, key = path.lstrip("/").partition("/")
    return bool(bucket) and bool(key)


# -- buckets -----------------------------------------------------------------------------------


async def create_bucket(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    configuration = params.get("CreateBucketConfiguration") or {}
    where = configuration.get("LocationConstraint") or region
    if configuration.get("LocationConstraint") == US_EAST_1:
        raise InvalidArgument("The specified location-constraint is not valid")
    info = await ctx.buckets.create_bucket(params["Bucket"], where)
    return {"Location": f"/{info.name}"}


async def head_bucket(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    info = ctx.buckets.bucket(params["Bucket"])
    return {"BucketRegion": info.region}


async def list_buckets(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    found = ctx.buckets.list_buckets()
    return {
        "Buckets": [{"Name": b.name, "CreationDate": b.created, "BucketRegion": b.region} for b in found],
        "Owner": owner(ctx),
    }


async def delete_bucket(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.buckets.delete_bucket(params["Bucket"])
    return {}


async def get_bucket_location(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    info = ctx.buckets.bucket(params["Bucket"])
    # us-east-1 answers an empty LocationConstraint, as S3 does.
    return {"LocationConstraint": None if info.region == US_EAST_1 else info.region}


# -- listing -----------------------------------------------------------------------------------


def _encoder(params: Mapping[str, Any]) -> Callable[[str], str]:
    """EncodingType=url (which botocore asks for by itself, and decodes): keys URL-encoded."""
    if params.get("EncodingType") == "url":
        return lambda text: quote(text, safe="/")
    return lambda text: text


def _max(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value is None:
        return 1000
    if value < 0:
        raise InvalidArgument(f"Argument {name} must be an integer between 0 and 2147483647")
    return min(int(value), 1000)


def _entry(info: ObjectInfo, encode: Callable[[str], str]) -> dict[str, Any]:
    return {
        "Key": encode(info.key),
        "LastModified": info.last_modified,
        "ETag": quoted(info.etag),
        "Size": info.size,
        "StorageClass": STANDARD,
    }


def _token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode()


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("The continuation token provided is incorrect") from None


async def list_objects_v2(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    encode = _encoder(params)
    prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
    token = params.get("ContinuationToken")
    start = _untoken(token) if token else params.get("StartAfter", "")
    max_keys = _max(params, "MaxKeys")
    contents, prefixes, truncated, last = await ctx.buckets.list_objects(
        params["Bucket"], prefix=prefix, delimiter=delimiter, start_after=start, max_keys=max_keys
    )
    result: dict[str, Any] = {
        "Name": params["Bucket"],
        "Prefix": encode(prefix),
        "MaxKeys": max_keys,
        "KeyCount": len(contents) + len(prefixes),
        "IsTruncated": truncated,
        "Contents": [_entry(o, encode) for o in contents] or None,
        "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes] or None,
        "EncodingType": params.get("EncodingType"),
    }
    if delimiter:
        result["Delimiter"] = encode(delimiter)
    if token:
        result["ContinuationToken"] = token
    if params.get("StartAfter"):
        result["StartAfter"] = encode(params["StartAfter"])
    if truncated and last is not None:
        result["NextContinuationToken"] = _token(last)
    if params.get("FetchOwner") and result["Contents"]:
        for entry in result["Contents"]:
            entry["Owner"] = owner(ctx)
    return result


async def list_objects(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    encode = _encoder(params)
    prefix, delimiter = params.get("Prefix", ""), params.get("Delimiter", "")
    max_keys = _max(params, "MaxKeys")
    contents, prefixes, truncated, last = await ctx.buckets.list_objects(
        params["Bucket"],
        prefix=prefix,
        delimiter=delimiter,
        start_after=params.get("Marker", ""),
        max_keys=max_keys,
    )
    result: dict[str, Any] = {
        "Name": params["Bucket"],
        "Prefix": encode(prefix),
        "Marker": encode(params.get("Marker", "")),
        "MaxKeys": max_keys,
        "IsTruncated": truncated,
        "Contents": [{**_entry(o, encode), "Owner": owner(ctx)} for o in contents] or None,
        "CommonPrefixes": [{"Prefix": encode(p)} for p in prefixes] or None,
        "EncodingType": params.get("EncodingType"),
    }
    if delimiter:
        result["Delimiter"] = encode(delimiter)
        if truncated and last is not None:
            result["NextMarker"] = encode(last)
    return result


# -- objects -----------------------------------------------------------------------------------


async def delete_object(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.buckets.delete_object(params["Bucket"], params["Key"], requester=REQUESTER.get())
    return {}


async def delete_objects(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    request = params.get("Delete") or {}
    objects = request.get("Objects") or []
    if not objects or len(objects) > 1000:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    quiet = bool(request.get("Quiet"))
    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for item in objects:
        key = item.get("Key", "")
        if not ctx.caller_may("s3:DeleteObject", object_arn(params["Bucket"], key), region):
            errors.append({"Key": key, "Code": "AccessDenied", "Message": "Access Denied"})
            continue
        try:
            await ctx.buckets.delete_object(params["Bucket"], key, requester=REQUESTER.get())
        except InvalidArgument as e:  # a key S3 could never hold: reported for that key alone
            errors.append({"Key": key, "Code": e.code, "Message": e.message})
            continue
        except Exception as e:
            code = getattr(e, "code", None)
            if code is None or code == "NoSuchBucket":
                raise
            errors.append({"Key": key, "Code": code, "Message": getattr(e, "message", str(e))})
            continue
        if not quiet:
            deleted.append({"Key": key})
    return {"Deleted": deleted or None, "Errors": errors or None}


def copy_source(text: str) -> tuple[str, str]:
    """x-amz-copy-source: `BUCKET/KEY` (URL-encoded, optionally with a leading slash and a
    `?versionId=`), as (bucket, key)."""
    path = text.split("?", 1)[0]
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
    return bucket, key


async def copy_object(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    src_bucket, src_key = copy_source(params["CopySource"])
    directive = params.get("MetadataDirective", "COPY")
    replace = directive == "REPLACE"
    if (src_bucket, src_key) == (params["Bucket"], params["Key"]) and not replace:
        raise InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or encryption "
            "attributes."
        )
    info = await ctx.buckets.copy_object(
        src_bucket,
        src_key,
        params["Bucket"],
        params["Key"],
        replace_metadata=replace,
        content_type=params.get("ContentType"),
        metadata={k.lower(): v for k, v in (params.get("Metadata") or {}).items()},
        headers=stored_headers(params),
        requester=REQUESTER.get(),
    )
    return {"CopyObjectResult": {"ETag": quoted(info.etag), "LastModified": info.last_modified}}


def stored_headers(params: Mapping[str, Any]) -> dict[str, str]:
    """The STORED_HEADERS a request gave, as the text the object will be answered with."""
    out: dict[str, str] = {}
    for name in (
        "CacheControl",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "WebsiteRedirectLocation",
    ):
        value = params.get(name)
        if value:
            out[name] = str(value)
    if "ContentEncoding" in out:  # aws-chunked describes the request, not the object
        kept = [e for e in (p.strip() for p in out["ContentEncoding"].split(",")) if e and e != "aws-chunked"]
        if kept:
            out["ContentEncoding"] = ",".join(kept)
        else:
            del out["ContentEncoding"]
    expires = params.get("Expires")
    if expires is not None:
        out["Expires"] = format_datetime(expires, usegmt=True) if hasattr(expires, "tzinfo") else str(expires)
    return out


# -- multipart ---------------------------------------------------------------------------------


async def create_multipart_upload(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    upload = await ctx.buckets.create_upload(
        params["Bucket"],
        params["Key"],
        content_type=params.get("ContentType") or "binary/octet-stream",
        metadata={k.lower(): v for k, v in (params.get("Metadata") or {}).items()},
        headers=stored_headers(params),
    )
    return {"Bucket": upload.bucket, "Key": upload.key, "UploadId": upload.upload_id}


async def complete_multipart_upload(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    parts = (params.get("MultipartUpload") or {}).get("Parts") or []
    if not parts:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    pairs = [(int(p.get("PartNumber", 0)), str(p.get("ETag", "")).strip('"')) for p in parts]
    info = await ctx.buckets.complete_upload(
        params["Bucket"], params["Key"], params["UploadId"], pairs, requester=REQUESTER.get()
    )
    return {
        "Location": f"/{info.bucket}/{quote(info.key)}",
        "Bucket": info.bucket,
        "Key": info.key,
        "ETag": quoted(info.etag),
    }


async def abort_multipart_upload(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    await ctx.buckets.abort_upload(params["Bucket"], params["Key"], params["UploadId"])
    return {}


async def list_parts(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    marker = int(params.get("PartNumberMarker") or 0)
    max_parts = _max(params, "MaxParts")
    upload, parts, truncated = await ctx.buckets.list_parts(
        params["Bucket"], params["Key"], params["UploadId"], marker=marker, max_parts=max_parts
    )
    result: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": max_parts,
        "IsTruncated": truncated,
        "Parts": [
            {"PartNumber": p.number, "LastModified": p.last_modified, "ETag": quoted(p.etag), "Size": p.size}
            for p in parts
        ]
        or None,
        "StorageClass": STANDARD,
        "Initiator": owner(ctx),
        "Owner": owner(ctx),
    }
    if parts:
        result["NextPartNumberMarker"] = parts[-1].number
    return result


def _upload_entry(ctx: S3Context, upload: UploadInfo) -> dict[str, Any]:
    return {
        "UploadId": upload.upload_id,
        "Key": upload.key,
        "Initiated": upload.initiated,
        "StorageClass": STANDARD,
        "Owner": owner(ctx),
        "Initiator": owner(ctx),
    }


async def list_multipart_uploads(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    max_uploads = _max(params, "MaxUploads")
    uploads, truncated = await ctx.buckets.list_uploads(
        params["Bucket"],
        prefix=params.get("Prefix", ""),
        key_marker=params.get("KeyMarker", ""),
        upload_id_marker=params.get("UploadIdMarker", ""),
        max_uploads=max_uploads,
    )
    result: dict[str, Any] = {
        "Bucket": params["Bucket"],
        "KeyMarker": params.get("KeyMarker", ""),
        "UploadIdMarker": params.get("UploadIdMarker", ""),
        "Prefix": params.get("Prefix", ""),
        "MaxUploads": max_uploads,
        "IsTruncated": truncated,
        "Uploads": [_upload_entry(ctx, u) for u in uploads] or None,
    }
    if truncated and uploads:
        result["NextKeyMarker"] = uploads[-1].key
        result["NextUploadIdMarker"] = uploads[-1].upload_id
    return result


async def _streamed(ctx: S3Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    # The front serves these itself (their bodies stream); dispatch never reaches this.
    raise RuntimeError("a streamed S3 operation reached the generic dispatcher")


# -- authorization -----------------------------------------------------------------------------


def on_bucket(action: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"s3:{action}", bucket_arn(str(params.get("Bucket", "")))

    return authorize


def on_object(action: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"s3:{action}", object_arn(str(params.get("Bucket", "")), str(params.get("Key", "")))

    return authorize


def _all_buckets(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "s3:ListAllMyBuckets", "*"


def _on_bucket_keys(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    # Each key of DeleteObjects is a DeleteObject of its own, answered per key by the handler
    # (AccessDenied for those the caller may not delete, as S3 answers), so the request itself
    # is not held to any one key (SERVICE's public_operations); this names what it acts on.
    objects = (params.get("Delete") or {}).get("Objects") or [{}]
    return "s3:DeleteObject", object_arn(str(params.get("Bucket", "")), str(objects[0].get("Key", "")))


def _copy_source(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    try:
        bucket, key = copy_source(str(params.get("CopySource", "")))
    except InvalidArgument:
        return ()  # the handler refuses it
    return (("s3:GetObject", object_arn(bucket, key)),)


HANDLERS: dict[str, Handler[S3Context]] = {
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "ListBuckets": list_buckets,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
    "ListObjectsV2": list_objects_v2,
    "ListObjects": list_objects,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
    "CreateMultipartUpload": create_multipart_upload,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
    "PutBucketNotificationConfiguration": put_bucket_notification_configuration,
    "GetBucketNotificationConfiguration": get_bucket_notification_configuration,
    "PutObject": _streamed,
    "UploadPart": _streamed,
    "GetObject": _streamed,
    "HeadObject": _streamed,
}
STREAMED = frozenset({"PutObject", "UploadPart", "GetObject", "HeadObject"})

AUTHORIZATION: dict[str, Authorization] = {
    "CreateBucket": on_bucket("CreateBucket"),
    "HeadBucket": on_bucket("ListBucket"),
    "ListBuckets": _all_buckets,
    "DeleteBucket": on_bucket("DeleteBucket"),
    "GetBucketLocation": on_bucket("GetBucketLocation"),
    "ListObjectsV2": on_bucket("ListBucket"),
    "ListObjects": on_bucket("ListBucket"),
    "DeleteObject": on_object("DeleteObject"),
    "DeleteObjects": _on_bucket_keys,
    "CopyObject": on_object("PutObject"),
    "CreateMultipartUpload": on_object("PutObject"),
    "CompleteMultipartUpload": on_object("PutObject"),
    "AbortMultipartUpload": on_object("AbortMultipartUpload"),
    "ListParts": on_object("ListMultipartUploadParts"),
    "ListMultipartUploads": on_bucket("ListBucketMultipartUploads"),
    "PutBucketNotificationConfiguration": on_bucket("PutBucketNotification"),
    "GetBucketNotificationConfiguration": on_bucket("GetBucketNotification"),
    "PutObject": on_object("PutObject"),
    "UploadPart": on_object("PutObject"),
    "GetObject": on_object("GetObject"),
    "HeadObject": on_object("GetObject"),
}

NO_ROUTE = NoRoute("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")

SERVICE = Service[S3Context](
    model="s3",
    # No path prefixes: S3 is reached by its credential scope or its host (the gateway hands
    # such requests to front.handle), not by a path of its own.
    signing=Signing("s3", presigned=presignable),
    handlers=HANDLERS,
    validation_error="InvalidArgument",
    protocols=("rest-xml",),
    no_route=NO_ROUTE,
    authorization=AUTHORIZATION,
    also_requires={"CopyObject": _copy_source},
    public_operations=frozenset({"DeleteObjects"}),
)
