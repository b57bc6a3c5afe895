"""PutEvents' entries: their size as EventBridge counts it, the checks it makes of each entry
(failing that entry alone), and the event each accepted entry becomes. Pure functions.

An entry's size: 14 bytes for Time when given, the UTF-8 bytes of Source, DetailType, Detail
and each of Resources; a request's entries may total 256 KB. The event delivered:
{version "0", id, detail-type, source, account, time, region, resources, detail}.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_REQUEST_BYTES = 256 * 1024


@dataclass(frozen=True)
class Refused:
    """One entry's failure, as PutEvents answers it in that entry's place."""

    code: str
    message: str


def entry_size(entry: Mapping[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        value = entry.get(member)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or ():
        if isinstance(resource, str):
            size += len(resource.encode())
    return size


def request_size(entries: Sequence[Mapping[str, Any]]) -> int:
    return sum(entry_size(e) for e in entries)


def check_entry(entry: Mapping[str, Any], *, caller_is_service: bool = False) -> Refused | dict[str, Any]:
    """The entry's detail (a JSON object), or why the entry fails."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            reason = f"Parameter {member} is not valid. Reason: {member} is a required argument."
            return Refused("InvalidArgument", reason)
    source = str(entry["Source"])
    if source.startswith("aws.") and not caller_is_service:
        return Refused("NotAuthorizedForSourceException", "Not authorized for the source.")
    try:
        detail = json.loads(str(entry["Detail"]))
    except (ValueError, RecursionError):
        return Refused("MalformedDetail", "Detail is malformed.")
    if not isinstance(detail, dict):
        return Refused("MalformedDetail", "Detail is malformed.")
    return detail


def event_time(when: datetime) -> str:
    """EventBridge's time: ISO 8601 in UTC to the second, with 'Z'."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_event(
    *,
    source: str,
    detail_type: str,
    detail: Mapping[str, Any],
    account: str,
    region: str,
    when: datetime,
    resources: Sequence[str] = (),
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": event_time(when),
        "region": region,
        "resources": list(resources),
        "detail": dict(detail),
    }


def bus_name(value: str | None) -> str:
    """An EventBusName given by name or ARN (`arn:aws:events:REGION:ACCOUNT:event-bus/NAME`)."""
    if not value:
        return "default"
    if value.startswith("arn:") and ":event-bus/" in value:
        return value.partition(":event-bus/")[2]
    return value
