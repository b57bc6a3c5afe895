"""EventBridge (JSON protocol, `X-Amz-Target: AWSEvents.*`), declared as `SERVICE`: event buses,
rules with event patterns and schedules, their targets, PutEvents and TestEventPattern, all in
the region the request was signed for. The model checks names, required members and lengths
at the edge; the handlers check what it cannot."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stratus.errors import ResourceNotFound, ValidationError
from stratus.events.buses import Bus, EventBuses, bus_arn
from stratus.events.delivery import target_kind
from stratus.events.entries import (
    MAX_REQUEST_BYTES,
    Refused,
    build_event,
    bus_name,
    check_entry,
    request_size,
)
from stratus.events.rules import DEFAULT_BUS, Key, Rule, Target, compile_rule_pattern, rule_arn
from stratus.events.transform import check_path, check_transformer
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "AWSEvents"


@dataclass(frozen=True)
class EventsContext:
    """What the EventBridge handlers read: the buses (and through them the rules), whether a
    function a target names exists (by its ARN), and the account their ARNs name."""

    buses: EventBuses
    function_exists: Callable[[str], bool]
    account_id: str


def _bus(params: Mapping[str, Any], member: str = "EventBusName") -> str:
    return bus_name(params.get(member))


def _key(params: Mapping[str, Any], region: str, member: str = "Name") -> Key:
    return (region, _bus(params), str(params.get(member, "")))


def _shape(ctx: EventsContext, rule: Rule) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "Name": rule.name,
        "Arn": rule_arn(rule.region, ctx.account_id, rule.name, rule.bus),
        "State": rule.state,
        "EventBusName": rule.bus,
    }
    for member, value in (
        ("ScheduleExpression", rule.schedule),
        ("EventPattern", rule.pattern),
        ("Description", rule.description),
        ("RoleArn", rule.role_arn),
    ):
        if value:
            shape[member] = value
    return shape


def _bus_of(ctx: EventsContext, region: str, name: str) -> Bus:
    return ctx.buses.get(region, name)


# -- rules ---------------------------------------------------------------------------------------


async def put_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    bus = _bus(params)
    _bus_of(ctx, region, bus)
    rule = ctx.buses.rules.put(
        params["Name"],
        params.get("ScheduleExpression"),
        params.get("State", "ENABLED"),
        params.get("Description", ""),
        region,
        int(datetime.now(UTC).timestamp() * 1000),
        bus=bus,
        pattern=params.get("EventPattern"),
        role_arn=params.get("RoleArn"),
    )
    if params.get("Tags"):
        rule = ctx.buses.rules.tag(rule.key, _tags(params["Tags"]))
    return {"RuleArn": rule_arn(rule.region, ctx.account_id, rule.name, rule.bus)}


async def describe_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {**_shape(ctx, ctx.buses.rules.get(*_key(params, region))), "CreatedBy": ctx.account_id}


def _page(items: list[Any], params: Mapping[str, Any]) -> tuple[list[Any], str | None]:
    token = str(params.get("NextToken") or "0")
    if not token.isdigit():  # a token this handler did not issue
        raise ValidationError("The NextToken is invalid.")
    start, limit = int(token), int(params.get("Limit") or 100)
    page = items[start : start + limit]
    return page, str(start + limit) if start + limit < len(items) else None


async def list_rules(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    bus = _bus(params)
    _bus_of(ctx, region, bus)
    prefix = params.get("NamePrefix") or ""
    rules = [r for r in ctx.buses.rules.all(region, bus) if r.name.startswith(prefix)]
    page, token = _page(rules, params)
    result: dict[str, Any] = {"Rules": [_shape(ctx, r) for r in page]}
    if token:
        result["NextToken"] = token
    return result


async def delete_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key = _key(params, region)
    try:
        ctx.buses.rules.get(*key)
    except ResourceNotFound:
        return {}  # EventBridge: deleting a rule that does not exist succeeds
    ctx.buses.rules.delete(key)
    return {}


async def enable_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.buses.rules.set_state(_key(params, region), "ENABLED")
    return {}


async def disable_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.buses.rules.set_state(_key(params, region), "DISABLED")
    return {}


def _target(ctx: EventsContext, item: Mapping[str, Any]) -> Target:
    arn = str(item["Arn"])
    kind = target_kind(arn)
    if kind is None:
        raise ValidationError(
            f"Target {arn} is not supported here: Lambda functions, SQS queues, SNS topics and "
            "Step Functions state machines are."
        )
    if kind == "lambda" and not ctx.function_exists(arn):
        raise ValidationError(f"Target {arn} does not exist.")
    given = [m for m in ("Input", "InputPath", "InputTransformer") if item.get(m) is not None]
    if len(given) > 1:
        raise ValidationError(f"Only one of Input, InputPath and InputTransformer may be set: got {given}.")
    if item.get("Input") is not None:
        try:
            json.loads(item["Input"])
        except ValueError:
            raise ValidationError("Input is not valid JSON.") from None
    if item.get("InputPath") is not None:
        check_path(item["InputPath"])
    paths: tuple[tuple[str, str], ...] | None = None
    template: str | None = None
    transformer = item.get("InputTransformer")
    if transformer is not None:
        paths_map = dict(transformer.get("InputPathsMap") or {})
        template = str(transformer["InputTemplate"])
        check_transformer(paths_map, template)
        paths = tuple(sorted(paths_map.items()))
    if kind == "states" and not item.get("RoleArn"):
        raise ValidationError("RoleArn is required for target arn " + arn + ".")
    retry = item.get("RetryPolicy") or {}
    dlq = (item.get("DeadLetterConfig") or {}).get("Arn")
    if dlq is not None and target_kind(dlq) != "sqs":
        raise ValidationError(f"DeadLetterConfig Arn {dlq} is not an SQS queue ARN.")
    return Target(
        str(item["Id"]),
        arn,
        item.get("Input"),
        item.get("InputPath"),
        paths,
        template,
        item.get("RoleArn"),
        retry.get("MaximumRetryAttempts"),
        retry.get("MaximumEventAgeInSeconds"),
        dlq,
    )


async def put_targets(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    key = _key(params, region, "Rule")
    ctx.buses.rules.get(*key)
    targets = [_target(ctx, item) for item in params["Targets"]]
    ctx.buses.rules.put_targets(key, targets)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def remove_targets(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.buses.rules.remove_targets(_key(params, region, "Rule"), list(params["Ids"]))
    return {"FailedEntryCount": 0, "FailedEntries": []}


def _target_shape(t: Target) -> dict[str, Any]:
    shape: dict[str, Any] = {"Id": t.id, "Arn": t.arn}
    if t.input is not None:
        shape["Input"] = t.input
    if t.input_path is not None:
        shape["InputPath"] = t.input_path
    if t.input_template is not None:
        shape["InputTransformer"] = {
            "InputPathsMap": dict(t.input_paths or ()),
            "InputTemplate": t.input_template,
        }
    if t.role_arn:
        shape["RoleArn"] = t.role_arn
    if t.max_retries is not None or t.max_age_s is not None:
        policy: dict[str, int] = {}
        if t.max_retries is not None:
            policy["MaximumRetryAttempts"] = t.max_retries
        if t.max_age_s is not None:
            policy["MaximumEventAgeInSeconds"] = t.max_age_s
        shape["RetryPolicy"] = policy
    if t.dead_letter_arn:
        shape["DeadLetterConfig"] = {"Arn": t.dead_letter_arn}
    return shape


async def list_targets_by_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rule = ctx.buses.rules.get(*_key(params, region, "Rule"))
    page, token = _page(list(rule.targets), params)
    result: dict[str, Any] = {"Targets": [_target_shape(t) for t in page]}
    if token:
        result["NextToken"] = token
    return result


def _tags(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


# -- buses ---------------------------------------------------------------------------------------


def _bus_shape(ctx: EventsContext, bus: Bus) -> dict[str, Any]:
    shape: dict[str, Any] = {"Name": bus.name, "Arn": bus.arn(ctx.account_id)}
    if bus.description:
        shape["Description"] = bus.description
    if bus.created_ms:
        created = datetime.fromtimestamp(bus.created_ms / 1000, UTC)
        shape["CreationTime"] = created
        shape["LastModifiedTime"] = created
    return shape


async def create_event_bus(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    if params.get("EventSourceName"):
        raise ValidationError("Partner event sources are not available here.")
    tags = _tags(params.get("Tags") or [])
    bus = ctx.buses.create(region, params["Name"], params.get("Description", ""), tags)
    result: dict[str, Any] = {"EventBusArn": bus.arn(ctx.account_id)}
    if bus.description:
        result["Description"] = bus.description
    return result


async def describe_event_bus(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return _bus_shape(ctx, _bus_of(ctx, region, _bus(params, "Name")))


async def list_event_buses(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    prefix = params.get("NamePrefix") or ""
    buses = [b for b in ctx.buses.all(region) if b.name.startswith(prefix)]
    page, token = _page(buses, params)
    result: dict[str, Any] = {"EventBuses": [_bus_shape(ctx, b) for b in page]}
    if token:
        result["NextToken"] = token
    return result


async def delete_event_bus(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.buses.delete(region, params["Name"])
    return {}


# -- events --------------------------------------------------------------------------------------


async def put_events(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    entries = list(params["Entries"])
    if request_size(entries) > MAX_REQUEST_BYTES:
        raise ValidationError("Total size of the entries in the request is over the limit.")
    now = datetime.now(UTC)
    checked: list[tuple[str, dict[str, Any] | Refused]] = []
    for entry in entries:
        detail = check_entry(entry)
        if isinstance(detail, Refused):
            checked.append((_bus(entry), detail))
            continue
        when = entry.get("Time") or now
        event = build_event(
            source=entry["Source"],
            detail_type=entry["DetailType"],
            detail=detail,
            account=ctx.account_id,
            region=region,
            when=when,
            resources=list(entry.get("Resources") or ()),
        )
        checked.append((_bus(entry), event))
    results = await ctx.buses.put_entries(region, checked)
    return {"FailedEntryCount": sum(1 for r in results if "ErrorCode" in r), "Entries": results}


_EVENT_FIELDS = ("id", "account", "source", "time", "region", "detail-type")


async def test_event_pattern(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    pattern = compile_rule_pattern(params["EventPattern"])
    try:
        event = json.loads(params["Event"])
    except ValueError:
        raise ValidationError("Parameter Event is not valid.") from None
    if not isinstance(event, dict) or any(f not in event for f in _EVENT_FIELDS):
        missing = [f for f in _EVENT_FIELDS if not isinstance(event, dict) or f not in event]
        raise ValidationError(f"Parameter Event is not valid. Reason: missing {', '.join(missing)}.")
    return {"Result": pattern.matches(event)}


# -- tags and lookups ----------------------------------------------------------------------------


def _resource(ctx: EventsContext, arn: str, region: str) -> tuple[str, str, str] | None:
    """("bus", region, bus) or ("rule", region, bus/name) of an ARN of this account and region;
    None when it names nothing here."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "events"] or parts[4] != ctx.account_id:
        return None
    kind, _, path = parts[5].partition("/")
    if kind == "event-bus" and path:
        return ("bus", parts[3], path)
    if kind == "rule" and path:
        bus, _, name = path.rpartition("/")
        return ("rule", parts[3], f"{bus or DEFAULT_BUS}/{name}")
    return None


def _resolve(ctx: EventsContext, arn: str, region: str) -> tuple[str, Key | tuple[str, str]]:
    found = _resource(ctx, arn, region)
    if found is None:
        raise ResourceNotFound(f"Resource {arn} does not exist.")
    kind, where, path = found
    if kind == "bus":
        ctx.buses.get(where, path)
        return "bus", (where, path)
    bus, _, name = path.rpartition("/")
    ctx.buses.rules.get(where, bus, name)
    return "rule", (where, bus, name)


async def tag_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    kind, key = _resolve(ctx, params["ResourceARN"], region)
    if kind == "bus":
        ctx.buses.tag(key[0], key[1], _tags(params["Tags"]))
    else:
        ctx.buses.rules.tag(key, _tags(params["Tags"]))  # type: ignore[arg-type]
    return {}


async def untag_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    kind, key = _resolve(ctx, params["ResourceARN"], region)
    if kind == "bus":
        ctx.buses.untag(key[0], key[1], list(params["TagKeys"]))
    else:
        ctx.buses.rules.untag(key, list(params["TagKeys"]))  # type: ignore[arg-type]
    return {}


async def list_tags_for_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    kind, key = _resolve(ctx, params["ResourceARN"], region)
    tags = ctx.buses.get(key[0], key[1]).tags if kind == "bus" else ctx.buses.rules.get(*key).tags  # type: ignore[arg-type]
    return {"Tags": [{"Key": k, "Value": v} for k, v in tags]}


async def list_rule_names_by_target(
    ctx: EventsContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    rules = ctx.buses.rules.all(region, _bus(params))
    names = [r.name for r in rules if any(t.arn == params["TargetArn"] for t in r.targets)]
    page, token = _page(names, params)
    result: dict[str, Any] = {"RuleNames": page}
    if token:
        result["NextToken"] = token
    return result


OPERATIONS: dict[str, Handler[EventsContext]] = {
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "DeleteRule": delete_rule,
    "EnableRule": enable_rule,
    "DisableRule": disable_rule,
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "ListRuleNamesByTarget": list_rule_names_by_target,
    "CreateEventBus": create_event_bus,
    "DescribeEventBus": describe_event_bus,
    "ListEventBuses": list_event_buses,
    "DeleteEventBus": delete_event_bus,
    "PutEvents": put_events,
    "TestEventPattern": test_event_pattern,
}

# -- authorization ---------------------------------------------------------------------------
# The Service Authorization Reference ("Actions, resources, and condition keys for Amazon
# EventBridge"): the rule operations act on a rule, `arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME`
# (the bus written only when it is not the default one), ListRules and ListRuleNamesByTarget
# on the bus's rules (`rule/[BUS/]*`); the bus operations and PutEvents on an event bus,
# `event-bus/NAME` (PutEvents on each bus its entries name); ListEventBuses and
# TestEventPattern on no resource ("*").


def _on_rule(operation: str, member: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"events:{operation}", rule_arn(region, account, str(params.get(member, "")), _bus(params))

    return authorize


def _on_rules(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"events:{operation}", rule_arn(region, account, "*", _bus(params))

    return authorize


def _on_bus(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"events:{operation}", bus_arn(region, account, _bus(params, "Name"))

    return authorize


def _entry_buses(params: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in params.get("Entries") or ():
        name = _bus(entry) if isinstance(entry, Mapping) else DEFAULT_BUS
        if name not in names:
            names.append(name)
    return names or [DEFAULT_BUS]


def _put_events(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "events:PutEvents", bus_arn(region, account, _entry_buses(params)[0])


def _put_events_others(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    return tuple(("events:PutEvents", bus_arn(region, account, name)) for name in _entry_buses(params)[1:])


def _on_arn(operation: str) -> Authorization:
    """The rule or bus an ARN names, in the request's region and account (the handlers reach
    only those); an ARN that names neither is refused by the handler, and is checked against
    the default bus's rules meanwhile."""

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        arn = str(params.get("ResourceARN", ""))
        resource = arn.split(":", 5)[5] if arn.count(":") >= 5 else ""
        kind, _, path = resource.partition("/")
        if kind == "event-bus" and path:
            return f"events:{operation}", bus_arn(region, account, path)
        if kind == "rule" and path:
            bus, _, name = path.rpartition("/")
            return f"events:{operation}", rule_arn(region, account, name, bus or DEFAULT_BUS)
        return f"events:{operation}", rule_arn(region, account, "*")

    return authorize


def _unscoped(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"events:{operation}", "*"

    return authorize


AUTHORIZATION: dict[str, Authorization] = {
    **{
        op: _on_rule(op, "Name")
        for op in ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule")
    },
    **{op: _on_rule(op, "Rule") for op in ("PutTargets", "RemoveTargets", "ListTargetsByRule")},
    **{op: _on_rules(op) for op in ("ListRules", "ListRuleNamesByTarget")},
    **{op: _on_arn(op) for op in ("TagResource", "UntagResource", "ListTagsForResource")},
    **{op: _on_bus(op) for op in ("CreateEventBus", "DescribeEventBus", "DeleteEventBus")},
    "PutEvents": _put_events,
    "ListEventBuses": _unscoped("ListEventBuses"),
    "TestEventPattern": _unscoped("TestEventPattern"),
}

ALSO_REQUIRES: dict[str, Callable[[Mapping[str, Any], str, str], tuple[tuple[str, str], ...]]] = {
    "PutEvents": _put_events_others,
}

SERVICE = Service[EventsContext](
    model="events",
    signing=Signing("events", targets=(TARGET_PREFIX,)),
    handlers=OPERATIONS,
    validation_error="ValidationException",
    authorization=AUTHORIZATION,
    also_requires=ALSO_REQUIRES,
)
