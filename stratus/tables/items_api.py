"""DynamoDB's item handlers: PutItem, GetItem, UpdateItem, DeleteItem, BatchGetItem,
BatchWriteItem, TransactWriteItems and TransactGetItems (boto3's input in, boto3's result out)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from stratus.tables import requests as rq
from stratus.tables.context import TablesContext
from stratus.tables.errors import IdempotentParameterMismatchException, ValidationException
from stratus.tables.expressions import Update, parse_update
from stratus.tables.keys import check_item_keys, check_key, key_of, row_key
from stratus.tables.model import INVALID, Table
from stratus.tables.tables import Outcome, Write
from stratus.tables.values import Item, check_item, check_size, dumps, item_size

MAX_BATCH_GET = 100
MAX_BATCH_WRITE = 25
TOKEN_LIFE_S = 600


def _put_write(ctx: TablesContext, params: Mapping[str, Any], region: str) -> Write:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    item = check_item(params.get("Item") or {})
    check_item_keys(table, item)
    size = check_size(item)
    subs = rq.substitutions(params)
    condition = rq.condition(params, subs)
    subs.check_all_used()
    return Write(
        "put",
        table,
        key_of(table, item),
        item=item,
        condition=condition,
        old_on_failure=rq.old_on_failure(params),
        size=size,
    )


def _update_write(ctx: TablesContext, params: Mapping[str, Any], region: str) -> Write:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    key = check_key(table, params.get("Key"))
    subs = rq.substitutions(params)
    text = params.get("UpdateExpression")
    update = parse_update(str(text), subs) if text is not None else None
    condition = rq.condition(params, subs)
    subs.check_all_used()
    if update is not None:
        for name in table.key_names:
            if name in update.touched:
                raise ValidationException(
                    f"{INVALID}Cannot update attribute {name}. This attribute is part of the key"
                )
    return Write(
        "update", table, key, update=update, condition=condition, old_on_failure=rq.old_on_failure(params)
    )


def _delete_write(ctx: TablesContext, params: Mapping[str, Any], region: str, kind: str = "delete") -> Write:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    key = check_key(table, params.get("Key"))
    subs = rq.substitutions(params)
    condition = rq.condition(params, subs)
    if kind == "check" and condition is None:
        raise ValidationException("The ConditionExpression can not be empty")
    subs.check_all_used()
    return Write(
        "delete" if kind == "delete" else "check",
        table,
        key,
        condition=condition,
        old_on_failure=rq.old_on_failure(params),
    )


def _updated(update: Update | None, item: Item | None) -> Item:
    """The top-level attributes an update touched, as `item` has them (UPDATED_OLD/NEW)."""
    if item is None or update is None:
        return {}
    return {k: v for k, v in item.items() if k in update.touched}


async def put_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    returning = rq.return_values(params, ("NONE", "ALL_OLD"))
    write = replace(_put_write(ctx, params, region), want_old=returning == "ALL_OLD")
    outcome = await ctx.tables.write(write)
    result: dict[str, Any] = {}
    if returning == "ALL_OLD" and outcome.old:
        result["Attributes"] = outcome.old
    return rq.capacity(params, write.table, lambda: rq.write_units(outcome.old, outcome.new), result)


async def update_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    returning = rq.return_values(params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"))
    write = _update_write(ctx, params, region)
    outcome = await ctx.tables.write(write)
    shown = {
        "NONE": None,
        "ALL_OLD": outcome.old,
        "ALL_NEW": outcome.new,
        "UPDATED_OLD": _updated(write.update, outcome.old),
        "UPDATED_NEW": _updated(write.update, outcome.new),
    }[returning]
    result: dict[str, Any] = {"Attributes": shown} if shown else {}
    return rq.capacity(params, write.table, lambda: rq.write_units(outcome.old, outcome.new), result)


async def delete_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    returning = rq.return_values(params, ("NONE", "ALL_OLD"))
    write = _delete_write(ctx, params, region)
    outcome = await ctx.tables.write(write)
    result: dict[str, Any] = {}
    if returning == "ALL_OLD" and outcome.old:
        result["Attributes"] = outcome.old
    return rq.capacity(params, write.table, lambda: rq.write_units(outcome.old), result)


async def get_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    rq.refuse_legacy(params)
    table = rq.table(ctx, params, region)
    key = check_key(table, params.get("Key"))
    subs = rq.substitutions(params)
    paths = rq.projection(params, subs)
    subs.check_all_used()
    item = await ctx.tables.get(table, key)
    result: dict[str, Any] = {}
    if item is not None:
        result["Item"] = rq.projected(paths, item)
    consistent = bool(params.get("ConsistentRead"))
    return rq.capacity(
        params, table, lambda: rq.read_units(item_size(item) if item else 0, consistent), result
    )


# -- batches ---------------------------------------------------------------------------------


def _duplicates() -> ValidationException:
    return ValidationException("Provided list of item keys contains duplicates")


async def batch_get_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    asked = params.get("RequestItems") or {}
    total = sum(len(spec.get("Keys") or ()) for spec in asked.values())
    if total > MAX_BATCH_GET:
        raise ValidationException("Too many items requested for the BatchGetItem call")
    wanted: list[tuple[Table, Item]] = []
    shapes = []
    for name, spec in asked.items():
        table = rq.table(ctx, {"TableName": name}, region)
        rq.refuse_legacy(spec)
        subs = rq.substitutions(spec)
        paths = rq.projection(spec, subs)
        subs.check_all_used()
        seen: set[tuple[bytes, bytes]] = set()
        for given in spec.get("Keys") or ():
            key = check_key(table, given)
            at = row_key(table, key)
            if (at.pk, at.sk) in seen:
                raise _duplicates()
            seen.add((at.pk, at.sk))
            wanted.append((table, key))
            shapes.append((name, paths))
    found = await ctx.tables.get_many(wanted)
    responses: dict[str, list[Item]] = {name: [] for name in asked}
    for (name, paths), item in zip(shapes, found, strict=True):
        if item is not None:
            responses[name].append(rq.projected(paths, item))
    return {"Responses": responses, "UnprocessedKeys": {}}


async def batch_write_item(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    asked = params.get("RequestItems") or {}
    total = sum(len(requests) for requests in asked.values())
    if total > MAX_BATCH_WRITE:
        raise ValidationException(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: "
            "Map value must satisfy constraint: [Member must have length less than "
            f"or equal to {MAX_BATCH_WRITE}]"
        )
    writes: list[Write] = []
    for name, requests in asked.items():
        table = rq.table(ctx, {"TableName": name}, region)
        seen: set[tuple[bytes, bytes]] = set()
        for request in requests:
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            if (put is None) == (delete is None):
                raise ValidationException(
                    "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest"
                )
            if put is not None:
                item = check_item(put.get("Item") or {})
                check_item_keys(table, item)
                check_size(item)
                write = Write("put", table, key_of(table, item), item=item)
            else:
                write = Write("delete", table, check_key(table, delete.get("Key")))
            at = row_key(table, write.key)
            if (at.pk, at.sk) in seen:
                raise _duplicates()
            seen.add((at.pk, at.sk))
            writes.append(write)
    # Each write is atomic on its own (a batch is not a transaction); issued together, they
    # are committed together by the store's group commit.
    await asyncio.gather(*(ctx.tables.write(w) for w in writes))
    return {"UnprocessedItems": {}}


# -- transactions ----------------------------------------------------------------------------


def _transact_write(ctx: TablesContext, action: Mapping[str, Any], region: str) -> Write:
    kinds = [k for k in ("ConditionCheck", "Put", "Delete", "Update") if action.get(k) is not None]
    if len(kinds) != 1:
        raise ValidationException("TransactItems can only contain one of Check, Put, Update or Delete")
    kind = kinds[0]
    body = action[kind]
    if kind == "Put":
        return _put_write(ctx, body, region)
    if kind == "Update":
        return _update_write(ctx, body, region)
    return _delete_write(ctx, body, region, "check" if kind == "ConditionCheck" else "delete")


async def transact_write_items(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    token = params.get("ClientRequestToken")
    digest = hashlib.sha256(dumps({k: v for k, v in params.items() if k != "ClientRequestToken"})).hexdigest()
    now = time.time()
    for seen, (_, at, _) in list(ctx.tokens.items()):
        if now - at > TOKEN_LIFE_S:
            del ctx.tokens[seen]
    if token is not None and token in ctx.tokens:
        earlier, _, answer = ctx.tokens[token]
        if earlier != digest:
            raise IdempotentParameterMismatchException(
                "The request uses the same client token as a previous, but non-identical request."
            )
        return answer
    writes = [_transact_write(ctx, action, region) for action in params.get("TransactItems") or ()]
    places = [(w.table.id, *(lambda r: (r.pk, r.sk))(row_key(w.table, w.key))) for w in writes]
    if len(set(places)) != len(places):
        raise ValidationException("Transaction request cannot include multiple operations on one item")
    outcomes: list[Outcome] = await ctx.tables.write_all(writes)
    result: dict[str, Any] = {}
    if str(params.get("ReturnConsumedCapacity") or "NONE") != "NONE":
        per_table: dict[str, float] = {}
        for w, o in zip(writes, outcomes, strict=True):
            per_table[w.table.name] = per_table.get(w.table.name, 0.0) + 2 * rq.write_units(o.old, o.new)
        result["ConsumedCapacity"] = [{"TableName": n, "CapacityUnits": u} for n, u in per_table.items()]
    if token is not None:
        ctx.tokens[token] = (digest, now, orjson.loads(orjson.dumps(result)))
    return result


async def transact_get_items(ctx: TablesContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    wanted: list[tuple[Table, Item]] = []
    paths_of = []
    for action in params.get("TransactItems") or ():
        get = action.get("Get") or {}
        table = rq.table(ctx, get, region)
        key = check_key(table, get.get("Key"))
        subs = rq.substitutions(get)
        paths = rq.projection(get, subs)
        subs.check_all_used()
        wanted.append((table, key))
        paths_of.append(paths)
    found = await ctx.tables.get_many(wanted)
    return {
        "Responses": [
            {"Item": rq.projected(paths, item)} if item is not None else {}
            for paths, item in zip(paths_of, found, strict=True)
        ]
    }
