"""CloudWatch Logs, the subset that reading function logs needs (JSON protocol,
`X-Amz-Target: Logs_20140328.*`), declared as `SERVICE`. The model checks required members,
lengths, patterns and enums at the edge; the handlers check what it cannot (a log group named
by one of two members, the allowed retention periods, the tokens they issued)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stratus.errors import InvalidParameter, InvalidParameterValue, ResourceNotFound
from stratus.observe.filters import BadPattern, compile_pattern
from stratus.observe.logstore import RETENTION_DAYS, LogEvent, LogStore
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "Logs_20140328"


def _no_home(group: str) -> str | None:
    return None


@dataclass(frozen=True)
class LogsContext:
    """What the Logs handlers read: the log store, and the account their ARNs name; and, for
    authorization, the home region of a function's log group (`Registry.log_group_home`)."""

    logs: LogStore
    account_id: str
    group_home: Callable[[str], str | None] = _no_home


def _group_arn(region: str, account: str, group: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{group}:*"


def _require_group(context: LogsContext, params: dict[str, Any]) -> str:
    # Required by the model for some operations only: others also take a logGroupIdentifier,
    # which Stratus does not serve, so the name is checked here.
    group = params.get("logGroupName")
    if not isinstance(group, str) or not group:
        raise InvalidParameterValue("logGroupName is required.")
    if not context.logs.streams(group):
        raise ResourceNotFound("The specified log group does not exist.")
    return group


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
    retention = ctx.logs.retention()
    groups = []
    for name, created, stored in ctx.logs.groups(prefix):
        group: dict[str, Any] = {
            "logGroupName": name,
            "creationTime": created,
            "storedBytes": stored,
            "arn": _group_arn(region, ctx.account_id, name),
            "logGroupArn": _group_arn(region, ctx.account_id, name)[:-2],
        }
        if name in retention:
            group["retentionInDays"] = retention[name]
        groups.append(group)
    return {"logGroups": groups[: params.get("limit", 50)]}


async def put_retention_policy(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    days = params["retentionInDays"]
    if days not in RETENTION_DAYS:  # the model says only "integer"
        raise InvalidParameter(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]"
        )
    group = _require_group(ctx, params)
    ctx.logs.put_retention(group, int(days))
    return {}


async def delete_retention_policy(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.logs.delete_retention(_require_group(ctx, params))
    return {}


async def describe_log_streams(ctx: LogsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    group = _require_group(ctx, params)
    streams = ctx.logs.streams(group)
    if params.get("orderBy") == "LastEventTime":
        streams.sort(key=lambda s: s.last_ts, reverse=bool(params.get("descending")))
    else:
        streams.sort(key=lambda s: s.stream, reverse=bool(params.get("descending")))
    prefix = params.get("logStreamNamePrefix")
    if prefix:
        streams = [s for s in streams if s.stream.startswith(prefix)]
    return {
        "logStreams": [
            {
                "logStreamName": s.stream,
                "creationTime": s.first_ts,
                "firstEventTimestamp": s.first_ts,
                "lastEventTimestamp": s.last_ts,
                "lastIngestionTime": s.last_ingested,
                "storedBytes": s.stored_bytes,
                "arn": f"arn:aws:logs:{region}:{ctx.account_id}:log-group:{group}:log-stream:{s.stream}",
            }
            for s in streams[: params.get("limit", 50)]
        ]
    }


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
    group = _require_group(ctx, params)
    stream = params["logStreamName"]
    limit = params.get("limit", 10000)
    after = _token(params, "nextToken")
    backwards = not params.get("startFromHead", False) and not after
    events = ctx.logs.events(
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
    group = _require_group(ctx, params)
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
        streams = [s.stream for s in ctx.logs.streams(group) if s.stream.startswith(prefix)]
    found: list[LogEvent] = []
    cursor = after
    while len(found) < limit:
        batch = ctx.logs.events(
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
    group = _require_group(ctx, params)
    ctx.logs.delete_group(group)
    return {}


OPERATIONS: dict[str, Handler[LogsContext]] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "DeleteLogGroup": delete_log_group,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
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


def _get_log_events(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    stream = str(params.get("logStreamName", ""))
    return "logs:GetLogEvents", log_stream_arn(region, account, _group_named(params), stream)


AUTHORIZATION: dict[str, Authorization] = {
    "DescribeLogGroups": _describe_log_groups,
    "GetLogEvents": _get_log_events,
    **{
        op: _on_group(op)
        for op in (
            "DescribeLogStreams",
            "FilterLogEvents",
            "DeleteLogGroup",
            "PutRetentionPolicy",
            "DeleteRetentionPolicy",
        )
    },
}


def _home_region(context: LogsContext, resource: str) -> str:
    """A log group's resource in its function's home region: log groups are one namespace for
    every region here, so a policy on a group must hold whichever region a caller signs for."""
    parts = resource.split(":", 6)
    if len(parts) < 7 or parts[5] != "log-group":
        return resource
    group = parts[6].split(":log-stream:", 1)[0]
    home = context.group_home(group) if group else None
    if home is None or home == parts[3]:
        return resource
    parts[3] = home
    return ":".join(parts)


SERVICE = Service[LogsContext](
    model="logs",
    signing=Signing("logs", targets=(TARGET_PREFIX,)),
    handlers=OPERATIONS,
    validation_error="InvalidParameterException",
    authorization=AUTHORIZATION,
    canonical_resource=_home_region,
)
