"""DynamoDB's fine-grained access control through boto3 and IAM users: the request's own
condition keys (dynamodb:LeadingKeys, dynamodb:Attributes, dynamodb:Select,
dynamodb:ReturnValues) are what policies are evaluated against. Without them a
`ForAllValues:StringEquals` condition on dynamodb:LeadingKeys holds for every request (IAM's
rule for a missing key), so the canonical per-user policy would open every partition."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server

ACCOUNT = "000000000000"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_table(root: Any) -> tuple[str, str]:
    name = unique("fgac")
    root.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def user_client(server: Server, user: str, policy: dict[str, Any]) -> Any:
    iam = server.client("iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="fgac", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def own_partition_policy(table_arn: str, *, extra_actions: tuple[str, ...] = ()) -> dict[str, Any]:
    """AWS's canonical policy: the items whose partition key is the caller's user name."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem",
                    *extra_actions,
                ],
                "Resource": table_arn,
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:username}"]}},
            }
        ],
    }


def denied(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == "AccessDeniedException", err.value.response
    assert "is not authorized to perform: dynamodb:" in err.value.response["Error"]["Message"]


def item(pk: str, sk: str, **more: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in more.items()}}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_leading_keys_confine_each_user_to_the_partition_named_after_it(server: Server) -> None:
    root = server.client("dynamodb")
    table, arn = make_table(root)
    alice_name, bob_name = unique("alice"), unique("bob")
    policy = own_partition_policy(arn)
    # The same policy document for both: ${aws:username} is each caller's own name.
    alice = user_client(server, alice_name, policy)
    bob = user_client(server, bob_name, policy)
    root.put_item(TableName=table, Item=item(bob_name, "1", note="bob's"))

    # Alice in her own partition: every item operation is allowed.
    alice.put_item(TableName=table, Item=item(alice_name, "1", note="mine"))
    assert alice.get_item(TableName=table, Key=key(alice_name, "1"))["Item"]["note"] == {"S": "mine"}
    alice.update_item(
        TableName=table,
        Key=key(alice_name, "1"),
        UpdateExpression="SET note = :n",
        ExpressionAttributeValues={":n": {"S": "edited"}},
    )
    alice.put_item(TableName=table, Item=item(alice_name, "2"))
    found = alice.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": alice_name}},
    )
    assert [i["sk"]["S"] for i in found["Items"]] == ["1", "2"]
    alice.delete_item(TableName=table, Key=key(alice_name, "2"))
    got = alice.batch_get_item(RequestItems={table: {"Keys": [key(alice_name, "1")]}})
    assert got["Responses"][table] == [item(alice_name, "1", note="edited")]
    alice.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": item(alice_name, "3")}}])

    # Bob's partition: refused, whatever the operation, and nothing of his changes.
    denied(lambda: alice.get_item(TableName=table, Key=key(bob_name, "1")))
    denied(lambda: alice.put_item(TableName=table, Item=item(bob_name, "1", note="alice was here")))
    denied(
        lambda: alice.update_item(
            TableName=table,
            Key=key(bob_name, "1"),
            UpdateExpression="SET note = :n",
            ExpressionAttributeValues={":n": {"S": "alice was here"}},
        )
    )
    denied(lambda: alice.delete_item(TableName=table, Key=key(bob_name, "1")))
    denied(
        lambda: alice.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": bob_name}},
        )
    )
    # A batch or transaction with one of bob's items among alice's is refused whole.
    denied(
        lambda: alice.batch_get_item(
            RequestItems={table: {"Keys": [key(alice_name, "1"), key(bob_name, "1")]}}
        )
    )
    denied(
        lambda: alice.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": item(alice_name, "4")}},
                    {"DeleteRequest": {"Key": key(bob_name, "1")}},
                ]
            }
        )
    )
    denied(
        lambda: alice.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": item(alice_name, "5")}},
                {
                    "Update": {
                        "TableName": table,
                        "Key": key(bob_name, "1"),
                        "UpdateExpression": "SET note = :n",
                        "ExpressionAttributeValues": {":n": {"S": "alice was here"}},
                    }
                },
            ]
        )
    )
    denied(
        lambda: alice.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": key(bob_name, "1"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
                {"Put": {"TableName": table, "Item": item(alice_name, "6")}},
            ]
        )
    )
    assert root.get_item(TableName=table, Key=key(bob_name, "1"))["Item"] == item(bob_name, "1", note="bob's")
    for sk in ("4", "5", "6"):
        assert "Item" not in root.get_item(TableName=table, Key=key(alice_name, sk))

    # Bob, under the very same document, has his partition and not alice's.
    assert bob.get_item(TableName=table, Key=key(bob_name, "1"))["Item"]["note"] == {"S": "bob's"}
    denied(lambda: bob.get_item(TableName=table, Key=key(alice_name, "1")))


def test_scan_under_leading_keys_is_as_iam_decides(server: Server) -> None:
    """Scan names no partition: a ForAllValues condition on the missing key holds, as IAM's rules
    say (why AWS's guide leaves Scan out of such policies); the guard AWS recommends, a Null
    condition requiring the key, refuses it while each user keeps its own partition."""
    root = server.client("dynamodb")
    table, arn = make_table(root)
    root.put_item(TableName=table, Item=item("someone", "1"))
    loose_name, strict_name = unique("loose"), unique("strict")
    loose = user_client(server, loose_name, own_partition_policy(arn, extra_actions=("dynamodb:Scan",)))
    assert loose.scan(TableName=table)["Count"] == 1

    strict_policy = own_partition_policy(arn, extra_actions=("dynamodb:Scan",))
    strict_policy["Statement"][0]["Condition"]["Null"] = {"dynamodb:LeadingKeys": "false"}
    strict = user_client(server, strict_name, strict_policy)
    denied(lambda: strict.scan(TableName=table))
    strict.put_item(TableName=table, Item=item(strict_name, "1"))
    assert strict.get_item(TableName=table, Key=key(strict_name, "1"))["Item"] == item(strict_name, "1")
    denied(lambda: strict.get_item(TableName=table, Key=key("someone", "1")))


def test_attributes_select_and_return_values_limit_what_is_read_and_written(server: Server) -> None:
    root = server.client("dynamodb")
    table, arn = make_table(root)
    root.put_item(TableName=table, Item=item("p", "1", shown="hello", secret="s3cr3t"))
    reader = user_client(
        server,
        unique("reader"),
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem"],
                    "Resource": arn,
                    "Condition": {
                        "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "shown"]},
                        "StringEqualsIfExists": {
                            "dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                            "dynamodb:ReturnValues": ["NONE", "UPDATED_OLD", "UPDATED_NEW"],
                        },
                    },
                }
            ],
        },
    )
    got = reader.get_item(
        TableName=table,
        Key=key("p", "1"),
        ProjectionExpression="pk, #p",
        ExpressionAttributeNames={"#p": "shown"},
    )
    assert got["Item"] == {"pk": {"S": "p"}, "shown": {"S": "hello"}}
    denied(lambda: reader.get_item(TableName=table, Key=key("p", "1"), ProjectionExpression="pk, secret"))
    denied(
        lambda: reader.get_item(TableName=table, Key=key("p", "1"))
    )  # the whole item: Select ALL_ATTRIBUTES
    found = reader.query(
        TableName=table,
        KeyConditionExpression="pk = :p",
        ProjectionExpression="sk, shown",
        ExpressionAttributeValues={":p": {"S": "p"}},
    )
    assert found["Items"] == [{"sk": {"S": "1"}, "shown": {"S": "hello"}}]
    denied(
        lambda: reader.query(
            TableName=table,
            KeyConditionExpression="pk = :p",
            FilterExpression="secret = :s",
            ProjectionExpression="sk",
            ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"S": "s3cr3t"}},
        )
    )
    reader.update_item(
        TableName=table,
        Key=key("p", "1"),
        UpdateExpression="SET shown = :v",
        ExpressionAttributeValues={":v": {"S": "bye"}},
        ReturnValues="UPDATED_NEW",
    )
    denied(
        lambda: reader.update_item(
            TableName=table,
            Key=key("p", "1"),
            UpdateExpression="SET secret = :v",
            ExpressionAttributeValues={":v": {"S": "overwritten"}},
        )
    )
    denied(
        lambda: reader.update_item(
            TableName=table,
            Key=key("p", "1"),
            UpdateExpression="SET shown = :v",
            ExpressionAttributeValues={":v": {"S": "again"}},
            ReturnValues="ALL_OLD",  # would return the secret
        )
    )
    assert root.get_item(TableName=table, Key=key("p", "1"))["Item"] == item(
        "p", "1", shown="bye", secret="s3cr3t"
    )
