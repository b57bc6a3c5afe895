"""CloudWatch Logs' writing side: creating log groups and streams, writing events into them
(PutLogEvents, as agents and logging libraries do), their KMS key and their tags."""

from __future__ import annotations

import re
import time
from typing import Any

from stratus.errors import InvalidParameter, ResourceNotFound
from stratus.observe.loggroups import GroupRecord, ResourceAlreadyExists, missing_group
from stratus.services.logs_context import LogsContext, require_group

# PutLogEvents' limits (CloudWatch Logs quotas): a batch's size counts each message's UTF-8
# bytes plus 26, and it may span at most 24 hours.
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
MAX_EVENT_BYTES = 256 * 1024 - EVENT_OVERHEAD
DAY_MS = 24 * 3600 * 1000
TOO_OLD_MS = 14 * DAY_MS  # older than this, or than the group's retention: rejected
TOO_NEW_MS = 2 * 3600 * 1000  # more than this in the future: rejected
_TAGGABLE = re.compile(r"^arn:[^:]+:logs:(?P<region>[^:]*):(?P<account>[^:]*):log-group:(?P<name>[^:]+)$")


def _now_ms() -> int:
    return int(time.time() * 1000)


async def create_log_group(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = params["logGroupName"]
    if ctx.exists(region, name):
        # A function's group exists as soon as it has lines, as on AWS once Lambda made it.
        raise ResourceAlreadyExists("The specified log group already exists")
    ctx.groups.create(
        GroupRecord(
            name,
            _now_ms(),
            kms_key_id=params.get("kmsKeyId"),
            group_class=params.get("logGroupClass") or "STANDARD",
            tags=dict(params.get("tags") or {}),
            region=region,
        )
    )
    return {}


async def create_log_stream(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    stream = params["logStreamName"]
    if any(s.stream == stream for s in ctx.logs.streams(region, group)):
        raise ResourceAlreadyExists("The specified log stream already exists")
    ctx.groups.create_stream(region, group, stream, _now_ms())
    return {}


async def put_log_events(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    stream = params["logStreamName"]
    if stream not in ctx.groups.streams(region, group) and not any(
        s.stream == stream for s in ctx.logs.streams(region, group)
    ):
        raise ResourceNotFound("The specified log stream does not exist.")
    events = sorted(params["logEvents"], key=lambda e: int(e["timestamp"]))
    size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
    if len(events) > MAX_BATCH_EVENTS or size > MAX_BATCH_BYTES:
        raise InvalidParameter(
            f"Upload too large: a batch may hold {MAX_BATCH_EVENTS} events and {MAX_BATCH_BYTES} bytes."
        )
    if events and int(events[-1]["timestamp"]) - int(events[0]["timestamp"]) > DAY_MS:
        raise InvalidParameter(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    if any(len(e["message"].encode()) > MAX_EVENT_BYTES for e in events):
        raise InvalidParameter(f"Log event too large: at most {MAX_EVENT_BYTES} bytes.")
    now = _now_ms()
    retention_days = ctx.logs.retention(region).get(group)
    oldest = now - min(TOO_OLD_MS, retention_days * DAY_MS if retention_days else TOO_OLD_MS)
    too_old = [i for i, e in enumerate(events) if int(e["timestamp"]) < oldest]
    too_new = [i for i, e in enumerate(events) if int(e["timestamp"]) > now + TOO_NEW_MS]
    rejected: dict[str, int] = {}
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old[-1]
    if too_new:
        rejected["tooNewLogEventStartIndex"] = too_new[0]
    for i, event in enumerate(events):
        if i not in too_old and i not in too_new:
            ctx.logs.append(region, group, stream, int(event["timestamp"]), event["message"])
    result: dict[str, Any] = {"nextSequenceToken": str(now)}
    if rejected:
        result["rejectedLogEventsInfo"] = rejected
    return result


def _record(ctx: LogsContext, region: str, group: str) -> GroupRecord:
    if not ctx.exists(region, group):
        raise missing_group()
    return ctx.groups.ensure(region, group, _now_ms())


def _tagged(ctx: LogsContext, arn: str, region: str) -> GroupRecord:
    """The group a tagging ARN names: of this account and of the request's region (a group of
    another region is another region's resource, not found here)."""
    match = _TAGGABLE.match(arn)
    if match is None or match.group("account") != ctx.account_id or match.group("region") != region:
        raise ResourceNotFound(f"The specified resource does not exist: {arn}")
    return _record(ctx, region, match.group("name"))


async def tag_resource(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.tag(_tagged(ctx, params["resourceArn"], region), dict(params["tags"]))
    return {}


async def untag_resource(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.untag(_tagged(ctx, params["resourceArn"], region), list(params["tagKeys"]))
    return {}


async def list_tags_for_resource(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {"tags": dict(_tagged(ctx, params["resourceArn"], region).tags)}


async def tag_log_group(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.tag(_record(ctx, region, params["logGroupName"]), dict(params["tags"]))
    return {}


async def untag_log_group(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.untag(_record(ctx, region, params["logGroupName"]), list(params["tags"]))
    return {}


async def list_tags_log_group(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {"tags": dict(_record(ctx, region, params["logGroupName"]).tags)}


async def associate_kms_key(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.set_kms_key(_record(ctx, region, require_group(ctx, params, region)), params["kmsKeyId"])
    return {}


async def disassociate_kms_key(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.groups.set_kms_key(_record(ctx, region, require_group(ctx, params, region)), None)
    return {}
