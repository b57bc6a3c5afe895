"""SNS topics delivering to SQS queues (whose access policies allow the topic) and functions,
against the real server with boto3: the JSON envelope and raw delivery with attributes carried
over, FIFO topics into FIFO queues (order per group, group and deduplication ids carried,
duplicates dropped), which queue kinds a topic takes, MessageStructure "json" per protocol, and
PublishBatch's per-entry answers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stratus.topics.signing import verify
from tests.e2e.conftest import Server, create, error_code
from tests.e2e.service_policies import allow_queue, from_topic
from tests.e2e.test_sns_topics import RECORDER, topic


def queue(sqs: Any, fifo: bool = False, *, topics: tuple[str, ...] = ()) -> tuple[str, str]:
    """(url, arn) of a new queue; its access policy lets SNS deliver the `topics`' messages
    (without any, it has no policy and SNS may deliver nothing to it)."""
    name = f"q-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if topics:
        allow_queue(sqs, url, *(from_topic(t) for t in topics))
    return url, arn


def drain(sqs: Any, url: str, count: int, timeout: float = 30) -> list[dict[str, Any]]:
    """Receive (and delete) messages until `count` have come or `timeout` passed."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        got.extend(batch)
    return got


def test_queue_gets_the_signed_envelope_or_the_raw_message_with_its_attributes(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    wrapped_url, wrapped = queue(sqs, topics=(arn,))
    raw_url, raw = queue(sqs, topics=(arn,))
    sub_arn = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=wrapped)["SubscriptionArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=raw, Attributes={"RawMessageDelivery": "true"})
    attributes = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    message_id = sns.publish(TopicArn=arn, Message="hello", Subject="greeting", MessageAttributes=attributes)[
        "MessageId"
    ]

    (got,) = drain(sqs, wrapped_url, 1)
    env = json.loads(got["Body"])
    assert env["Type"] == "Notification" and env["MessageId"] == message_id
    assert env["TopicArn"] == arn and env["Subject"] == "greeting" and env["Message"] == "hello"
    assert env["Timestamp"].endswith("Z") and env["SignatureVersion"] == "1"
    assert env["UnsubscribeURL"].endswith(f"SubscriptionArn={sub_arn}")
    assert env["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "blue"},
        "size": {"Type": "Number", "Value": "42"},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }
    assert "MessageAttributes" not in got  # the envelope carries them, not SQS
    with urllib.request.urlopen(env["SigningCertURL"], timeout=10) as reply:
        assert verify(reply.read(), env)

    (got,) = drain(sqs, raw_url, 1)
    assert got["Body"] == "hello"
    assert got["MessageAttributes"] == {
        "color": {"DataType": "String", "StringValue": "blue"},
        "size": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }


def test_fifo_topic_to_fifo_queue_keeps_group_order_and_ids_and_drops_duplicates(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    name = f"f-{uuid.uuid4().hex[:10]}.fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    url, qarn = queue(sqs, fifo=True, topics=(arn,))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    sent: dict[str, list[str]] = {"a": [], "b": []}
    first_ids = {}
    sequences = []
    for i in range(12):
        group = "ab"[i % 2]
        body = f"{group}-{i}"
        answer = sns.publish(TopicArn=arn, Message=body, MessageGroupId=group, MessageDeduplicationId=f"d{i}")
        sent[group].append(body)
        first_ids[f"d{i}"] = answer["MessageId"]
        sequences.append(int(answer["SequenceNumber"]))
    assert sequences == sorted(sequences) and len(set(sequences)) == 12
    # A duplicate within the window: accepted with the first message's id, not delivered again.
    again = sns.publish(TopicArn=arn, Message="a-0 again", MessageGroupId="a", MessageDeduplicationId="d0")
    assert again["MessageId"] == first_ids["d0"]

    got = drain(sqs, url, 12)
    assert len(got) == 12
    assert not drain(sqs, url, 1, timeout=2)  # the duplicate never arrived
    by_group: dict[str, list[str]] = {"a": [], "b": []}
    for m in got:
        by_group[m["Attributes"]["MessageGroupId"]].append(m["Body"])
        index = int(m["Body"].split("-")[1])
        assert m["Attributes"]["MessageDeduplicationId"] == f"d{index}"
    assert by_group == sent


def test_which_queue_kinds_a_topic_takes(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    standard_topic = topic(sns)
    fifo_topic = sns.create_topic(Name=f"f-{uuid.uuid4().hex[:10]}.fifo", Attributes={"FifoTopic": "true"})[
        "TopicArn"
    ]
    _, fifo_queue = queue(sqs, fifo=True)
    standard_url, standard_queue = queue(sqs, topics=(fifo_topic,))
    with pytest.raises(ClientError) as err:
        sns.subscribe(TopicArn=standard_topic, Protocol="sqs", Endpoint=fifo_queue)
    assert error_code(err) == "InvalidParameter"
    # A FIFO topic delivers to a standard queue too (as SNS does since 2023), without the
    # FIFO queue's MessageGroupId, which a standard queue would not keep.
    sns.subscribe(
        TopicArn=fifo_topic,
        Protocol="sqs",
        Endpoint=standard_queue,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(TopicArn=fifo_topic, Message="to standard", MessageGroupId="g", MessageDeduplicationId="x")
    (got,) = drain(sqs, standard_url, 1)
    assert got["Body"] == "to standard" and "MessageGroupId" not in got["Attributes"]
    with pytest.raises(ClientError) as err:
        sns.subscribe(TopicArn=fifo_topic, Protocol="http", Endpoint="http://127.0.0.1:9/x")
    assert error_code(err) == "InvalidParameter"
    assert "FIFO topic" in err.value.response["Error"]["Message"]  # not for its loopback address


def test_message_structure_json_gives_each_protocol_its_message(
    server: Server, lam: Any, fn_name: str
) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    url, qarn = queue(sqs, topics=(arn,))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    fn_arn = create(lam, fn_name, {"app.py": RECORDER})["FunctionArn"]
    lam.add_permission(
        FunctionName=fn_name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=arn,
    )
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=fn_arn)
    structured = {"default": "for anyone", "sqs": "for queues", "lambda": "for functions"}
    sns.publish(TopicArn=arn, Message=json.dumps(structured), MessageStructure="json")
    sns.publish(TopicArn=arn, Message=json.dumps({"default": "only default"}), MessageStructure="json")

    got = drain(sqs, url, 2)
    assert sorted(json.loads(m["Body"])["Message"] for m in got) == ["for queues", "only default"]
    logs = server.client("logs")
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        try:
            found = logs.filter_log_events(logGroupName=f"/aws/lambda/{fn_name}", filterPattern="SNS-EVENT")
        except ClientError:
            found = {"events": []}
        for line in found["events"]:
            event = json.loads(line["message"].split("SNS-EVENT ", 1)[1])
            seen.add(event["Records"][0]["Sns"]["Message"])
        time.sleep(0.2)
    assert seen == {"for functions", "only default"}


def test_publish_batch_answers_each_entry(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    url, qarn = queue(sqs, topics=(arn,))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    answer = sns.publish_batch(
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "one", "Message": "first"},
            {
                "Id": "bad-type",
                "Message": "x",
                "MessageAttributes": {"n": {"DataType": "Integer", "StringValue": "1"}},
            },
            {"Id": "bad-structure", "Message": "{}", "MessageStructure": "json"},
            {"Id": "two", "Message": "second", "Subject": "s"},
            {"Id": "fifo-only", "Message": "y", "MessageGroupId": "g"},
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["one", "two"]
    assert all(s["MessageId"] for s in answer["Successful"])
    failed = {f["Id"]: f for f in answer["Failed"]}
    assert set(failed) == {"bad-type", "bad-structure", "fifo-only"}
    assert failed["bad-type"]["Code"] == "ParameterValueInvalid" and failed["bad-type"]["SenderFault"]
    assert failed["bad-structure"]["Code"] == "InvalidParameter"
    assert failed["fifo-only"]["Code"] == "InvalidParameter"
    assert sorted(m["Body"] for m in drain(sqs, url, 2)) == ["first", "second"]
    assert not drain(sqs, url, 1, timeout=2)

    cases = [
        ([{"Id": "same", "Message": "a"}, {"Id": "same", "Message": "b"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": f"e{i}", "Message": "m"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "bad id!", "Message": "m"}], "InvalidBatchEntryId"),
        (
            [{"Id": "big", "Message": "x" * 200_000}, {"Id": "big2", "Message": "x" * 100_000}],
            "BatchRequestTooLong",
        ),
    ]
    for entries, code in cases:
        with pytest.raises(ClientError) as err:
            sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=entries)
        assert error_code(err) == code
    assert not drain(sqs, url, 1, timeout=2)  # a refused batch delivers nothing
