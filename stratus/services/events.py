"""EventBridge, the subset for scheduled rules with Lambda targets (JSON protocol,
`X-Amz-Target: AWSEvents.*`), declared as `SERVICE`. The model checks names, required members
and lengths at the edge; the handlers check what it cannot (schedules, which targets exist)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratus.control.arns import destination_function
from stratus.control.registry import Registry
from stratus.errors import ResourceNotFound, ValidationError
from stratus.events.rules import Rule, Rules, Target
from stratus.events.scheduler import rule_arn
from stratus.wire.service import Authorization, Handler, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "AWSEvents"


@dataclass(frozen=True)
class EventsContext:
    """What the EventBridge handlers read: the rules, the functions their targets name, and
    the account their ARNs name."""

    rules: Rules
    registry: Registry
    account_id: str


def _shape(ctx: EventsContext, rule: Rule) -> dict[str, Any]:
    return {
        "Name": rule.name,
        "Arn": rule_arn(rule.region, ctx.account_id, rule.name),
        "ScheduleExpression": rule.schedule,
        "State": rule.state,
        "Description": rule.description,
        "EventBusName": "default",
    }


async def put_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    if params.get("EventPattern"):
        raise ValidationError("Event patterns are not supported here; use ScheduleExpression.")
    rule = ctx.rules.put(
        params["Name"],
        params.get("ScheduleExpression"),
        params.get("State", "ENABLED"),
        params.get("Description", ""),
        region,
        int(time.time() * 1000),
    )
    if params.get("Tags"):
        rule = ctx.rules.tag(rule.name, _tags(params["Tags"]))
    return {"RuleArn": rule_arn(rule.region, ctx.account_id, rule.name)}


async def describe_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {**_shape(ctx, ctx.rules.get(params["Name"])), "CreatedBy": ctx.account_id}


async def list_rules(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    prefix = params.get("NamePrefix") or ""
    rules = [r for r in ctx.rules.all() if r.name.startswith(prefix)]
    token = params.get("NextToken", "0")
    if not token.isdigit():  # a token this handler did not issue
        raise ValidationError("The NextToken is invalid.")
    start, limit = int(token), params.get("Limit", 100)
    page = rules[start : start + limit]
    result: dict[str, Any] = {"Rules": [_shape(ctx, r) for r in page]}
    if start + limit < len(rules):
        result["NextToken"] = str(start + limit)
    return result


async def delete_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.delete(params["Name"])
    return {}


async def enable_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.set_state(params["Name"], "ENABLED")
    return {}


async def disable_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.set_state(params["Name"], "DISABLED")
    return {}


async def put_targets(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = params["Rule"]
    ctx.rules.get(name)
    targets = []
    for item in params["Targets"]:
        function = destination_function(item["Arn"])
        if function is None:
            raise ValidationError(f"Target {item['Arn']} is not supported: Lambda functions are.")
        try:
            ctx.registry.version(*function)
        except Exception:
            raise ValidationError(f"Target {item['Arn']} does not exist.") from None
        if item.get("Input") is not None and item.get("InputPath") is not None:
            raise ValidationError("Only one of Input and InputPath may be set.")
        targets.append(Target(item["Id"], item["Arn"], item.get("Input"), item.get("InputPath")))
    ctx.rules.put_targets(name, targets)
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def remove_targets(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.remove_targets(params["Rule"], list(params["Ids"]))
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rule = ctx.rules.get(params["Rule"])
    targets = []
    for t in rule.targets:
        shape = {"Id": t.id, "Arn": t.arn}
        if t.input is not None:
            shape["Input"] = t.input
        if t.input_path is not None:
            shape["InputPath"] = t.input_path
        targets.append(shape)
    return {"Targets": targets}


def _tags(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


def _rule_of(ctx: EventsContext, arn: str) -> Rule:
    """The rule an ARN names: `arn:aws:events:REGION:ACCOUNT:rule/NAME` of this account on the
    default bus (the only taggable resource here), as EventBridge answers any other ARN."""
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    kind, _, name = resource.partition("/")
    if parts[:3] != ["arn", "aws", "events"] or parts[4] != ctx.account_id or kind != "rule" or "/" in name:
        raise ResourceNotFound(f"Resource {arn} does not exist.")
    return ctx.rules.get(name)


async def tag_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.tag(_rule_of(ctx, params["ResourceARN"]).name, _tags(params["Tags"]))
    return {}


async def untag_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.untag(_rule_of(ctx, params["ResourceARN"]).name, list(params["TagKeys"]))
    return {}


async def list_tags_for_resource(ctx: EventsContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rule = _rule_of(ctx, params["ResourceARN"])
    return {"Tags": [{"Key": k, "Value": v} for k, v in rule.tags]}


async def list_rule_names_by_target(
    ctx: EventsContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    names = [r.name for r in ctx.rules.all() if any(t.arn == params["TargetArn"] for t in r.targets)]
    start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
    limit = int(params.get("Limit") or 100)
    result: dict[str, Any] = {"RuleNames": names[start : start + limit]}
    if start + limit < len(names):
        result["NextToken"] = str(start + limit)
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
}

# -- authorization ---------------------------------------------------------------------------
# The Service Authorization Reference ("Actions, resources, and condition keys for Amazon
# EventBridge"): every rule operation served here acts on a rule,
# `arn:aws:events:REGION:ACCOUNT:rule/[BUS/]NAME`, the bus written only when it is not the
# default one; ListRules on the rules of the bus (`rule/*`).
#
# The handlers serve the default bus only and do not read EventBusName, so the resource is the
# default bus's rule whatever bus a request names: it is the rule the call reaches. Naming
# another bus must not move the call out of the reach of a policy on `rule/NAME` (when the
# handlers refuse other buses, as EventBridge does, `rule/BUS/NAME` becomes right for them).


def _on_rule(operation: str, member: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"events:{operation}", rule_arn(region, account, str(params.get(member, "")))

    return authorize


def _list_rules(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "events:ListRules", rule_arn(region, account, "*")


def _on_arn(operation: str) -> Authorization:
    """The rule an ARN names, in the request's region and account as the other rule operations
    (the handlers reach rules by name); an ARN that names no rule is refused by the handler, and
    is checked against the bus's rules meanwhile."""

    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        name = str(params.get("ResourceARN", "")).partition(":rule/")[2]
        return f"events:{operation}", rule_arn(region, account, name if name and "/" not in name else "*")

    return authorize


def _by_target(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    return "events:ListRuleNamesByTarget", rule_arn(region, account, "*")


AUTHORIZATION: dict[str, Authorization] = {
    **{
        op: _on_rule(op, "Name")
        for op in ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule")
    },
    **{op: _on_rule(op, "Rule") for op in ("PutTargets", "RemoveTargets", "ListTargetsByRule")},
    "ListRules": _list_rules,
    **{op: _on_arn(op) for op in ("TagResource", "UntagResource", "ListTagsForResource")},
    "ListRuleNamesByTarget": _by_target,
}

SERVICE = Service[EventsContext](
    model="events",
    signing=Signing("events", targets=(TARGET_PREFIX,)),
    handlers=OPERATIONS,
    validation_error="ValidationException",
    authorization=AUTHORIZATION,
)
