"""DynamoDB's declaration: the table handlers here, the item handlers (`items_api`, `reading`),
and each operation's IAM action on the table's ARN (an index's for Query and Scan of one; each
further table of a batch or transaction through `also_requires`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from stratus.tables import condition_keys as ck
from stratus.tables import items_api, reading
from stratus.tables import requests as rq
from stratus.tables.context import TablesContext as TablesContext
from stratus.tables.errors import ResourceNotFoundException, ValidationException
from stratus.tables.model import (
    INVALID,
    Table,
    billing,
    check_definitions,
    check_indexes,
    describe,
    end_stream,
    key_schema,
    new_stream,
    read_index,
    split_table_arn,
    stream_spec,
    table_arn,
)
from stratus.wire.service import Authorization, ConditionKeys, Handler, RequestKeys, Service
from stratus.wire.signing import Signing

TARGET_PREFIX = "DynamoDB_20120810"


async def _described(ctx: TablesContext, table: Table, status: str = "ACTIVE") -> dict[str, Any]:
    count, size, indexes = await ctx.tables.counts(table)
    return describe(table, count, size, indexes, status)


async def create_table(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    name = str(params["TableName"])
    attributes = {
        str(a["AttributeName"]): str(a["AttributeType"]) for a in params.get("AttributeDefinitions") or ()
    }
    if len(attributes) != len(params.get("AttributeDefinitions") or ()):
        raise ValidationException(f"{INVALID}Duplicate AttributeName in AttributeDefinitions")

    hash_key, range_key = key_schema(params["KeySchema"], "KeySchema")
    mode, throughput = billing(params)
    lsis = [read_index(i, False, mode) for i in params.get("LocalSecondaryIndexes") or ()]
    gsis = [read_index(i, True, mode) for i in params.get("GlobalSecondaryIndexes") or ()]
    check_indexes(hash_key, range_key, lsis, gsis)
    check_definitions(attributes, hash_key, range_key, [*lsis, *gsis])
    view = stream_spec(params.get("StreamSpecification"))
    now = ctx.tables.now_ms()
    tags = {str(t["Key"]): str(t["Value"]) for t in params.get("Tags") or ()}

    def make(table_id: int) -> Table:
        return Table(
            id=table_id,
            region=region,
            account=ctx.account_id,
            name=name,
            created_ms=now,
            attributes=attributes,
            hash_key=hash_key,
            range_key=range_key,
            indexes=(*lsis, *gsis),
            billing_mode=mode,
            throughput=throughput,
            streams=(new_stream(view, now),) if view else (),
            tags=tags,
            table_class=str(params.get("TableClass") or "STANDARD"),
            deletion_protection=bool(params.get("DeletionProtectionEnabled")),
        )

    table = await ctx.tables.create(make)
    return {"TableDescription": describe(table, 0, 0, {})}


async def describe_table(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {"Table": await _described(ctx, rq.table(ctx, params, region))}


async def delete_table(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = rq.table(ctx, params, region)
    count, size, indexes = await ctx.tables.counts(table)
    await ctx.tables.delete(table.region, table.name)
    return {"TableDescription": describe(table, count, size, indexes, "DELETING")}


async def list_tables(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    names = [t.name for t in ctx.tables.listed(region)]
    start = params.get("ExclusiveStartTableName")
    if start is not None:
        names = [n for n in names if n > str(start)]
    limit = int(params.get("Limit") or 100)
    result: dict[str, Any] = {"TableNames": names[:limit]}
    if len(names) > limit:
        result["LastEvaluatedTableName"] = names[limit - 1]
    return result


def _redefined(table: Table, params: Mapping[str, Any], now_ms: int) -> Table:
    """UpdateTable's changes, checked (pure)."""
    changed = table
    if params.get("BillingMode") is not None or params.get("ProvisionedThroughput") is not None:
        mode, throughput = billing(params, table.billing_mode)
        changed = replace(changed, billing_mode=mode, throughput=throughput)
    spec = params.get("StreamSpecification")
    if spec is not None:
        view = stream_spec(spec)
        if view is not None:
            if table.stream is not None:
                raise ValidationException(f"Table already has an enabled stream: TableName: {table.name}")
            changed = replace(changed, streams=(*changed.streams, new_stream(view, now_ms)))
        else:
            if table.stream is None:
                raise ValidationException(f"Table already has no enabled stream: TableName: {table.name}")
            changed = end_stream(changed, now_ms)
    attributes = dict(changed.attributes)
    for a in params.get("AttributeDefinitions") or ():
        attributes[str(a["AttributeName"])] = str(a["AttributeType"])
    indexes = list(changed.indexes)
    for update in params.get("GlobalSecondaryIndexUpdates") or ():
        if update.get("Create"):
            index = read_index(update["Create"], True, changed.billing_mode)
            if changed.index(index.name) is not None or any(i.name == index.name for i in indexes):
                raise ValidationException(f"{INVALID}Index already exists: {index.name}")
            indexes.append(index)
        elif update.get("Delete"):
            name = str(update["Delete"]["IndexName"])
            if not any(i.name == name and i.is_global for i in indexes):
                raise ResourceNotFoundException(f"Requested resource not found: Index: {name} not found")
            indexes = [i for i in indexes if i.name != name]
        elif update.get("Update"):
            name = str(update["Update"]["IndexName"])
            found = next((i for i in indexes if i.name == name and i.is_global), None)
            if found is None:
                raise ResourceNotFoundException(f"Requested resource not found: Index: {name} not found")
            raw = update["Update"].get("ProvisionedThroughput")
            if raw:
                throughput = {k: int(raw[k]) for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
                indexes = [replace(i, throughput=throughput) if i is found else i for i in indexes]
    used = set(changed.key_names) | {n for i in indexes for n in (i.hash_key, i.range_key) if n}
    attributes = {k: v for k, v in attributes.items() if k in used}
    check_definitions(attributes, changed.hash_key, changed.range_key, indexes)
    return replace(changed, attributes=attributes, indexes=tuple(indexes))


async def update_table(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = rq.table(ctx, params, region)
    if params.get("DeletionProtectionEnabled") is not None:
        table = (
            await ctx.tables.redefine(
                table.region,
                table.name,
                lambda t: replace(t, deletion_protection=bool(params["DeletionProtectionEnabled"])),
            )
        )[1]
    now = ctx.tables.now_ms()
    _, after = await ctx.tables.redefine(table.region, table.name, lambda t: _redefined(t, params, now))
    if params.get("TableClass"):
        _, after = await ctx.tables.redefine(
            table.region, table.name, lambda t: replace(t, table_class=str(params["TableClass"]))
        )
    return {"TableDescription": await _described(ctx, after)}


# -- time to live and tags -------------------------------------------------------------------


async def update_time_to_live(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = rq.table(ctx, params, region)
    spec = params["TimeToLiveSpecification"]
    enabled, attribute = bool(spec["Enabled"]), str(spec["AttributeName"])
    if enabled and table.ttl_enabled:
        raise ValidationException("TimeToLive is already enabled")
    if not enabled and not table.ttl_enabled:
        raise ValidationException("TimeToLive is already disabled")
    if not enabled and attribute != table.ttl_attribute:
        raise ValidationException(
            "TimeToLive is active on a different AttributeName: current "
            f"AttributeName is {table.ttl_attribute}"
        )
    await ctx.tables.redefine(
        table.region,
        table.name,
        lambda t: replace(t, ttl_enabled=enabled, ttl_attribute=attribute if enabled else None),
    )
    return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}


async def describe_time_to_live(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = rq.table(ctx, params, region)
    description: dict[str, Any] = {"TimeToLiveStatus": "ENABLED" if table.ttl_enabled else "DISABLED"}
    if table.ttl_enabled and table.ttl_attribute:
        description["AttributeName"] = table.ttl_attribute
    return {"TimeToLiveDescription": description}


def _tagged(ctx: TablesContext, params: Mapping[str, Any]) -> Table:
    arn = str(params.get("ResourceArn", ""))
    parsed = split_table_arn(arn)
    table = ctx.tables.by_arn(table_arn(*parsed)) if parsed else None
    if table is None or table.arn != arn:
        raise ResourceNotFoundException(f"Requested resource not found: ResourcArn: {arn} not found")
    return table


async def tag_resource(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = _tagged(ctx, params)
    tags = {str(t["Key"]): str(t["Value"]) for t in params.get("Tags") or ()}
    await ctx.tables.redefine(table.region, table.name, lambda t: replace(t, tags={**t.tags, **tags}))
    return {}


async def untag_resource(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = _tagged(ctx, params)
    gone = {str(k) for k in params.get("TagKeys") or ()}
    await ctx.tables.redefine(
        table.region,
        table.name,
        lambda t: replace(t, tags={k: v for k, v in t.tags.items() if k not in gone}),
    )
    return {}


async def list_tags_of_resource(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    table = _tagged(ctx, params)
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(table.tags.items())]}


async def describe_limits(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }


HANDLERS: dict[str, Handler[TablesContext]] = {
    "CreateTable": create_table,
    "DescribeTable": describe_table,
    "DeleteTable": delete_table,
    "ListTables": list_tables,
    "UpdateTable": update_table,
    "UpdateTimeToLive": update_time_to_live,
    "DescribeTimeToLive": describe_time_to_live,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsOfResource": list_tags_of_resource,
    "DescribeLimits": describe_limits,
    "PutItem": items_api.put_item,
    "GetItem": items_api.get_item,
    "UpdateItem": items_api.update_item,
    "DeleteItem": items_api.delete_item,
    "BatchGetItem": items_api.batch_get_item,
    "BatchWriteItem": items_api.batch_write_item,
    "TransactWriteItems": items_api.transact_write_items,
    "TransactGetItems": items_api.transact_get_items,
    "Query": reading.query,
    "Scan": reading.scan,
}


# -- authorization ---------------------------------------------------------------------------


def _arn_of(name: str, region: str, account: str) -> str:
    """A table's ARN from a TableName that may itself be an ARN."""
    if name.startswith("arn:"):
        return name
    return table_arn(region, account, name or "-")


def _on_table(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        arn = _arn_of(str(params.get("TableName", "")), region, account)
        index = params.get("IndexName")
        if index and operation in ("Query", "Scan"):
            arn = f"{arn}/index/{index}"
        return f"dynamodb:{operation}", arn

    return authorize


def _batch_tables(params: Mapping[str, Any], region: str, account: str) -> list[str]:
    return [_arn_of(str(n), region, account) for n in (params.get("RequestItems") or {})]


def _transact_tables(params: Mapping[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    """(action, table ARN) of each action of a transaction, in order."""
    out = []
    for action in params.get("TransactItems") or ():
        for kind, verb in (
            ("ConditionCheck", "ConditionCheckItem"),
            ("Put", "PutItem"),
            ("Delete", "DeleteItem"),
            ("Update", "UpdateItem"),
            ("Get", "GetItem"),
        ):
            body = action.get(kind)
            if body is not None:
                out.append((f"dynamodb:{verb}", _arn_of(str(body.get("TableName", "")), region, account)))
    return out


def _first_of(operation: str, tables: Any) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        arns = tables(params, region, account)
        return f"dynamodb:{operation}", arns[0] if arns else table_arn(region, account, "-")

    return authorize


def _rest_of(operation: str, tables: Any) -> Any:
    def also(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
        arns = tables(params, region, account)
        return tuple((f"dynamodb:{operation}", arn) for arn in arns[1:])

    return also


def _transact_first(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
    pairs = _transact_tables(params, region, account)
    return pairs[0] if pairs else ("dynamodb:PutItem", table_arn(region, account, "-"))


def _transact_rest(params: Mapping[str, Any], region: str, account: str) -> tuple[tuple[str, str], ...]:
    return tuple(_transact_tables(params, region, account)[1:])


def _on_resource(operation: str) -> Authorization:
    def authorize(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return f"dynamodb:{operation}", str(params.get("ResourceArn", "")) or table_arn(region, account, "-")

    return authorize


AUTHORIZATION: dict[str, Authorization] = {
    **{
        op: _on_table(op)
        for op in HANDLERS
        if op not in ("ListTables", "DescribeLimits", "BatchGetItem", "BatchWriteItem")
        and not op.startswith("Transact")
        and op not in ("TagResource", "UntagResource", "ListTagsOfResource")
    },
    "BatchGetItem": _first_of("BatchGetItem", _batch_tables),
    "BatchWriteItem": _first_of("BatchWriteItem", _batch_tables),
    "TransactWriteItems": _transact_first,
    "TransactGetItems": _transact_first,
    "TagResource": _on_resource("TagResource"),
    "UntagResource": _on_resource("UntagResource"),
    "ListTagsOfResource": _on_resource("ListTagsOfResource"),
}

# -- condition keys (dynamodb:LeadingKeys, Attributes, Select, ReturnValues, ...) -------------


def _finder(ctx: TablesContext, region: str) -> ck.Find:
    """A table by the TableName a request gave (a name or an ARN), as `requests.table` finds it;
    None where the handler answers ResourceNotFoundException."""

    def find(name: str) -> Table | None:
        if name.startswith("arn:"):
            parsed = split_table_arn(name)
            if parsed is None or parsed[1] != ctx.tables.account_id:
                return None
            return ctx.tables.find(parsed[0], parsed[2])
        return ctx.tables.find(region, name)

    return find


def _keys_of_one(operation: str) -> ConditionKeys[TablesContext]:
    authorize = AUTHORIZATION[operation]
    extract = ck.query_or_scan if operation in ("Query", "Scan") else ck.single_item

    def keys(ctx: TablesContext, params: Mapping[str, Any], region: str, account: str) -> RequestKeys:
        found = extract(operation, params, _finder(ctx, region))
        return {authorize(params, region, account): found} if found else {}

    return keys


def _keys_of_batch(operation: str) -> ConditionKeys[TablesContext]:
    def keys(ctx: TablesContext, params: Mapping[str, Any], region: str, account: str) -> RequestKeys:
        found = ck.batch(operation, params, _finder(ctx, region))
        return {(f"dynamodb:{operation}", _arn_of(name, region, account)): k for name, k in found.items()}

    return keys


def _keys_of_transaction(
    ctx: TablesContext, params: Mapping[str, Any], region: str, account: str
) -> RequestKeys:
    found = ck.transaction(params, _finder(ctx, region))
    return {(f"dynamodb:{verb}", _arn_of(name, region, account)): k for (verb, name), k in found.items()}


CONDITION_KEYS: dict[str, ConditionKeys[TablesContext]] = {
    **{op: _keys_of_one(op) for op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")},
    "BatchGetItem": _keys_of_batch("BatchGetItem"),
    "BatchWriteItem": _keys_of_batch("BatchWriteItem"),
    "TransactWriteItems": _keys_of_transaction,
    "TransactGetItems": _keys_of_transaction,
}

SERVICE = Service[TablesContext](
    model="dynamodb",
    signing=Signing("dynamodb", targets=(TARGET_PREFIX,)),
    handlers=HANDLERS,
    authorization=AUTHORIZATION,
    also_requires={
        "BatchGetItem": _rest_of("BatchGetItem", _batch_tables),
        "BatchWriteItem": _rest_of("BatchWriteItem", _batch_tables),
        "TransactWriteItems": _transact_rest,
        "TransactGetItems": _transact_rest,
    },
    condition_keys=CONDITION_KEYS,
)

__all__ = ["SERVICE", "TablesContext"]
