"""What every item operation reads from its request the same way: the table (by name or ARN),
the legacy parameters DynamoDB still takes but Stratus refuses, expressions with their
placeholders, projections, ReturnValues and consumed capacity."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stratus.tables.context import TablesContext
from stratus.tables.errors import ValidationException
from stratus.tables.expressions import (
    Condition,
    Path,
    Substitutions,
    parse_condition,
    parse_projection,
    project,
)
from stratus.tables.model import Table, split_table_arn
from stratus.tables.values import Item, item_size

# Parameters of DynamoDB's pre-expression API, refused with a pointer to their expression.
LEGACY = {
    "Expected": "ConditionExpression",
    "AttributeUpdates": "UpdateExpression",
    "KeyConditions": "KeyConditionExpression",
    "QueryFilter": "FilterExpression",
    "ScanFilter": "FilterExpression",
    "ConditionalOperator": "ConditionExpression or FilterExpression",
}


def table_name(params: Mapping[str, Any]) -> str:
    name = str(params.get("TableName", ""))
    if name.startswith("arn:"):
        parsed = split_table_arn(name)
        return parsed[2] if parsed else name
    return name


def table(ctx: TablesContext, params: Mapping[str, Any], region: str) -> Table:
    name = str(params.get("TableName", ""))
    if name.startswith("arn:"):
        parsed = split_table_arn(name)
        if parsed is None or parsed[1] != ctx.tables.account_id:
            from stratus.tables.tables import not_found

            raise not_found(name)
        region, name = parsed[0], parsed[2]
    return ctx.tables.require(region, name)


def refuse_legacy(params: Mapping[str, Any]) -> None:
    for member, instead in LEGACY.items():
        if params.get(member) is not None:
            raise ValidationException(
                f"Stratus does not support the legacy parameter {member}; use {instead} instead"
            )


def substitutions(params: Mapping[str, Any]) -> Substitutions:
    return Substitutions(params.get("ExpressionAttributeNames"), params.get("ExpressionAttributeValues"))


def condition(
    params: Mapping[str, Any], subs: Substitutions, member: str = "ConditionExpression"
) -> Condition | None:
    text = params.get(member)
    if text is None:
        return None
    return parse_condition(str(text), subs, kind=member)


def projection(params: Mapping[str, Any], subs: Substitutions) -> tuple[Path, ...] | None:
    """The attributes asked for: a ProjectionExpression, or the legacy AttributesToGet (cheap to
    take: top-level names)."""
    text = params.get("ProjectionExpression")
    given = params.get("AttributesToGet")
    if text is not None and given is not None:
        raise ValidationException(
            "Can not use both expression and non-expression parameters in the same request: "
            "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"
        )
    if text is not None:
        return parse_projection(str(text), subs)
    if given is not None:
        if len(set(given)) != len(given):
            raise ValidationException(
                f"One or more parameter values were invalid: Duplicate value in attribute name: {given}"
            )
        return tuple((str(n),) for n in given)
    return None


def projected(paths: Sequence[Path] | None, item: Item) -> Item:
    return item if paths is None else project(paths, item)


def return_values(params: Mapping[str, Any], allowed: Sequence[str]) -> str:
    value = str(params.get("ReturnValues") or "NONE")
    if value not in allowed:
        raise ValidationException("Return values set to invalid value")
    return value


def old_on_failure(params: Mapping[str, Any]) -> bool:
    return str(params.get("ReturnValuesOnConditionCheckFailure") or "NONE") == "ALL_OLD"


def capacity(
    params: Mapping[str, Any],
    tbl: Table,
    units_of: float | Callable[[], float],
    result: dict[str, Any],
    *,
    many: bool = False,
) -> dict[str, Any]:
    """ConsumedCapacity, when asked for (DynamoDB's arithmetic; nothing is throttled by it)."""
    asked = str(params.get("ReturnConsumedCapacity") or "NONE")
    if asked == "NONE":
        return result
    units = units_of() if callable(units_of) else units_of
    entry: dict[str, Any] = {"TableName": tbl.name, "CapacityUnits": units}
    if asked == "INDEXES":
        entry["Table"] = {"CapacityUnits": units}
    result["ConsumedCapacity"] = [entry] if many else entry
    return result


def write_units(*items: Item | None) -> float:
    size = max((item_size(i) for i in items if i is not None), default=0)
    return float(max(1, math.ceil(size / 1024)))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2
