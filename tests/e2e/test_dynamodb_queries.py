"""DynamoDB Query and Scan through boto3 against a real `stratus serve`: key conditions as
ranges in DynamoDB's key order, pagination, Limit counted before the filter, the 1 MB page,
Select, local and global secondary indexes (projections, sparse indexes, a GSI added to a
table with items and removed), and parallel scans."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ddb(server: Server) -> Any:
    return server.client("dynamodb")


def all_pages(call: Any, **params: Any) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        page = call(**params)
        pages += 1
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items, pages
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def indexed(ddb: Any) -> str:
    """A table (pk S, sk N) with an LSI on `at` (S, KEYS_ONLY), a GSI on `kind`/`rank` with
    INCLUDE [color], and items of which some lack the GSI's keys."""
    name = unique()
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "at", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_at",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_kind",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["color"]},
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            }
        ],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    for i in range(20):
        item = {
            "pk": {"S": "p"},
            "sk": {"N": str(i - 10)},  # negatives too: key order is numeric
            "at": {"S": f"t{19 - i:02d}"},
            "color": {"S": "red" if i % 2 else "blue"},
            "secret": {"S": "not projected"},
        }
        if i % 4 != 0:  # every fourth item lacks the GSI key: not in the index
            item["kind"] = {"S": "k"}
            item["rank"] = {"N": str(i)}
        ddb.put_item(TableName=name, Item=item)
    return name


def test_query_key_conditions_follow_numeric_order(ddb: Any, indexed: str) -> None:
    def sks(**params: Any) -> list[int]:
        items = ddb.query(TableName=indexed, **params)["Items"]
        return [int(i["sk"]["N"]) for i in items]

    values = {":p": {"S": "p"}}
    assert sks(KeyConditionExpression="pk = :p", ExpressionAttributeValues=values) == list(range(-10, 10))
    assert sks(
        KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={**values, ":a": {"N": "-3"}, ":b": {"N": "2"}},
    ) == [-3, -2, -1, 0, 1, 2]
    assert sks(
        KeyConditionExpression="pk = :p AND sk < :a",
        ExpressionAttributeValues={**values, ":a": {"N": "-8"}},
        ScanIndexForward=False,
    ) == [-9, -10]
    with pytest.raises(ClientError) as err:
        sks(
            KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
            ExpressionAttributeValues={**values, ":a": {"N": "1"}},
        )
    assert "begins_with, operand type: N" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        sks(
            KeyConditionExpression="pk = :p AND sk BETWEEN :b AND :a",
            ExpressionAttributeValues={**values, ":a": {"N": "1"}, ":b": {"N": "2"}},
        )
    assert "BETWEEN operator requires upper bound" in err.value.response["Error"]["Message"]


def test_pagination_limit_and_filter(ddb: Any, indexed: str) -> None:
    params = {
        "TableName": indexed,
        "KeyConditionExpression": "pk = :p",
        "FilterExpression": "color = :c",
        "ExpressionAttributeValues": {":p": {"S": "p"}, ":c": {"S": "red"}},
        "Limit": 3,
    }
    first = ddb.query(**params)
    assert first["ScannedCount"] == 3  # Limit counts items read, before the filter
    assert first["LastEvaluatedKey"] == {"pk": {"S": "p"}, "sk": {"N": "-8"}}
    items, pages = all_pages(ddb.query, **params)
    assert len(items) == 10 and pages == 7
    assert ddb.query(**{**params, "Limit": 100, "Select": "COUNT"})["Count"] == 10


def test_one_megabyte_pages(ddb: Any) -> None:
    name = unique()
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    blob = "x" * 300_000
    for i in range(8):
        ddb.put_item(TableName=name, Item={"pk": {"S": "big"}, "sk": {"N": str(i)}, "v": {"S": blob}})
    first = ddb.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "big"}}
    )
    assert first["Count"] == 4 and "LastEvaluatedKey" in first  # 4 x 300 KB reaches 1 MB
    items, pages = all_pages(ddb.scan, TableName=name)
    # Two full pages, each ending at 1 MB with a LastEvaluatedKey, then an empty last page, as
    # DynamoDB answers a page that stopped at its size bound.
    assert len(items) == 8 and pages == 3


def test_local_index_query_and_projection(ddb: Any, indexed: str) -> None:
    page = ddb.query(
        TableName=indexed,
        IndexName="by_at",
        KeyConditionExpression="pk = :p AND begins_with(#a, :t)",
        ExpressionAttributeNames={"#a": "at"},
        ExpressionAttributeValues={":p": {"S": "p"}, ":t": {"S": "t0"}},
    )
    assert [i["at"]["S"] for i in page["Items"]] == [f"t0{d}" for d in range(10)]
    assert set(page["Items"][0]) == {"pk", "sk", "at"}  # KEYS_ONLY
    everything = ddb.query(
        TableName=indexed,
        IndexName="by_at",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Select="ALL_ATTRIBUTES",
        Limit=2,
    )
    assert everything["Items"][0]["secret"] == {"S": "not projected"}  # fetched from the table
    assert set(everything["LastEvaluatedKey"]) == {"pk", "sk", "at"}
    items, _ = all_pages(
        ddb.query,
        TableName=indexed,
        IndexName="by_at",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Limit=3,
    )
    assert len(items) == 20


def test_global_index_is_sparse_and_projected(ddb: Any, indexed: str) -> None:
    page = ddb.query(
        TableName=indexed,
        IndexName="by_kind",
        KeyConditionExpression="kind = :k AND #r >= :r",
        ExpressionAttributeNames={"#r": "rank"},
        ExpressionAttributeValues={":k": {"S": "k"}, ":r": {"N": "10"}},
    )
    ranks = [int(i["rank"]["N"]) for i in page["Items"]]
    assert ranks == [r for r in range(10, 20) if r % 4 != 0]
    assert set(page["Items"][0]) == {"pk", "sk", "kind", "rank", "color"}
    with pytest.raises(ClientError) as err:
        ddb.query(
            TableName=indexed,
            IndexName="by_kind",
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "k"}},
            Select="ALL_ATTRIBUTES",
        )
    assert "projection type is not ALL" in err.value.response["Error"]["Message"]
    # An update that removes the key takes the item out of the index.
    ddb.update_item(
        TableName=indexed, Key={"pk": {"S": "p"}, "sk": {"N": "1"}}, UpdateExpression="REMOVE kind"
    )
    count = ddb.scan(TableName=indexed, IndexName="by_kind", Select="COUNT")["Count"]
    assert count == 14
    description = ddb.describe_table(TableName=indexed)["Table"]
    gsi = description["GlobalSecondaryIndexes"][0]
    assert gsi["IndexStatus"] == "ACTIVE" and gsi["ItemCount"] == 14
    assert gsi["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    with pytest.raises(ClientError) as err:
        ddb.put_item(TableName=indexed, Item={"pk": {"S": "p"}, "sk": {"N": "99"}, "kind": {"N": "1"}})
    assert (
        "Type mismatch for Index Key kind Expected: S Actual: N IndexName: by_kind"
        in err.value.response["Error"]["Message"]
    )


def test_gsi_created_later_is_backfilled_and_deleted(ddb: Any, indexed: str) -> None:
    ddb.update_table(
        TableName=indexed,
        AttributeDefinitions=[{"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_color",
                    "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                }
            }
        ],
    )
    red = ddb.query(
        TableName=indexed,
        IndexName="by_color",
        KeyConditionExpression="color = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )
    assert red["Count"] == 10 and red["Items"][0]["secret"] == {"S": "not projected"}
    ddb.update_table(TableName=indexed, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_color"}}])
    with pytest.raises(ClientError) as err:
        ddb.query(
            TableName=indexed,
            IndexName="by_color",
            KeyConditionExpression="color = :c",
            ExpressionAttributeValues={":c": {"S": "red"}},
        )
    assert "does not have the specified index: by_color" in err.value.response["Error"]["Message"]


def test_parallel_scan_partitions_every_item_once(ddb: Any) -> None:
    name = unique()
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for i in range(60):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"item-{i}"}})
    seen: list[str] = []
    for segment in range(4):
        items, _ = all_pages(ddb.scan, TableName=name, Segment=segment, TotalSegments=4, Limit=7)
        assert items, "each of 4 segments of 60 items has some"
        seen += [i["pk"]["S"] for i in items]
    assert sorted(seen) == sorted(f"item-{i}" for i in range(60))
    again, _ = all_pages(ddb.scan, TableName=name, Segment=2, TotalSegments=4)
    assert [i["pk"]["S"] for i in again] == [p for p in seen if p in {i["pk"]["S"] for i in again}]
    with pytest.raises(ClientError) as err:
        ddb.scan(TableName=name, Segment=4, TotalSegments=4)
    assert "Segment: 4 is not less than TotalSegments: 4" in err.value.response["Error"]["Message"]
