"""DynamoDB Streams against the real server: boto3's `dynamodbstreams` reads a table's
INSERT, MODIFY and REMOVE in order; an event source mapping delivers them to a real function
(which reports each event to a sink queue through the SDK, as its execution role) in order; a
failing function's records go to an OnFailure queue after MaximumRetryAttempts; a SIGKILL
mid-stream replays from the checkpoint without loss; TTL expiry emits the service's REMOVE."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stratus.identity.environments import LAMBDA_TRUST
from tests.e2e.conftest import Server, create, error_code

ACCOUNT = "000000000000"
ROLE_NAME = "ddb-stream-reader"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"

HANDLER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    url = sqs.get_queue_url(QueueName=os.environ["SINK"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    if os.environ.get("MODE") == "raise":
        raise RuntimeError("this function always fails")
    return {}
"""


def setup_role(server: Server) -> None:
    iam = server.client("iam")
    try:
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=LAMBDA_TRUST)
    except ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["sqs:*", "dynamodb:*"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="all", PolicyDocument=json.dumps(document))


@pytest.fixture(scope="module")
def env(server: Server) -> Server:
    setup_role(server)
    return server


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_table(ddb: Any, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
    table = name("tbl")
    answer = ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return table, answer["TableDescription"]["LatestStreamArn"]


def make_queue(sqs: Any, prefix: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name(prefix))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def queue_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


def wait_for(check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the condition never held")


def drain(sqs: Any, url: str, want: int, seconds: float = 60) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def delivered(sqs: Any, url: str, want: int) -> list[dict[str, Any]]:
    """The stream records the function reported, in the order its invocations reported them."""
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 90
    while len(records) < want and time.monotonic() < deadline:
        for event in drain(sqs, url, 1, seconds=5):
            records.extend(event["Records"])
    return records


def test_the_streams_api_reads_insert_modify_remove_in_order(env: Server) -> None:
    ddb, streams = env.client("dynamodb"), env.client("dynamodbstreams")
    table, arn = make_table(ddb)
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\x01"}})
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})

    listed = streams.list_streams(TableName=table)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": table, "StreamLabel": arn.rsplit("/", 1)[1]}]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    (shard,) = description["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    answer = streams.get_records(ShardIterator=iterator)
    records = answer["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    first, second, third = (r["dynamodb"] for r in records)
    assert first["NewImage"] == {"pk": {"S": "a"}, "n": {"N": "1"}, "b": {"B": b"\x00\x01"}}
    assert "OldImage" not in first
    assert second["OldImage"]["n"] == {"N": "1"} and second["NewImage"]["n"] == {"N": "2"}
    assert third["OldImage"]["n"] == {"N": "2"} and "NewImage" not in third
    assert all(r["dynamodb"]["Keys"] == {"pk": {"S": "a"}} for r in records)
    numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert shard["SequenceNumberRange"]["StartingSequenceNumber"] == numbers[0]
    assert records[0]["eventSource"] == "aws:dynamodb" and records[0]["eventVersion"] == "1.1"
    # Read on: nothing new yet, and the next iterator still works.
    assert streams.get_records(ShardIterator=answer["NextShardIterator"])["Records"] == []
    after = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=shard["ShardId"],
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=numbers[0],
    )["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=after, Limit=1)["Records"]] == [
        "MODIFY"
    ]

    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator="not an iterator")
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        streams.describe_stream(StreamArn=arn.replace(table, "no-such-table"))
    assert error_code(e) == "ResourceNotFoundException"


def test_a_mapping_delivers_changes_in_order_and_gives_up_to_on_failure(env: Server) -> None:
    ddb, sqs, lam = env.client("dynamodb"), env.client("sqs"), env.client("lambda")
    table, arn = make_table(ddb)
    sink, _ = make_queue(sqs, "sink")
    fn = name("ddb-fn")
    create(
        lam, fn, {"app.py": HANDLER}, Role=ROLE, Environment={"Variables": {"SINK": sink.rsplit("/", 1)[1]}}
    )
    mapping = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=10
    )
    assert mapping["BatchSize"] == 10 and mapping["StartingPosition"] == "TRIM_HORIZON"
    for n in range(6):
        ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "n": {"N": str(n)}})
    records = delivered(sqs, sink, 6)
    assert [r["dynamodb"]["NewImage"]["n"]["N"] for r in records] == [str(n) for n in range(6)]
    assert [r["eventName"] for r in records] == ["INSERT"] + ["MODIFY"] * 5
    assert all(r["eventSourceARN"] == arn and r["eventSource"] == "aws:dynamodb" for r in records)

    # A function that always fails: one try, one retry, then the OnFailure queue.
    failing = name("ddb-fail")
    create(
        lam,
        failing,
        {"app.py": HANDLER},
        Role=ROLE,
        Environment={"Variables": {"SINK": sink.rsplit("/", 1)[1], "MODE": "raise"}},
    )
    table2, arn2 = make_table(ddb)
    dlq, dlq_arn = make_queue(sqs, "dlq")
    lam.create_event_source_mapping(
        FunctionName=failing,
        EventSourceArn=arn2,
        StartingPosition="TRIM_HORIZON",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}},
    )
    ddb.put_item(TableName=table2, Item={"pk": {"S": "x"}})
    (record,) = drain(sqs, dlq, 1, seconds=60)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["DDBStreamBatchInfo"]
    assert info["streamArn"] == arn2 and info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert len(drain(sqs, sink, 2, seconds=20)) == 2  # it was invoked twice


def test_a_sigkill_mid_stream_replays_from_the_checkpoint(fresh_server: Any) -> None:
    first = fresh_server()
    setup_role(first)
    ddb, sqs, lam = first.client("dynamodb"), first.client("sqs"), first.client("lambda")
    table, arn = make_table(ddb)
    sink, _ = make_queue(sqs, "sink")
    fn = name("ddb-fn")
    create(
        lam, fn, {"app.py": HANDLER}, Role=ROLE, Environment={"Variables": {"SINK": sink.rsplit("/", 1)[1]}}
    )
    lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST", BatchSize=1
    )
    for n in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "n": {"N": str(n)}})
    seen = [r["dynamodb"]["NewImage"]["n"]["N"] for r in delivered(sqs, sink, 1)]
    first.stop(signal.SIGKILL)
    again = Server(first.data_dir).start()
    try:
        ddb, sqs = again.client("dynamodb"), again.client("sqs")
        for n in range(3, 5):
            ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "n": {"N": str(n)}})
        while "4" not in seen:
            batch = delivered(sqs, sink, 1)
            assert batch, f"nothing more came after {seen}"
            seen += [r["dynamodb"]["NewImage"]["n"]["N"] for r in batch]
        # At least once and in order: every record came, and a replay only repeats a suffix of
        # what came before the kill.
        assert sorted(set(seen)) == ["0", "1", "2", "3", "4"]
        last = {value: i for i, value in enumerate(seen)}
        assert [last[str(n)] for n in range(5)] == sorted(last[str(n)] for n in range(5))
    finally:
        again.stop()


def test_ttl_expiry_deletes_with_the_service_identity(fresh_server: Any) -> None:
    srv = fresh_server(STRATUS_TTL_SWEEP_SECONDS="0.5")
    ddb, streams = srv.client("dynamodb"), srv.client("dynamodbstreams")
    table, arn = make_table(ddb)
    ddb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    now = int(time.time())
    ddb.put_item(TableName=table, Item={"pk": {"S": "old"}, "exp": {"N": str(now - 10)}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "new"}, "exp": {"N": str(now + 3600)}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "text"}, "exp": {"S": str(now - 10)}})
    wait_for(lambda: "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "old"}}))
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "new"}})
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": {"S": "text"}})
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    removal = records[-1]
    assert removal["eventName"] == "REMOVE" and removal["dynamodb"]["Keys"] == {"pk": {"S": "old"}}
    assert removal["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    assert all("userIdentity" not in r for r in records[:-1])
