"""A table's definition (frozen), read from CreateTable's input with DynamoDB's checks, kept as
one JSON record per table, and described as DescribeTable answers.

Throughput (PROVISIONED capacity) is kept and described, never enforced: a table answers as fast
as the machine allows whatever its capacity says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from stratus.tables.errors import ValidationException

INVALID = "One or more parameter values were invalid: "
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
MAX_GSI = 20
MAX_LSI = 5


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def split_table_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a table ARN (or of one of its indexes' or streams')."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "dynamodb"] or not parts[5].startswith("table/"):
        return None
    return parts[3], parts[4], parts[5][len("table/") :].split("/", 1)[0]


@dataclass(frozen=True)
class Index:
    name: str
    is_global: bool
    hash_key: str
    range_key: str | None
    projection: str  # KEYS_ONLY, INCLUDE, ALL
    non_key: tuple[str, ...] = ()
    throughput: Mapping[str, int] | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "global": self.is_global,
            "hash": self.hash_key,
            "range": self.range_key,
            "projection": self.projection,
            "non_key": list(self.non_key),
            "throughput": dict(self.throughput) if self.throughput else None,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Index:
        return cls(
            r["name"],
            r["global"],
            r["hash"],
            r["range"],
            r["projection"],
            tuple(r["non_key"]),
            r["throughput"],
        )

    def key_names(self, table: Table) -> tuple[str, ...]:
        """The attributes every item of the index has: its keys and the table's."""
        names = [self.hash_key, *([self.range_key] if self.range_key else [])]
        names += [n for n in table.key_names if n not in names]
        return tuple(names)

    def schema(self) -> list[dict[str, str]]:
        out = [{"AttributeName": self.hash_key, "KeyType": "HASH"}]
        if self.range_key:
            out.append({"AttributeName": self.range_key, "KeyType": "RANGE"})
        return out


@dataclass(frozen=True)
class Stream:
    label: str  # an ISO timestamp, as DynamoDB's labels are
    view_type: str
    created_ms: int
    ended_ms: int | None = None


@dataclass(frozen=True)
class Table:
    id: int
    region: str
    account: str
    name: str
    created_ms: int
    attributes: Mapping[str, str]  # name -> S | N | B
    hash_key: str
    range_key: str | None
    indexes: tuple[Index, ...] = ()
    billing_mode: str = "PAY_PER_REQUEST"
    throughput: Mapping[str, int] | None = None
    streams: tuple[Stream, ...] = ()  # every stream the table had, the newest last
    ttl_attribute: str | None = None
    ttl_enabled: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    table_class: str = "STANDARD"
    deletion_protection: bool = False

    @property
    def arn(self) -> str:
        return table_arn(self.region, self.account, self.name)

    @property
    def key_names(self) -> tuple[str, ...]:
        return (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)

    @property
    def stream(self) -> Stream | None:
        """The stream being written, if streams are on."""
        latest = self.streams[-1] if self.streams else None
        return latest if latest is not None and latest.ended_ms is None else None

    def stream_arn(self, stream: Stream) -> str:
        return f"{self.arn}/stream/{stream.label}"

    def index(self, name: str) -> Index | None:
        return next((i for i in self.indexes if i.name == name), None)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "region": self.region,
            "account": self.account,
            "name": self.name,
            "created_ms": self.created_ms,
            "attributes": dict(self.attributes),
            "hash": self.hash_key,
            "range": self.range_key,
            "indexes": [i.to_record() for i in self.indexes],
            "billing_mode": self.billing_mode,
            "throughput": dict(self.throughput) if self.throughput else None,
            "streams": [[s.label, s.view_type, s.created_ms, s.ended_ms] for s in self.streams],
            "ttl_attribute": self.ttl_attribute,
            "ttl_enabled": self.ttl_enabled,
            "tags": dict(self.tags),
            "table_class": self.table_class,
            "deletion_protection": self.deletion_protection,
        }

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Table:
        return cls(
            id=r["id"],
            region=r["region"],
            account=r["account"],
            name=r["name"],
            created_ms=r["created_ms"],
            attributes=r["attributes"],
            hash_key=r["hash"],
            range_key=r["range"],
            indexes=tuple(Index.from_record(i) for i in r["indexes"]),
            billing_mode=r["billing_mode"],
            throughput=r["throughput"],
            streams=tuple(Stream(*s) for s in r["streams"]),
            ttl_attribute=r["ttl_attribute"],
            ttl_enabled=r["ttl_enabled"],
            tags=r["tags"],
            table_class=r["table_class"],
            deletion_protection=r["deletion_protection"],
        )


# -- reading CreateTable's input -------------------------------------------------------------


def key_schema(schema: Sequence[Mapping[str, Any]], what: str) -> tuple[str, str | None]:
    if not schema or len(schema) > 2:
        raise ValidationException(f"{INVALID}Invalid KeySchema: {what} must have one or two elements")
    if schema[0].get("KeyType") != "HASH":
        raise ValidationException(
            f"{INVALID}Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        )
    if len(schema) == 2:
        if schema[1].get("KeyType") != "RANGE":
            raise ValidationException(
                f"{INVALID}Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        if schema[0]["AttributeName"] == schema[1]["AttributeName"]:
            raise ValidationException(
                f"{INVALID}Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )
        return str(schema[0]["AttributeName"]), str(schema[1]["AttributeName"])
    return str(schema[0]["AttributeName"]), None


def _projection(given: Mapping[str, Any] | None, index: str) -> tuple[str, tuple[str, ...]]:
    kind = str((given or {}).get("ProjectionType") or "")
    non_key = tuple(str(n) for n in (given or {}).get("NonKeyAttributes") or ())
    if not kind:
        raise ValidationException(f"{INVALID}Unknown ProjectionType: null")
    if kind == "INCLUDE" and not non_key:
        raise ValidationException(
            f"{INVALID}ProjectionType is INCLUDE, but NonKeyAttributes is not specified"
        )
    if kind != "INCLUDE" and non_key:
        raise ValidationException(f"{INVALID}ProjectionType is {kind}, but NonKeyAttributes is specified")
    return kind, non_key


def billing(params: Mapping[str, Any], current: str = "PROVISIONED") -> tuple[str, dict[str, int] | None]:
    mode = str(params.get("BillingMode") or current)
    given = params.get("ProvisionedThroughput")
    if mode == "PAY_PER_REQUEST":
        if given:
            raise ValidationException(
                f"{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                "BillingMode is PAY_PER_REQUEST"
            )
        return mode, None
    if not given:
        raise ValidationException(
            f"{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be "
            "specified when BillingMode is PROVISIONED"
        )
    return mode, {
        "ReadCapacityUnits": int(given["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(given["WriteCapacityUnits"]),
    }


def read_index(given: Mapping[str, Any], is_global: bool, mode: str) -> Index:
    name = str(given["IndexName"])
    hash_key, range_key = key_schema(given["KeySchema"], "KeySchema")
    kind, non_key = _projection(given.get("Projection"), name)
    throughput = None
    if is_global and mode == "PROVISIONED":
        raw = given.get("ProvisionedThroughput")
        if not raw:
            raise ValidationException(f"{INVALID}ProvisionedThroughput must be specified for index: {name}")
        throughput = {
            "ReadCapacityUnits": int(raw["ReadCapacityUnits"]),
            "WriteCapacityUnits": int(raw["WriteCapacityUnits"]),
        }
    return Index(name, is_global, hash_key, range_key, kind, non_key, throughput)


def stream_spec(given: Mapping[str, Any] | None) -> str | None:
    """The StreamViewType asked for, or None for streams off."""
    if not given:
        return None
    if not given.get("StreamEnabled"):
        if given.get("StreamViewType"):
            raise ValidationException(
                f"{INVALID}Stream view type must not be specified when StreamEnabled is false"
            )
        return None
    view = str(given.get("StreamViewType") or "")
    if view not in VIEW_TYPES:
        raise ValidationException(f"{INVALID}Stream view type must be specified when StreamEnabled is true")
    return view


def check_definitions(
    attributes: Mapping[str, str], hash_key: str, range_key: str | None, indexes: Sequence[Index]
) -> None:
    """DynamoDB's rule: every key attribute (of the table and its indexes) is defined, and
    nothing else is."""
    used = {hash_key, *([range_key] if range_key else [])}
    for index in indexes:
        used |= {index.hash_key, *([index.range_key] if index.range_key else [])}
    missing = sorted(used - set(attributes))
    if missing:
        raise ValidationException(
            f"{INVALID}Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(missing)}], AttributeDefinitions: [{', '.join(attributes)}]"
        )
    if set(attributes) - used:
        raise ValidationException(
            f"{INVALID}Number of attributes in KeySchema does not exactly match number of attributes "
            "defined in AttributeDefinitions"
        )


def check_indexes(hash_key: str, range_key: str | None, lsis: Sequence[Index], gsis: Sequence[Index]) -> None:
    names = [i.name for i in (*lsis, *gsis)]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise ValidationException(f"{INVALID}Duplicate index name: {duplicate}")
    if lsis and range_key is None:
        raise ValidationException(
            f"{INVALID}Table KeySchema does not have a range key, which is required "
            "when specifying a LocalSecondaryIndex"
        )
    for lsi in lsis:
        if lsi.range_key is None:
            raise ValidationException(
                f"{INVALID}Index KeySchema does not have a range key for index: {lsi.name}"
            )
        if lsi.hash_key != hash_key:
            raise ValidationException(
                f"{INVALID}Index KeySchema does not have the same leading hash key as table KeySchema for "
                f"index: {lsi.name}. index hash key: {lsi.hash_key}, table hash key: {hash_key}"
            )
    if len(gsis) > MAX_GSI or len(lsis) > MAX_LSI:
        raise ValidationException(f"{INVALID}Too many indexes")


def new_stream(view_type: str, now_ms: int) -> Stream:
    # DynamoDB's labels are the stream's creation time; the milliseconds keep two streams of one
    # table apart.
    label = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return Stream(label, view_type, now_ms)


def end_stream(table: Table, now_ms: int) -> Table:
    current = table.stream
    if current is None:
        return table
    return replace(table, streams=(*table.streams[:-1], replace(current, ended_ms=now_ms)))


def table_id_text(table: Table) -> str:
    """A TableId (a UUID's shape), fixed for the table."""
    digest = hashlib.sha256(f"{table.arn}#{table.created_ms}".encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# -- DescribeTable ---------------------------------------------------------------------------


def _throughput(given: Mapping[str, int] | None) -> dict[str, Any]:
    base = {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    if given:
        base.update(given)
    return base


def describe(
    table: Table,
    item_count: int,
    size_bytes: int,
    index_counts: Mapping[str, tuple[int, int]],
    status: str = "ACTIVE",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in table.attributes.items()
        ],
        "TableName": table.name,
        "KeySchema": [
            {"AttributeName": table.hash_key, "KeyType": "HASH"},
            *([{"AttributeName": table.range_key, "KeyType": "RANGE"}] if table.range_key else []),
        ],
        "TableStatus": status,
        "CreationDateTime": table.created_ms / 1000,
        "ProvisionedThroughput": _throughput(table.throughput),
        "TableSizeBytes": size_bytes,
        "ItemCount": item_count,
        "TableArn": table.arn,
        "TableId": table_id_text(table),
        "DeletionProtectionEnabled": table.deletion_protection,
    }
    if table.billing_mode == "PAY_PER_REQUEST":
        out["BillingModeSummary"] = {
            "BillingMode": "PAY_PER_REQUEST",
            "LastUpdateToPayPerRequestDateTime": table.created_ms / 1000,
        }
    if table.table_class != "STANDARD":
        out["TableClassSummary"] = {"TableClass": table.table_class}
    lsis, gsis = [], []
    for index in table.indexes:
        count, size = index_counts.get(index.name, (0, 0))
        projection: dict[str, Any] = {"ProjectionType": index.projection}
        if index.non_key:
            projection["NonKeyAttributes"] = list(index.non_key)
        entry: dict[str, Any] = {
            "IndexName": index.name,
            "KeySchema": index.schema(),
            "Projection": projection,
            "IndexSizeBytes": size,
            "ItemCount": count,
            "IndexArn": f"{table.arn}/index/{index.name}",
        }
        if index.is_global:
            entry["IndexStatus"] = "ACTIVE"
            entry["ProvisionedThroughput"] = _throughput(index.throughput)
            gsis.append(entry)
        else:
            lsis.append(entry)
    if lsis:
        out["LocalSecondaryIndexes"] = lsis
    if gsis:
        out["GlobalSecondaryIndexes"] = gsis
    stream = table.stream
    if stream is not None:
        out["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream.view_type}
    if table.streams:
        latest = table.streams[-1]
        out["LatestStreamLabel"] = latest.label
        out["LatestStreamArn"] = table.stream_arn(latest)
    return out
