"""EventBridge, the subset for scheduled rules with Lambda targets (JSON protocol,
`X-Amz-Target: AWSEvents.*`)."""

from __future__ import annotations

import time
from typing import Any

from stratus.errors import ValidationError
from stratus.events.rules import Rule, Target
from stratus.events.scheduler import rule_arn
from stratus.gateway.server import ApiContext, JsonOperation
from stratus.lambda_api.arns import destination_function
from stratus.wire.signing import Signing

TARGET_PREFIX = "AWSEvents"
SIGNING = Signing("events", targets=(TARGET_PREFIX,))


def _name(params: dict[str, Any], key: str = "Name") -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}'")
    return value


def _shape(ctx: ApiContext, rule: Rule) -> dict[str, Any]:
    return {
        "Name": rule.name,
        "Arn": rule_arn(rule.region, ctx.account_id, rule.name),
        "ScheduleExpression": rule.schedule,
        "State": rule.state,
        "Description": rule.description,
        "EventBusName": "default",
    }


async def put_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    if params.get("EventPattern"):
        raise ValidationError("Event patterns are not supported here; use ScheduleExpression.")
    rule = ctx.rules.put(
        params.get("Name"),
        params.get("ScheduleExpression"),
        params.get("State", "ENABLED"),
        params.get("Description", ""),
        region,
        int(time.time() * 1000),
    )
    return {"RuleArn": rule_arn(rule.region, ctx.account_id, rule.name)}


async def describe_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {**_shape(ctx, ctx.rules.get(_name(params))), "CreatedBy": ctx.account_id}


async def list_rules(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    prefix = params.get("NamePrefix") or ""
    rules = [r for r in ctx.rules.all() if r.name.startswith(prefix)]
    start = int(params.get("NextToken") or 0)
    limit = int(params.get("Limit") or 100)
    page = rules[start : start + limit]
    result: dict[str, Any] = {"Rules": [_shape(ctx, r) for r in page]}
    if start + limit < len(rules):
        result["NextToken"] = str(start + limit)
    return result


async def delete_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.delete(_name(params))
    return {}


async def enable_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.set_state(_name(params), "ENABLED")
    return {}


async def disable_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ctx.rules.set_state(_name(params), "DISABLED")
    return {}


async def put_targets(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = _name(params, "Rule")
    ctx.rules.get(name)
    raw = params.get("Targets")
    if not isinstance(raw, list) or not raw:
        raise ValidationError("Targets must be a non-empty list.")
    targets = []
    for item in raw:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("Id"), str)
            or not isinstance(item.get("Arn"), str)
        ):
            raise ValidationError("Each target needs an Id and an Arn.")
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


async def remove_targets(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    ids = params.get("Ids") or []
    ctx.rules.remove_targets(_name(params, "Rule"), [str(i) for i in ids])
    return {"FailedEntryCount": 0, "FailedEntries": []}


async def list_targets_by_rule(ctx: ApiContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rule = ctx.rules.get(_name(params, "Rule"))
    targets = []
    for t in rule.targets:
        shape = {"Id": t.id, "Arn": t.arn}
        if t.input is not None:
            shape["Input"] = t.input
        if t.input_path is not None:
            shape["InputPath"] = t.input_path
        targets.append(shape)
    return {"Targets": targets}


OPERATIONS: dict[str, JsonOperation] = {
    "PutRule": put_rule,
    "DescribeRule": describe_rule,
    "ListRules": list_rules,
    "DeleteRule": delete_rule,
    "EnableRule": enable_rule,
    "DisableRule": disable_rule,
    "PutTargets": put_targets,
    "RemoveTargets": remove_targets,
    "ListTargetsByRule": list_targets_by_rule,
}
