"""The S3 event record a function receives for one object change (event message structure
version 2.1, as AWS documents it). Pure: the same change and configuration give the same bytes,
so a redelivered event is the event that was first sent."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC
from typing import Any
from urllib.parse import quote_plus

from stratus.buckets.model import ObjectChange


def event_key(key: str) -> str:
    """An object key as S3 writes it in an event: form-URL-encoded (a space is '+', '+' is
    '%2B'), '/' left as it is. Handlers undo it with `urllib.parse.unquote_plus`."""
    return quote_plus(key, safe="/")


def event_time(change: ObjectChange) -> str:
    """ISO 8601 in UTC with milliseconds and 'Z', e.g. 1970-01-01T00:00:00.000Z."""
    at = change.time.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def host_id(request_id: str) -> str:
    """x-amz-id-2: on AWS an opaque token of the host that answered; here derived from the
    request id, so that it is stable for a redelivered event."""
    return base64.b64encode(hashlib.sha256(request_id.encode()).digest()).decode()


def event_record(change: ObjectChange, config_id: str, account_id: str) -> dict[str, Any]:
    obj: dict[str, Any] = {"key": event_key(change.key)}
    if change.event.startswith("ObjectCreated:"):
        # Removals carry neither size nor eTag (there is no object left to describe).
        obj["size"] = change.size
        obj["eTag"] = change.etag
    obj["sequencer"] = change.sequencer
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": change.bucket_region,
        "eventTime": event_time(change),
        "eventName": change.event,
        "userIdentity": {"principalId": change.principal},
        "requestParameters": {"sourceIPAddress": change.source_ip},
        "responseElements": {
            "x-amz-request-id": change.request_id,
            "x-amz-id-2": host_id(change.request_id),
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": config_id,
            "bucket": {
                "name": change.bucket,
                "ownerIdentity": {"principalId": account_id},
                "arn": f"arn:aws:s3:::{change.bucket}",
            },
            "object": obj,
        },
    }
