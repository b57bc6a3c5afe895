"""Query and Scan: a key condition as a SQL range on the encoded sort key (or a Scan segment as
a range of partition hashes), read page by page in key order; the FilterExpression applied after
the read and before the page is answered, so Limit and the 1 MB page bound count items read
(evaluated), as DynamoDB counts them; LastEvaluatedKey where a page stopped early."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from stratus.tables import requests as rq
from stratus.tables.catalog import Range
from stratus.tables.context import TablesContext
from stratus.tables.errors import ValidationException
from stratus.tables.expressions import KeyCondition, evaluate, parse_key_condition
from stratus.tables.keys import projected, row_key
from stratus.tables.model import INVALID, Index, Table
from stratus.tables.values import AttributeValue, Item, compare, loads, prefix_end, sort_key_bytes

PAGE_BYTES = 1024 * 1024
CHUNK = 256
SEGMENT_SPACE = 1 << 32  # partition hashes are CRC-32s


def _index(table: Table, params: Mapping[str, Any]) -> Index | None:
    name = params.get("IndexName")
    if name is None:
        return None
    index = table.index(str(name))
    if index is None:
        raise ValidationException(f"The table does not have the specified index: {name}")
    return index


def _select(params: Mapping[str, Any], table: Table, index: Index | None, has_projection: bool) -> str:
    select = params.get("Select")
    if select is None:
        return (
            "SPECIFIC_ATTRIBUTES"
            if has_projection
            else "ALL_PROJECTED_ATTRIBUTES"
            if index
            else "ALL_ATTRIBUTES"
        )
    select = str(select)
    if has_projection and select != "SPECIFIC_ATTRIBUTES":
        raise ValidationException(
            f"{INVALID}Cannot specify the ProjectionExpression when choosing to get {select}"
        )
    if select == "SPECIFIC_ATTRIBUTES" and not has_projection:
        raise ValidationException(
            f"{INVALID}Must specify the AttributesToGet or ProjectionExpression "
            "when choosing to get SPECIFIC_ATTRIBUTES"
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationException(
            f"{INVALID}ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    if select == "ALL_ATTRIBUTES" and index is not None and index.is_global and index.projection != "ALL":
        raise ValidationException(
            f"{INVALID}Select type ALL_ATTRIBUTES is not supported for global secondary index "
            f"{index.name} because its projection type is not ALL"
        )
    return select


def _start(table: Table, index: Index | None, params: Mapping[str, Any]) -> tuple[bytes, ...] | None:
    given = params.get("ExclusiveStartKey")
    if given is None:
        return None
    names = index.key_names(table) if index else table.key_names
    bad = ValidationException(
        "The provided starting key is invalid: The provided key element does not match the schema"
    )
    if not isinstance(given, dict) or set(given) != set(names):
        raise bad
    for name in names:
        value = given[name]
        if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) != table.attributes.get(name):
            raise bad
    row = row_key(table, given)
    if index is None:
        return (row.pk, row.sk)
    ipk = sort_key_bytes(given[index.hash_key])
    isk = sort_key_bytes(given[index.range_key]) if index.range_key else b""
    return (ipk, isk, row.pk, row.sk)


def _bounds(
    kc: KeyCondition, range_type: str | None
) -> tuple[tuple[bytes, bool] | None, tuple[bytes, bool] | None]:
    if kc.range_op is None:
        return None, None
    values = kc.range_values
    for v in values:
        if next(iter(v)) != range_type:
            raise ValidationException(f"{INVALID}Condition parameter type does not match schema type")
    op, first = kc.range_op, sort_key_bytes(values[0])
    if op == "=":
        return (first, True), (first, True)
    if op == "<":
        return None, (first, False)
    if op == "<=":
        return None, (first, True)
    if op == ">":
        return (first, False), None
    if op == ">=":
        return (first, True), None
    if op == "BETWEEN":
        order = compare(values[0], values[1])
        if order is not None and order > 0:
            raise ValidationException(
                "Invalid KeyConditionExpression: The BETWEEN operator requires upper "
                "bound to be greater than or "
                "equal to lower bound; lower bound operand: AttributeValue: "
                f"{_shown(values[0])}, upper bound "
                f"operand: AttributeValue: {_shown(values[1])}"
            )
        return (first, True), (sort_key_bytes(values[1]), True)
    if range_type == "N":
        raise ValidationException(
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or "
            "function: begins_with, operand type: N"
        )
    end = prefix_end(first)
    return (first, True), (None if end is None else (end, False))


def _shown(value: AttributeValue) -> str:
    ((kind, inner),) = value.items()
    return "{" + f"{kind}:{inner}" + "}"


def _shape(table: Table, index: Index | None, select: str, item: Item) -> Item:
    """What a page shows of an item read (before any ProjectionExpression)."""
    if index is not None and select == "ALL_PROJECTED_ATTRIBUTES":
        return projected(table, index, item)
    return item


def _last_key(table: Table, index: Index | None, item: Item) -> Item:
    names = index.key_names(table) if index else table.key_names
    return {n: item[n] for n in names if n in item}


async def _page(
    ctx: TablesContext, params: Mapping[str, Any], table: Table, index: Index | None, r: Range, kind: str
) -> dict[str, Any]:
    subs = rq.substitutions(params)
    key_condition = None
    if kind == "Query":
        text = params.get("KeyConditionExpression")
        if text is None:
            raise ValidationException(
                "Either the KeyConditions or KeyConditionExpression parameter must be "
                "specified in the request."
            )
        hash_key = index.hash_key if index else table.hash_key
        range_key = index.range_key if index else table.range_key
        key_condition = parse_key_condition(str(text), subs, hash_key=hash_key, range_key=range_key)
    condition = rq.condition(params, subs, "FilterExpression")
    paths = rq.projection(params, subs)
    subs.check_all_used()
    select = _select(params, table, index, paths is not None)
    if key_condition is not None:
        hash_value = key_condition.hash_value
        if next(iter(hash_value)) != table.attributes[key_condition.hash_name]:
            raise ValidationException(f"{INVALID}Condition parameter type does not match schema type")
        range_type = table.attributes.get(key_condition.range_name) if key_condition.range_name else None
        low, high = _bounds(key_condition, range_type)
        r = replace(r, pk=sort_key_bytes(hash_value), low=low, high=high)
    limit = params.get("Limit")
    r = replace(r, after=_start(table, index, params))
    items: list[Item] = []
    scanned = count = read_bytes = 0
    last: Item | None = None
    while True:
        want = CHUNK if limit is None else min(CHUNK, int(limit) - scanned)
        rows = await ctx.tables.read_range(r, want)
        stopped = False
        for columns, text, size in rows:
            item = loads(text)
            scanned += 1
            read_bytes += size
            if condition is None or evaluate(condition, item):
                count += 1
                if select != "COUNT":
                    items.append(rq.projected(paths, _shape(table, index, select, item)))
            r = replace(r, after=columns)
            if (limit is not None and scanned >= int(limit)) or read_bytes >= PAGE_BYTES:
                last, stopped = item, True
                break
        if stopped or len(rows) < want:
            break
    result: dict[str, Any] = {"Count": count, "ScannedCount": scanned}
    if select != "COUNT":
        result["Items"] = items
    if last is not None:
        result["LastEvaluatedKey"] = _last_key(table, index, last)
    return rq.capacity(params, table, rq.read_units(read_bytes, bool(params.get("ConsistentRead"))), result)


async def query(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    index = _index(table, params)
    if index is not None and index.is_global and params.get("ConsistentRead"):
        raise ValidationException("Consistent reads are not supported on global secondary indexes")
    forward = params.get("ScanIndexForward", True) is not False
    r = Range(table.id, index.name if index else None, forward=forward)
    return await _page(ctx, params, table, index, r, "Query")


async def scan(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    index = _index(table, params)
    if index is not None and index.is_global and params.get("ConsistentRead"):
        raise ValidationException("Consistent reads are not supported on global secondary indexes")
    segment, total = params.get("Segment"), params.get("TotalSegments")
    hash_range = None
    if segment is not None or total is not None:
        if total is None:
            raise ValidationException(
                "The TotalSegments parameter is required but was not present in the "
                "request when Segment parameter is present"
            )
        if segment is None:
            raise ValidationException(
                "The Segment parameter is required but was not present in the request "
                "when parameter TotalSegments is present"
            )
        if int(segment) >= int(total):
            raise ValidationException(
                f"The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                f"Segment: {segment} is not less than TotalSegments: {total}"
            )
        hash_range = (
            int(segment) * SEGMENT_SPACE // int(total),
            (int(segment) + 1) * SEGMENT_SPACE // int(total),
        )
    r = Range(table.id, index.name if index else None, hash_range=hash_range)
    return await _page(ctx, params, table, index, r, "Scan")
