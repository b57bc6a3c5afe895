"""The shapes the bucket store's parts share: what a bucket, an object, an upload and a part are,
and what one change of an object is (the input of notifications). Frozen: the owner
(`objects.Buckets`) makes them, everyone else reads them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

# The object headers S3 stores with an object and answers GetObject/HeadObject with, by the
# boto3 parameter name (PutObject's and CreateMultipartUpload's input, GetObject's output).
STORED_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
    "WebsiteRedirectLocation",
)


@dataclass(frozen=True)
class BucketInfo:
    name: str
    region: str  # where it was created (LocationConstraint, or the signing region)
    created: datetime


@dataclass(frozen=True)
class Segment:
    """A run of an object's bytes held by one blob: a single-part object has one, a multipart
    object one per part (completing an upload copies nothing)."""

    blob: str
    size: int


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # without quotes: hex MD5, or hex MD5 of the parts' MD5s + "-N"
    last_modified: datetime
    content_type: str
    metadata: Mapping[str, str]  # user metadata, names lower-case, without "x-amz-meta-"
    headers: Mapping[str, str]  # STORED_HEADERS that were given, by boto3 name
    checksums: Mapping[str, str]  # e.g. {"ChecksumCRC32": "DUoRhQ=="}, as the client sent them
    segments: tuple[Segment, ...]
    sequencer: str  # 16 upper-case hex digits, increasing with every change in the store
    parts_count: int | None = None  # multipart objects only


@dataclass(frozen=True)
class UploadInfo:
    bucket: str
    key: str
    upload_id: str
    initiated: datetime
    content_type: str
    metadata: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str  # hex MD5, without quotes
    last_modified: datetime
    blob: str


@dataclass(frozen=True)
class ObjectChange:
    """One change of one object, as notifications see it. `event` is S3's event name without
    the "s3:" prefix: "ObjectCreated:Put", "ObjectCreated:Post", "ObjectCreated:Copy",
    "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete",
    "ObjectRemoved:DeleteMarkerCreated"."""

    event: str
    bucket: str
    bucket_region: str
    key: str
    size: int  # 0 for removals
    etag: str  # "" for removals
    sequencer: str
    time: datetime
    principal: str = "AWS:stratus"  # the requester's principal id (userIdentity.principalId)
    source_ip: str = "127.0.0.1"
    request_id: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    """One event for one target: what the outbox holds until the async queue (a function's),
    the queue or the topic has it."""

    target_arn: str  # a function (or function:qualifier), a queue or a topic
    region: str
    payload: bytes
