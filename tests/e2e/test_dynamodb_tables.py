"""DynamoDB tables and items through boto3 (client and resource) against a real `stratus
serve`: table management, item writes with conditions and ReturnValues, validation as DynamoDB
words it, batches and transactions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ddb(server: Server) -> Any:
    return server.client("dynamodb")


def resource(server: Server) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1}),
    )


def make_table(ddb: Any, name: str, *, sort: bool = True, **extra: Any) -> None:
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if sort:
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
    attributes += extra.pop("more_attributes", [])
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=attributes,
        KeySchema=schema,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_table_lifecycle_describe_list_and_waiter(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name, Tags=[{"Key": "team", "Value": "a"}])
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["TableArn"] == f"arn:aws:dynamodb:{REGION}:000000000000:table/{name}"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["ItemCount"] == 0
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "x" * 100}})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["ItemCount"] == 1 and table["TableSizeBytes"] > 100
    assert name in ddb.list_tables()["TableNames"]
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ddb.exceptions.ResourceInUseException):
        make_table(ddb, name)
    ddb.delete_table(TableName=name)
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.describe_table(TableName=name)


def test_list_tables_pages(ddb: Any) -> None:
    prefix = unique("page")
    names = [f"{prefix}-{i}" for i in range(3)]
    for n in names:
        make_table(ddb, n, sort=False)
    seen: list[str] = []
    start: dict[str, Any] = {}
    while True:
        page = ddb.list_tables(Limit=1, **start)
        seen += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            break
        start = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
    assert [n for n in seen if n.startswith(prefix)] == names


def test_create_table_checks_definitions(ddb: Any) -> None:
    with pytest.raises(ClientError) as err:
        ddb.create_table(
            TableName=unique(),
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "x", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error(err)[0] == "ValidationException"
    assert "Number of attributes in KeySchema does not exactly match" in error(err)[1]
    with pytest.raises(ClientError) as err:
        ddb.create_table(
            TableName=unique(),
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PROVISIONED",
        )
    assert "ReadCapacityUnits and WriteCapacityUnits must both be specified" in error(err)[1]


def test_items_round_trip_with_every_type_and_canonical_numbers(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    item = {
        "pk": {"S": "p"},
        "sk": {"N": "1.50"},
        "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2.0"]},
        "bs": {"BS": [b"x", b"y"]},
        "m": {"M": {"in": {"L": [{"S": ""}, {"NULL": True}, {"BOOL": False}, {"B": b""}]}}},
    }
    ddb.put_item(TableName=name, Item=item)
    got = ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "1.5"}}, ConsistentRead=True)[
        "Item"
    ]
    assert got["sk"] == {"N": "1.5"}
    assert got["b"] == {"B": b"\x00\xff"}
    assert sorted(got["ns"]["NS"]) == ["1", "2"]
    assert sorted(got["bs"]["BS"]) == [b"x", b"y"]
    assert got["m"]["M"]["in"]["L"] == [{"S": ""}, {"NULL": True}, {"BOOL": False}, {"B": b""}]
    projected = ddb.get_item(
        TableName=name,
        Key={"pk": {"S": "p"}, "sk": {"N": "1.5"}},
        ProjectionExpression="#m.#i[0], ss",
        ExpressionAttributeNames={"#m": "m", "#i": "in"},
    )["Item"]
    assert projected == {"m": {"M": {"in": {"L": [{"S": ""}]}}}, "ss": {"SS": ["a", "b"]}}
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "2"}})


def test_validation_in_dynamodbs_words(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    cases = [
        ({"pk": {"S": "a"}}, "One or more parameter values were invalid: Missing the key sk in the item"),
        (
            {"pk": {"N": "1"}, "sk": {"N": "1"}},
            "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
        ),
        ({"pk": {"S": ""}, "sk": {"N": "1"}}, "cannot contain an empty string value. Key: pk"),
        ({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"SS": []}}, "An string set  may not be empty"),
        ({"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"SS": ["x", "x"]}}, "contains duplicates"),
        ({"pk": {"S": "a"}, "sk": {"N": "1" * 39}}, "Attempting to store more than 38 significant digits"),
        ({"pk": {"S": "a"}, "sk": {"N": "1E126"}}, "Number overflow"),
        ({"pk": {"S": "a"}, "sk": {"N": "x"}}, "cannot be converted into a number"),
        ({"pk": {"S": "a"}, "sk": {"N": "1"}, "big": {"S": "x" * (400 * 1024)}}, "Item size has exceeded"),
    ]
    for item, message in cases:
        with pytest.raises(ClientError) as err:
            ddb.put_item(TableName=name, Item=item)
        assert error(err)[0] == "ValidationException", item
        assert message in error(err)[1], (item, error(err)[1])
    deep: dict[str, Any] = {"S": "x"}
    for _ in range(32):
        deep = {"L": [deep]}
    with pytest.raises(ClientError) as err:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "d": deep})
    assert "Nesting Levels have exceeded supported limits" in error(err)[1]
    with pytest.raises(ClientError) as err:
        ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})
    assert error(err) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as err:
        ddb.put_item(
            TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}}, Expected={"x": {"Exists": False}}
        )
    assert "legacy parameter Expected" in error(err)[1]
    with pytest.raises(ddb.exceptions.ResourceNotFoundException):
        ddb.get_item(TableName=unique("missing"), Key={"pk": {"S": "a"}})


def test_conditions_and_return_values(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    key = {"pk": {"S": "c"}, "sk": {"N": "1"}}
    ddb.put_item(
        TableName=name, Item={**key, "n": {"N": "1"}}, ConditionExpression="attribute_not_exists(pk)"
    )
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as err:
        ddb.put_item(
            TableName=name,
            Item={**key, "n": {"N": "2"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert err.value.response["Item"] == {**key, "n": {"N": "1"}}
    old = ddb.put_item(TableName=name, Item={**key, "n": {"N": "2"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["n"] == {"N": "1"}
    out = ddb.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET n = n + :one, l = list_append(if_not_exists(l, :empty), :one_l) ADD c :one",
        ConditionExpression="n = :two",
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":two": {"N": "2"},
            ":empty": {"L": []},
            ":one_l": {"L": [{"S": "a"}]},
        },
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert out == {"n": {"N": "3"}, "l": {"L": [{"S": "a"}]}, "c": {"N": "1"}}
    with pytest.raises(ClientError) as err:
        ddb.update_item(
            TableName=name,
            Key=key,
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert "Cannot update attribute pk. This attribute is part of the key" in error(err)[1]
    created = ddb.update_item(
        TableName=name,
        Key={"pk": {"S": "new"}, "sk": {"N": "9"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"S": "made"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert created == {"pk": {"S": "new"}, "sk": {"N": "9"}, "v": {"S": "made"}}
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):
        ddb.delete_item(
            TableName=name,
            Key=key,
            ConditionExpression="n = :v",
            ExpressionAttributeValues={":v": {"N": "7"}},
        )
    gone = ddb.delete_item(TableName=name, Key=key, ReturnValues="ALL_OLD")["Attributes"]
    assert gone["n"] == {"N": "3"}
    assert "Item" not in ddb.get_item(TableName=name, Key=key)
    with pytest.raises(ClientError) as err:
        ddb.put_item(TableName=name, Item=key, ReturnValues="ALL_NEW")
    assert error(err) == ("ValidationException", "Return values set to invalid value")


def test_batches(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    puts = [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={name: puts})["UnprocessedItems"] == {}
    keys = [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(25)]
    got = ddb.batch_get_item(RequestItems={name: {"Keys": keys}})
    assert len(got["Responses"][name]) == 25 and got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as err:
        ddb.batch_write_item(RequestItems={name: [puts[0], puts[0]]})
    assert error(err) == ("ValidationException", "Provided list of item keys contains duplicates")
    with pytest.raises(ClientError) as err:
        ddb.batch_get_item(RequestItems={name: {"Keys": [keys[0], keys[0]]}})
    assert error(err) == ("ValidationException", "Provided list of item keys contains duplicates")
    with pytest.raises(ClientError) as err:
        ddb.batch_get_item(
            RequestItems={name: {"Keys": [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(101)]}}
        )
    assert error(err)[0] == "ValidationException"
    deletes = [{"DeleteRequest": {"Key": k}} for k in keys[:10]]
    ddb.batch_write_item(RequestItems={name: deletes})
    assert ddb.scan(TableName=name, Select="COUNT")["Count"] == 15


def test_transactions_all_or_nothing(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    a, b = {"pk": {"S": "t"}, "sk": {"N": "1"}}, {"pk": {"S": "t"}, "sk": {"N": "2"}}
    ddb.put_item(TableName=name, Item={**a, "bal": {"N": "10"}})
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as err:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {**b, "bal": {"N": "5"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": a,
                        "UpdateExpression": "SET bal = bal - :x",
                        "ConditionExpression": "bal >= :x",
                        "ExpressionAttributeValues": {":x": {"N": "50"}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ]
        )
    reasons = err.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    assert reasons[1]["Item"]["bal"] == {"N": "10"}
    assert "Item" not in ddb.get_item(TableName=name, Key=b)  # the Put did not happen either
    # An update that cannot apply to its item (a path into a map the item lacks) cancels the
    # transaction with ValidationError as its reason, and nothing is written.
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as err:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": {**b, "bal": {"N": "5"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": a,
                        "UpdateExpression": "SET m.k = :x",
                        "ExpressionAttributeValues": {":x": {"N": "1"}},
                    }
                },
            ]
        )
    assert [r["Code"] for r in err.value.response["CancellationReasons"]] == ["None", "ValidationError"]
    assert "Item" not in ddb.get_item(TableName=name, Key=b)
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {**b, "bal": {"N": "5"}}}},
            {
                "Update": {
                    "TableName": name,
                    "Key": a,
                    "UpdateExpression": "SET bal = bal - :x",
                    "ConditionExpression": "bal >= :x",
                    "ExpressionAttributeValues": {":x": {"N": "5"}},
                }
            },
        ],
        ClientRequestToken="token-1",
    )
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": k}} for k in (a, b)])
    assert [r["Item"]["bal"] for r in got["Responses"]] == [{"N": "5"}, {"N": "5"}]
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": name, "Key": a}},
                {
                    "ConditionCheck": {
                        "TableName": name,
                        "Key": a,
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert "multiple operations on one item" in error(err)[1]


def test_resource_api(server: Server) -> None:
    dynamodb = resource(server)
    name = unique()
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "user", "KeyType": "HASH"}, {"AttributeName": "at", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "user", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(
                Item={
                    "user": "u1",
                    "at": i,
                    "price": Decimal("1.25") * i,
                    "tag": "even" if i % 2 == 0 else "odd",
                }
            )
    got = table.get_item(Key={"user": "u1", "at": 3})["Item"]
    assert got["price"] == Decimal("3.75")
    page = table.query(
        KeyConditionExpression=Key("user").eq("u1") & Key("at").between(5, 9), ScanIndexForward=False
    )
    assert [i["at"] for i in page["Items"]] == [9, 8, 7, 6, 5]
    page = table.query(
        KeyConditionExpression=Key("user").eq("u1"), FilterExpression=Attr("tag").eq("even"), Limit=10
    )
    assert page["ScannedCount"] == 10 and page["Count"] == 5
    assert page["LastEvaluatedKey"] == {"user": "u1", "at": 9}
    table.update_item(Key={"user": "u1", "at": 3}, UpdateExpression="REMOVE price")
    assert "price" not in table.get_item(Key={"user": "u1", "at": 3})["Item"]
    table.delete()


def test_transaction_client_request_token_is_idempotent(ddb: Any) -> None:
    name = unique()
    make_table(ddb, name)
    key = {"pk": {"S": "counter"}, "sk": {"N": "0"}}
    add = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": name,
                    "Key": key,
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ],
        "ClientRequestToken": unique("token"),
    }
    ddb.transact_write_items(**add)
    ddb.transact_write_items(**add)  # the same request again: answered, not applied again
    assert ddb.get_item(TableName=name, Key=key)["Item"]["n"] == {"N": "1"}
    changed = {**add, "TransactItems": [{"Put": {"TableName": name, "Item": key}}]}
    with pytest.raises(ddb.exceptions.IdempotentParameterMismatchException):
        ddb.transact_write_items(**changed)
    ddb.transact_write_items(**{**add, "ClientRequestToken": unique("token")})
    assert ddb.get_item(TableName=name, Key=key)["Item"]["n"] == {"N": "2"}
