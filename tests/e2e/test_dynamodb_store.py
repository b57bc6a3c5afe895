"""DynamoDB's store against a real `stratus serve`: acknowledged writes survive SIGKILL; stream
records are written with each change that a table's stream must see (with the images its view
type asks for, none for a write that changed nothing), and a new stream label each time streams
are turned on; tables are regional; IAM users are held to dynamodb:<Action> on the table's ARN
(an index's for Query, every table of a batch or a transaction)."""

from __future__ import annotations

import json
import signal
import sqlite3
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server


def unique(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def simple_table(ddb: Any, name: str, **extra: Any) -> None:
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def test_acknowledged_writes_survive_sigkill(fresh_server: Any) -> None:
    first: Server = fresh_server()
    ddb = first.client("dynamodb")
    simple_table(ddb, "durable")
    for i in range(50):
        ddb.put_item(TableName="durable", Item={"pk": {"S": f"k{i}"}, "n": {"N": str(i)}})
    ddb.update_item(
        TableName="durable",
        Key={"pk": {"S": "k1"}},
        UpdateExpression="SET n = n + :one",
        ExpressionAttributeValues={":one": {"N": "100"}},
    )
    ddb.delete_item(TableName="durable", Key={"pk": {"S": "k2"}})
    first.stop(signal.SIGKILL)
    again = Server(first.data_dir).start()
    try:
        ddb = again.client("dynamodb")
        assert ddb.describe_table(TableName="durable")["Table"]["ItemCount"] == 49
        assert ddb.get_item(TableName="durable", Key={"pk": {"S": "k1"}})["Item"]["n"] == {"N": "101"}
        assert "Item" not in ddb.get_item(TableName="durable", Key={"pk": {"S": "k2"}})
    finally:
        again.stop()


def _records(data_dir: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(data_dir / "tables.db")
    try:
        return conn.execute(
            "SELECT table_arn, shard_id, event_name, keys, new_image, old_image FROM stream_records "
            "ORDER BY sequence"
        ).fetchall()
    finally:
        conn.close()


def test_stream_records_written_with_each_change(fresh_server: Any) -> None:
    srv: Server = fresh_server()
    ddb = srv.client("dynamodb")
    simple_table(
        ddb, "streamed", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    described = ddb.describe_table(TableName="streamed")["Table"]
    first_arn = described["LatestStreamArn"]
    assert first_arn == f"{described['TableArn']}/stream/{described['LatestStreamLabel']}"
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "a"}, "v": {"B": b"\x01"}})  # INSERT
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "a"}, "v": {"B": b"\x01"}})  # unchanged: none
    ddb.update_item(
        TableName="streamed",
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET w = :w",
        ExpressionAttributeValues={":w": {"N": "1"}},
    )
    ddb.delete_item(TableName="streamed", Key={"pk": {"S": "a"}})  # REMOVE
    ddb.delete_item(TableName="streamed", Key={"pk": {"S": "a"}})  # nothing there: none
    with pytest.raises(ClientError):
        ddb.update_table(
            TableName="streamed", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
        )
    ddb.update_table(TableName="streamed", StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "off"}})  # streams off: none
    ddb.update_table(
        TableName="streamed", StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    )
    second = ddb.describe_table(TableName="streamed")["Table"]
    assert second["LatestStreamArn"] != first_arn
    ddb.put_item(TableName="streamed", Item={"pk": {"S": "b"}, "x": {"S": "y"}})
    srv.stop()
    rows = _records(srv.data_dir)
    assert [r[2] for r in rows] == ["INSERT", "MODIFY", "REMOVE", "INSERT"]
    insert, modify, remove, keys_only = rows
    assert json.loads(insert[3]) == {"pk": {"S": "a"}}
    assert json.loads(insert[4]) == {"pk": {"S": "a"}, "v": {"B": "AQ=="}} and insert[5] is None
    assert json.loads(modify[5]) == {"pk": {"S": "a"}, "v": {"B": "AQ=="}}
    assert json.loads(modify[4])["w"] == {"N": "1"}
    assert remove[4] is None and json.loads(remove[5])["w"] == {"N": "1"}
    assert keys_only[4] is None and keys_only[5] is None and json.loads(keys_only[3]) == {"pk": {"S": "b"}}
    assert insert[1] == remove[1] != keys_only[1]  # each stream has its own shard


def test_tables_are_regional(server: Server) -> None:
    name = unique()
    east = server.client("dynamodb")
    west = boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )
    simple_table(east, name)
    assert name not in west.list_tables()["TableNames"]
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_item(TableName=name, Key={"pk": {"S": "x"}})
    simple_table(west, name)  # the same name in another region is another table
    assert west.describe_table(TableName=name)["Table"]["TableArn"].startswith("arn:aws:dynamodb:eu-west-1:")


def test_iam_user_allowed_on_one_table_only(server: Server) -> None:
    root = server.client("dynamodb")
    allowed, refused = unique("a"), unique("b")
    for name in (allowed, refused):
        root.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    iam = server.client("iam")
    user = unique("user")
    iam.create_user(UserName=user)
    table_arn = f"arn:aws:dynamodb:{REGION}:000000000000:table/{allowed}"
    iam.put_user_policy(
        UserName=user,
        PolicyName="one-table",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "dynamodb:PutItem",
                            "dynamodb:GetItem",
                            "dynamodb:BatchGetItem",
                            "dynamodb:ConditionCheckItem",
                        ],
                        "Resource": table_arn,
                    },
                    {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{table_arn}/index/*"},
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    item = {"pk": {"S": "x"}, "g": {"S": "G"}}
    ddb.put_item(TableName=allowed, Item=item)
    assert ddb.get_item(TableName=allowed, Key={"pk": {"S": "x"}})["Item"] == item
    assert (
        ddb.query(
            TableName=allowed,
            IndexName="by_g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "G"}},
        )["Count"]
        == 1
    )
    denied = [
        lambda: ddb.put_item(TableName=refused, Item=item),
        lambda: ddb.get_item(TableName=refused, Key={"pk": {"S": "x"}}),
        lambda: ddb.query(
            TableName=allowed, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "x"}}
        ),
        lambda: ddb.batch_get_item(
            RequestItems={allowed: {"Keys": [{"pk": {"S": "x"}}]}, refused: {"Keys": [{"pk": {"S": "x"}}]}}
        ),
        lambda: ddb.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": allowed,
                        "Key": {"pk": {"S": "x"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"TableName": refused, "Item": item}},
            ]
        ),
    ]
    for call in denied:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "Item" not in root.get_item(TableName=refused, Key={"pk": {"S": "x"}})
    got = ddb.batch_get_item(RequestItems={allowed: {"Keys": [{"pk": {"S": "x"}}]}})
    assert got["Responses"][allowed] == [item]
