"""CloudWatch Logs, the subset that reading function logs needs (JSON protocol,
`X-Amz-Target: Logs_20140328.*`), declared as `SERVICE`. The model checks required members,
lengths, patterns and enums at the edge; the handlers check what it cannot (a log group named
by one of two members, the allowed retention periods, the tokens they issued)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stratus.errors import InvalidParameter, InvalidParameterValue
from stratus.observe.filters import BadPattern, compile_pattern
from stratus.observe.logstore import RETENTION_DAYS, LogEvent
from stratus.services import logs_groups as writes
from stratus.services.logs_context import LogsContext as LogsContext
from stratus.services.logs_context import group_arn, require_group
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "Logs_20140328"


def _token(params: dict[str, Any], key: str) -> int:
    token = params.get(key)
    if token is None:
        return 0
    try:
        return int(str(token).split("/")[-1])
    except ValueError:
        raise InvalidParameterValue("The specified nextToken is invalid.") from None


async def describe_log_groups(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    prefix = params.get("logGroupNamePrefix", "")
    retention = ctx.logs.retention(region)
    found = {name: (created, stored) for name, created, stored in ctx.logs.groups(region, prefix)}
    made = {r.name: r for r in ctx.groups.all(region) if r.name.startswith(prefix)}
    groups = []
    for name in sorted(found.keys() | made.keys()):
        record = made.get(name)
        created, stored = found.get(name, (record.created_ms if record else 0, 0))
        group: dict[str, Any] = {
            "logGroupName": name,
            "creationTime": record.created_ms if record else created,
            "storedBytes": stored,
            "metricFilterCount": 0,
            "arn": group_arn(region, ctx.account_id, name),
            "logGroupArn": group_arn(region, ctx.account_id, name)[:-2],
            "logGroupClass": record.group_class if record else "STANDARD",
        }
        if name in retention:
            group["retentionInDays"] = retention[name]
        if record is not None and record.kms_key_id:
            group["kmsKeyId"] = record.kms_key_id
        groups.append(group)
    start = _token(params, "nextToken")
    limit = int(params.get("limit", 50))
    result: dict[str, Any] = {"logGroups": groups[start : start + limit]}
    if start + limit < len(groups):
        result["nextToken"] = f"groups/{start + limit}"
    return result


async def put_retention_policy(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    days = params["retentionInDays"]
    if days not in RETENTION_DAYS:  # the model says only "integer"
        raise InvalidParameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
        )
    group = require_group(ctx, params, region)
    ctx.logs.put_retention(region, group, int(days))
    return {}


async def delete_retention_policy(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.logs.delete_retention(region, require_group(ctx, params, region))
    return {}


async def describe_log_streams(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    created = ctx.groups.streams(region, group)
    arn = f"arn:aws:logs:{region}:{ctx.account_id}:log-group:{group}:log-stream:"
    shapes: dict[str, dict[str, Any]] = {
        name: {"logStreamName": name, "creationTime": ms, "storedBytes": 0, "arn": arn + name}
        for name, ms in created.items()
    }
    for s in ctx.logs.streams(region, group):
        shapes[s.stream] = {
            "logStreamName": s.stream,
            "creationTime": created.get(s.stream, s.first_ts),
            "firstEventTimestamp": s.first_ts,
            "lastEventTimestamp": s.last_ts,
            "lastIngestionTime": s.last_ingested,
            "storedBytes": s.stored_bytes,
            "arn": arn + s.stream,
        }
    streams = list(shapes.values())
    if params.get("orderBy") == "LastEventTime":
        streams.sort(
            key=lambda s: int(s.get("lastEventTimestamp", 0)), reverse=bool(params.get("descending"))
        )
    else:
        streams.sort(key=lambda s: str(s["logStreamName"]), reverse=bool(params.get("descending")))
    prefix = params.get("logStreamNamePrefix")
    if prefix:
        streams = [s for s in streams if str(s["logStreamName"]).startswith(prefix)]
    start = _token(params, "nextToken")
    limit = int(params.get("limit", 50))
    result: dict[str, Any] = {"logStreams": streams[start : start + limit]}
    if start + limit < len(streams):
        result["nextToken"] = f"streams/{start + limit}"
    return result


def _event(e: LogEvent, with_stream: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "timestamp": e.timestamp,
        "message": e.message,
        "ingestionTime": e.ingestion_time,
    }
    if with_stream:
        shape["logStreamName"] = e.stream
        shape["eventId"] = str(e.event_id)
    return shape


async def get_log_events(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    stream = params["logStreamName"]
    limit = params.get("limit", 10000)
    after = _token(params, "nextToken")
    backwards = not params.get("startFromHead", False) and not after
    events = ctx.logs.events(
        region,
        group,
        streams=[stream],
        start=params.get("startTime"),
        end=params.get("endTime"),
        after_id=after,
        limit=limit,
        descending=backwards,
    )
    if backwards:
        events.reverse()
    last = events[-1].event_id if events else after
    first = events[0].event_id if events else after
    return {
        "events": [_event(e, False) for e in events],
        "nextForwardToken": f"f/{last}",
        "nextBackwardToken": f"b/{first}",
    }


async def filter_log_events(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    limit = params.get("limit", 10000)
    after = _token(params, "nextToken")
    pattern = params.get("filterPattern", "")
    try:
        matches = compile_pattern(pattern)
    except BadPattern as e:
        raise InvalidParameter(f"Invalid filter pattern: {e}.") from None
    streams = params.get("logStreamNames")
    prefix = params.get("logStreamNamePrefix")
    if prefix:
        streams = [s.stream for s in ctx.logs.streams(region, group) if s.stream.startswith(prefix)]
    found: list[LogEvent] = []
    cursor = after
    while len(found) < limit:
        batch = ctx.logs.events(
            region,
            group,
            streams=streams,
            start=params.get("startTime"),
            end=params.get("endTime"),
            after_id=cursor,
            limit=1000,
        )
        if not batch:
            break
        for event in batch:
            cursor = event.event_id
            if matches(event.message):
                found.append(event)
                if len(found) >= limit:
                    break
    result: dict[str, Any] = {"events": [_event(e, True) for e in found], "searchedLogStreams": []}
    if len(found) >= limit:
        result["nextToken"] = str(cursor)
    return result


async def delete_log_group(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = require_group(ctx, params, region)
    ctx.logs.delete_group(region, group)
    ctx.groups.delete(region, group)
    return {}


OPERATIONS: dict[str, Handler[LogsContext]] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "DeleteLogGroup": delete_log_group,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "CreateLogGroup": writes.create_log_group,
    "CreateLogStream": writes.create_log_stream,
    "PutLogEvents": writes.put_log_events,
    "TagResource": writes.tag_resource,
    "UntagResource": writes.untag_resource,
    "ListTagsForResource": writes.list_tags_for_resource,
    "TagLogGroup": writes.tag_log_group,
    "UntagLogGroup": writes.untag_log_group,
    "ListTagsLogGroup": writes.list_tags_log_group,
    "AssociateKmsKey": writes.associate_kms_key,
    "DisassociateKmsKey": writes.disassociate_kms_key,
}

# -- authorization ---------------------------------------------------------------------------
# The Service Authorization Reference ("Actions, resources, and condition keys for Amazon
# CloudWatch Logs"): GetLogEvents acts on a log stream, the others served here on a log group
# (DescribeLogGroups too, on no group in particular). A log-group operation is evaluated against
# the group's `:log-stream:` with no stream, which is why CloudWatch Logs' guide has policies name
# a group as `log-group:NAME:*` for every action but the tagging ones: that pattern matches both
# `log-group:NAME:log-stream:` and `log-group:NAME:log-stream:S`, a bare `log-group:NAME` neither.

# A log group named by its ARN in logGroupIdentifier (with or without the trailing `:*`).
_GROUP_ARN = re.compile(r"^arn:[^:]*:logs:[^:]*:[^:]*:log-group:(?P<name>[^:]+)(?::\*)?$")


def log_stream_arn(region: str, account: str, group: str, stream: str = "") -> str:
    """The resource of an operation on log group `group` (and on its stream `stream`)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"


def _group_named(params: Mapping[str, Any]) -> str:
    """The group a request names (the handlers read only logGroupName and refuse a request
    without one; a logGroupIdentifier still names the group the caller meant)."""
    name = params.get("logGroupName")
    if isinstance(name, str) and name:
        return name
    identifier = str(params.get("logGroupIdentifier") or "")
    match = _GROUP_ARN.match(identifier)
    return match.group("name") if match else identifier


def _on_group(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"logs:{operation}", log_stream_arn(region, account, _group_named(params))

    return authorize


def _describe_log_groups(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "logs:DescribeLogGroups", log_stream_arn(region, account, "")


def _on_stream(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        stream = str(params.get("logStreamName", ""))
        return f"logs:{operation}", log_stream_arn(region, account, _group_named(params), stream)

    return authorize


def _on_tagged(operation: str) -> Authorization:
    """The tagging actions name a group by its ARN without `:*` (the documented exception)."""

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        name = params.get("logGroupName")
        if not isinstance(name, str):
            match = _GROUP_ARN.match(str(params.get("resourceArn", "")))
            name = match.group("name") if match else ""
        return f"logs:{operation}", f"arn:aws:logs:{region}:{account}:log-group:{name}"

    return authorize


AUTHORIZATION: dict[str, Authorization] = {
    "DescribeLogGroups": _describe_log_groups,
    "GetLogEvents": _on_stream("GetLogEvents"),
    **{op: _on_stream(op) for op in ("CreateLogStream", "PutLogEvents")},
    **{
        op: _on_tagged(op)
        for op in (
            "TagResource",
            "UntagResource",
            "ListTagsForResource",
            "TagLogGroup",
            "UntagLogGroup",
            "ListTagsLogGroup",
        )
    },
    **{
        op: _on_group(op)
        for op in (
            "DescribeLogStreams",
            "FilterLogEvents",
            "DeleteLogGroup",
            "PutRetentionPolicy",
            "DeleteRetentionPolicy",
            "CreateLogGroup",
            "AssociateKmsKey",
            "DisassociateKmsKey",
        )
    },
}


SERVICE = Service[LogsContext](
    model="logs",
    signing=Signing("logs", targets=(TARGET_PREFIX,)),
    handlers=OPERATIONS,
    validation_error="InvalidParameterException",
    authorization=AUTHORIZATION,
)
