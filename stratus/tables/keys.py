"""Keys: an item's primary key and index keys checked as DynamoDB checks them (its messages),
and encoded for SQL (`values.sort_key_bytes`), plus what an index holds of an item."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stratus.tables.errors import ValidationException
from stratus.tables.model import INVALID, Index, Table
from stratus.tables.values import AttributeValue, Item, check_value, sort_key_bytes

NO_MATCH = "The provided key element does not match the schema"


def _empty(value: AttributeValue) -> bool:
    ((kind, inner),) = value.items()
    return kind in ("S", "B") and len(inner) == 0


def check_item_keys(table: Table, item: Item) -> None:
    """A whole item's keys (PutItem, an update's result): present, of the declared type, not
    empty; and each index key it has, of its declared type and not empty."""
    for name in table.key_names:
        value = item.get(name)
        if value is None:
            raise ValidationException(f"{INVALID}Missing the key {name} in the item")
        kind = next(iter(value))
        if kind != table.attributes[name]:
            raise ValidationException(
                f"{INVALID}Type mismatch for key {name} expected: {table.attributes[name]} actual: {kind}"
            )
        if _empty(value):
            raise ValidationException(
                "One or more parameter values are not valid. The AttributeValue for a key attribute "
                f"cannot contain an empty string value. Key: {name}"
            )
    for index in table.indexes:
        for name in (index.hash_key, *([index.range_key] if index.range_key else [])):
            value = item.get(name)
            if value is None:
                continue
            kind = next(iter(value))
            if kind != table.attributes[name]:
                raise ValidationException(
                    f"{INVALID}Type mismatch for Index Key {name} Expected: {table.attributes[name]} "
                    f"Actual: {kind} IndexName: {index.name}"
                )
            if _empty(value):
                raise ValidationException(
                    "One or more parameter values are not valid. A value specified for a secondary index "
                    "key is not supported. The AttributeValue for a key attribute cannot contain an empty "
                    f"string value. IndexName: {index.name}, IndexKey: {name}"
                )


def check_key(table: Table, key: Any) -> Item:
    """A `Key` parameter: exactly the table's key attributes, of their declared types."""
    if not isinstance(key, dict) or set(key) != set(table.key_names):
        raise ValidationException(NO_MATCH)
    out: Item = {}
    for name in table.key_names:
        value = check_value(key[name])
        if next(iter(value)) != table.attributes[name]:
            raise ValidationException(NO_MATCH)
        if _empty(value):
            raise ValidationException(
                "One or more parameter values are not valid. The AttributeValue for a key attribute "
                f"cannot contain an empty string value. Key: {name}"
            )
        out[name] = value
    return out


@dataclass(frozen=True)
class RowKey:
    """Where an item lives: its partition key's bytes, its sort key's (empty without one), and
    the partition's hash (Scan's segments are ranges of it)."""

    pk: bytes
    sk: bytes
    hash: int


def row_key(table: Table, item: Mapping[str, AttributeValue]) -> RowKey:
    pk = sort_key_bytes(item[table.hash_key])
    sk = sort_key_bytes(item[table.range_key]) if table.range_key else b""
    return RowKey(pk, sk, partition_hash(pk))


def partition_hash(pk: bytes) -> int:
    return zlib.crc32(pk)


def key_of(table: Table, item: Mapping[str, AttributeValue]) -> Item:
    return {name: item[name] for name in table.key_names}


def index_key(index: Index, item: Mapping[str, AttributeValue]) -> tuple[bytes, bytes] | None:
    """The item's key in `index`, or None when it lacks one (it is then not in the index)."""
    hash_value = item.get(index.hash_key)
    if hash_value is None:
        return None
    if index.range_key is None:
        return sort_key_bytes(hash_value), b""
    range_value = item.get(index.range_key)
    if range_value is None:
        return None
    return sort_key_bytes(hash_value), sort_key_bytes(range_value)


def projected(table: Table, index: Index, item: Mapping[str, AttributeValue]) -> Item:
    """What `index` holds of an item: its keys, the table's, and what its projection names."""
    if index.projection == "ALL":
        return dict(item)
    names = set(index.key_names(table)) | set(index.non_key)
    return {k: v for k, v in item.items() if k in names}
