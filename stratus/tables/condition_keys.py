"""DynamoDB's own IAM condition keys of one request, for fine-grained access control policies
("Using IAM policy conditions for fine-grained access control" in DynamoDB's guide):

- `dynamodb:LeadingKeys`: the partition key values of the items the request touches (a Key's,
  an Item's, a Query's key condition's; every item of a table in a batch or transaction). A
  string is itself, a number DynamoDB's canonical text ("1.50" -> "1.5"), a binary its base64.
  Scan names no partition, so it has none: under IAM's rules a `ForAllValues:` condition on a
  missing key holds, which is why AWS's guide leaves Scan out of such policies.
- `dynamodb:Attributes`: the top-level attribute names the request names: its Key's or Item's,
  those of its projection (or AttributesToGet), update, condition, filter and key condition.
- `dynamodb:Select`: what a read returns, always with a value as DynamoDB's guide says (the
  default ALL_ATTRIBUTES, SPECIFIC_ATTRIBUTES under a projection, ALL_PROJECTED_ATTRIBUTES for
  an index), so that `StringEquals` on it refuses a read of whole items.
- `dynamodb:ReturnValues` (PutItem, UpdateItem, DeleteItem; NONE by default) and
  `dynamodb:ReturnConsumedCapacity` (NONE by default).

Pure: the table's key schema comes from `find` (None: no such table, and then no keys at all,
since the handler answers ResourceNotFoundException). Input a handler would refuse yields
fewer keys, never an error: the handler then refuses it with DynamoDB's message. Keys are
lower-cased, as the authorizer matches them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import (
    Substitutions,
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from stratus.tables.model import Table
from stratus.tables.values import normalize_number

LEADING_KEYS = "dynamodb:leadingkeys"
ATTRIBUTES = "dynamodb:attributes"
SELECT = "dynamodb:select"
RETURN_VALUES = "dynamodb:returnvalues"
RETURN_CONSUMED_CAPACITY = "dynamodb:returnconsumedcapacity"

Keys = dict[str, tuple[str, ...]]
Find = Callable[[str], Table | None]

# The transaction parts and the action each is authorized as.
TRANSACT_VERBS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "Get": "GetItem",
}


def key_text(value: Any) -> str | None:
    """A key value as a policy compares it; None for what is not a key value."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind == "S" and isinstance(inner, str):
        return inner
    if kind == "N" and isinstance(inner, str):
        try:
            return normalize_number(inner)
        except (ValidationException, ValueError, ArithmeticError):
            return None
    if kind == "B" and isinstance(inner, bytes | bytearray):
        return base64.b64encode(bytes(inner)).decode("ascii")
    return None


def top_names(tree: object) -> set[str]:
    """The top-level attribute names of every document path in a parsed expression (a path is
    a tuple of names and list indexes; conditions, updates and their operands are frozen
    dataclasses holding paths and further nodes)."""
    out: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, tuple):
            if node and isinstance(node[0], str) and all(isinstance(p, str | int) for p in node):
                out.add(node[0])
            else:
                for part in node:
                    walk(part)
        elif is_dataclass(node) and not isinstance(node, type):
            for f in fields(node):
                walk(getattr(node, f.name))

    walk(tree)
    return out


# How much of an item each Select returns, to keep the broadest of several reads.
_BREADTH = {"COUNT": 0, "SPECIFIC_ATTRIBUTES": 1, "ALL_PROJECTED_ATTRIBUTES": 2, "ALL_ATTRIBUTES": 3}


class _Gathered:
    """The keys of one (action, table) pair of a request, as its items are read."""

    def __init__(self) -> None:
        self.leading: set[str] = set()
        self.attributes: set[str] = set()
        self.select: str | None = None
        self.return_values: str | None = None

    def keys(self, capacity: str) -> Keys:
        out: Keys = {
            LEADING_KEYS: tuple(sorted(self.leading)),
            ATTRIBUTES: tuple(sorted(self.attributes)),
            RETURN_CONSUMED_CAPACITY: (capacity,),
        }
        if self.select is not None:
            out[SELECT] = (self.select,)
        if self.return_values is not None:
            out[RETURN_VALUES] = (self.return_values,)
        return {k: v for k, v in out.items() if v}


def _subs(spec: Mapping[str, Any]) -> Substitutions | None:
    try:
        return Substitutions(spec.get("ExpressionAttributeNames"), spec.get("ExpressionAttributeValues"))
    except ValidationException:
        return None


def _names_of(
    spec: Mapping[str, Any],
    subs: Substitutions | None,
    parse: Callable[[str, Substitutions], object],
    member: str,
) -> set[str]:
    text = spec.get(member)
    if text is None or subs is None:
        return set()
    try:
        return top_names(parse(str(text), subs))
    except ValidationException:
        return set()


def _read(
    spec: Mapping[str, Any], subs: Substitutions | None, into: _Gathered, *, index: bool = False
) -> None:
    """What a read names and returns: its projection, and the Select it amounts to."""
    projected = _names_of(spec, subs, parse_projection, "ProjectionExpression")
    given = spec.get("AttributesToGet")
    if isinstance(given, list):
        projected |= {str(n) for n in given}
    into.attributes |= projected
    has_projection = spec.get("ProjectionExpression") is not None or given is not None
    select = spec.get("Select")
    if select is not None:
        chosen = str(select)
    elif has_projection:
        chosen = "SPECIFIC_ATTRIBUTES"
    else:
        chosen = "ALL_PROJECTED_ATTRIBUTES" if index else "ALL_ATTRIBUTES"
    # Several reads of one table (a transaction's Gets) answer as the broadest of them: one
    # value, since IAM ORs a key's values and `StringEquals` would pass on the narrowest.
    if into.select is None or _BREADTH.get(chosen, 0) > _BREADTH.get(into.select, 0):
        into.select = chosen


def _condition(spec: Mapping[str, Any], subs: Substitutions | None, into: _Gathered, member: str) -> None:
    into.attributes |= _names_of(spec, subs, lambda text, s: parse_condition(text, s, kind=member), member)


def _keyed(table: Table, key: Any, into: _Gathered) -> None:
    """A Key or an Item: its partition key value and its attribute names."""
    if not isinstance(key, Mapping):
        return
    into.attributes |= {str(n) for n in key}
    value = key_text(key.get(table.hash_key))
    if value is not None:
        into.leading.add(value)


def _item_action(kind: str, table: Table, spec: Mapping[str, Any], into: _Gathered) -> None:
    """One item's write or read (a single-item operation, or a part of a batch or transaction)."""
    subs = _subs(spec)
    if kind == "PutItem":
        _keyed(table, spec.get("Item"), into)
    else:
        _keyed(table, spec.get("Key"), into)
    if kind == "UpdateItem":
        into.attributes |= _names_of(spec, subs, parse_update, "UpdateExpression")
        updates = spec.get("AttributeUpdates")
        if isinstance(updates, Mapping):
            into.attributes |= {str(n) for n in updates}
    if kind == "GetItem":
        _read(spec, subs, into)
    else:
        _condition(spec, subs, into, "ConditionExpression")
    expected = spec.get("Expected")
    if isinstance(expected, Mapping):
        into.attributes |= {str(n) for n in expected}


def single_item(operation: str, params: Mapping[str, Any], find: Find) -> Keys | None:
    """GetItem, PutItem, UpdateItem and DeleteItem."""
    table = find(str(params.get("TableName", "")))
    if table is None:
        return None
    into = _Gathered()
    _item_action(operation, table, params, into)
    if operation != "GetItem":
        into.return_values = str(params.get("ReturnValues") or "NONE")
    return into.keys(_capacity(params))


def query_or_scan(operation: str, params: Mapping[str, Any], find: Find) -> Keys | None:
    """Query (its partition from the key condition, on the index's schema for an index) and
    Scan (no partition)."""
    table = find(str(params.get("TableName", "")))
    if table is None:
        return None
    index_name = params.get("IndexName")
    index = table.index(str(index_name)) if index_name is not None else None
    if index_name is not None and index is None:
        return None  # the handler refuses the unknown index
    hash_key = index.hash_key if index else table.hash_key
    range_key = index.range_key if index else table.range_key
    into = _Gathered()
    subs = _subs(params)
    if operation == "Query":
        text = params.get("KeyConditionExpression")
        if text is not None and subs is not None:
            try:
                condition = parse_key_condition(str(text), subs, hash_key=hash_key, range_key=range_key)
            except ValidationException:
                condition = None
            if condition is not None:
                into.attributes |= {
                    condition.hash_name,
                    *([condition.range_name] if condition.range_name else []),
                }
                value = key_text(condition.hash_value)
                if value is not None:
                    into.leading.add(value)
        legacy = params.get("KeyConditions")
        if isinstance(legacy, Mapping):
            into.attributes |= {str(n) for n in legacy}
            hashed = legacy.get(hash_key)
            listed = hashed.get("AttributeValueList") if isinstance(hashed, Mapping) else None
            if isinstance(listed, list) and listed:
                value = key_text(listed[0])
                if value is not None:
                    into.leading.add(value)
    _condition(params, subs, into, "FilterExpression")
    for legacy_filter in ("QueryFilter", "ScanFilter"):
        given = params.get(legacy_filter)
        if isinstance(given, Mapping):
            into.attributes |= {str(n) for n in given}
    _read(params, subs, into, index=index is not None)
    return into.keys(_capacity(params))


def batch(operation: str, params: Mapping[str, Any], find: Find) -> dict[str, Keys]:
    """BatchGetItem and BatchWriteItem: each table's keys, by the TableName the request gave."""
    out: dict[str, Keys] = {}
    requests = params.get("RequestItems")
    if not isinstance(requests, Mapping):
        return out
    for name, given in requests.items():
        table = find(str(name))
        if table is None:
            continue
        into = _Gathered()
        if operation == "BatchGetItem" and isinstance(given, Mapping):
            for key in given.get("Keys") or ():
                _keyed(table, key, into)
            _read(given, _subs(given), into)
        elif isinstance(given, list):
            for write in given:
                if not isinstance(write, Mapping):
                    continue
                for kind, spec in write.items():
                    if isinstance(spec, Mapping):
                        _keyed(table, spec.get("Item" if kind == "PutRequest" else "Key"), into)
        out[str(name)] = into.keys(_capacity(params))
    return out


def transaction(params: Mapping[str, Any], find: Find) -> dict[tuple[str, str], Keys]:
    """TransactWriteItems and TransactGetItems: the keys of each (action, TableName) pair, from
    the parts of the transaction that pair authorizes."""
    gathered: dict[tuple[str, str], _Gathered] = {}
    for part in params.get("TransactItems") or ():
        if not isinstance(part, Mapping):
            continue
        for kind, verb in TRANSACT_VERBS.items():
            spec = part.get(kind)
            if not isinstance(spec, Mapping):
                continue
            name = str(spec.get("TableName", ""))
            table = find(name)
            if table is None:
                continue
            into = gathered.setdefault((verb, name), _Gathered())
            _item_action(verb, table, spec, into)
    capacity = _capacity(params)
    return {pair: into.keys(capacity) for pair, into in gathered.items()}


def _capacity(params: Mapping[str, Any]) -> str:
    return str(params.get("ReturnConsumedCapacity") or "NONE")
