"""SQS messages through boto3 against a real `stratus serve`: send (attributes and their MD5,
delay, batches with per-entry failures), receive (long polling, counts, visibility, attribute
selection), delete, visibility changes, FIFO ordering and deduplication, redrive to a
dead-letter queue and back with a message move task, and SQS's answers to bad input."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stratus.queues.digest import md5_of_attributes
from tests.e2e.conftest import Server


def unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqs(server: Server) -> Any:
    return server.client("sqs")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"].get("QueryErrorCode") or err.value.response["Error"]["Code"])


def arn_of(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def receive_all(sqs: Any, url: str, want: int, **kwargs: Any) -> list[dict[str, Any]]:
    """Messages until `want` arrived (long polls; gives up after a few empty ones)."""
    got: list[dict[str, Any]] = []
    empty = 0
    while len(got) < want and empty < 5:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2, **kwargs)
        messages = batch.get("Messages", [])
        empty = 0 if messages else empty + 1
        got.extend(messages)
    return got


ATTRIBUTES = {
    "text": {"DataType": "String", "StringValue": "héllo"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
    "custom": {"DataType": "String.json", "StringValue": "{}"},
}


def test_send_receive_delete_with_attributes_and_digests(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello ✓", MessageAttributes=ATTRIBUTES)
    assert sent["MD5OfMessageBody"] == hashlib.md5("hello ✓".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)
    (message,) = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert message["MessageId"] == sent["MessageId"] and message["Body"] == "hello ✓"
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    system = message["Attributes"]
    assert system["ApproximateReceiveCount"] == "1" and int(system["SentTimestamp"]) > 0
    assert {"SenderId", "ApproximateFirstReceiveTimestamp"} <= set(system)
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert depth["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        depth["ApproximateNumberOfMessages"] == "0" and depth["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def test_attribute_selection_by_name_and_prefix(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    order = {
        "order.id": {"DataType": "String", "StringValue": "7"},
        "order.total": {"DataType": "Number", "StringValue": "9.5"},
    }
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes={**ATTRIBUTES, **order})
    (message,) = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["order.*", "text"],
        MessageSystemAttributeNames=["SentTimestamp"],
        VisibilityTimeout=0,
    )["Messages"]
    assert set(message["MessageAttributes"]) == {"order.id", "order.total", "text"}
    # The digest is of the attributes answered, as the SDKs check it.
    assert message["MD5OfMessageAttributes"] == md5_of_attributes({**order, "text": ATTRIBUTES["text"]})
    assert set(message["Attributes"]) == {"SentTimestamp"}
    (bare,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "MessageAttributes" not in bare and "Attributes" not in bare


def test_batch_send_with_a_failed_entry_and_batch_delete(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    answer = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "one", "MessageBody": "1"},
            {
                "Id": "bad",
                "MessageBody": "2",
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}},
            },
            {"Id": "three", "MessageBody": "3", "DelaySeconds": 0},
        ],
    )
    assert sorted(e["Id"] for e in answer["Successful"]) == ["one", "three"]
    (failed,) = answer["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] and failed["Code"] == "InvalidParameterValue"
    got = receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in got) == ["1", "3"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        + [{"Id": "junk", "ReceiptHandle": "not-a-handle"}],
    )
    assert sorted(e["Id"] for e in deleted["Successful"]) == ["d0", "d1"]
    assert [(e["Id"], e["Code"]) for e in deleted["Failed"]] == [("junk", "ReceiptHandleIsInvalid")]


def test_batch_request_errors(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    cases = [
        ([], "EmptyBatchRequest"),
        ([{"Id": str(i), "MessageBody": "x"} for i in range(11)], "TooManyEntriesInBatchRequest"),
        ([{"Id": "a", "MessageBody": "x"}, {"Id": "a", "MessageBody": "y"}], "BatchEntryIdsNotDistinct"),
        ([{"Id": "bad id!", "MessageBody": "x"}], "InvalidBatchEntryId"),
        ([{"Id": f"e{i}", "MessageBody": "x" * 200_000} for i in range(6)], "BatchRequestTooLong"),
    ]
    for entries, expected in cases:
        with pytest.raises(ClientError) as err:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert code(err) == expected


def test_message_size_and_contents(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_576)  # the default maximum, 1 MiB
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1_048_577)
    assert code(err) == "InvalidParameterValue"
    small = sqs.create_queue(QueueName=unique(), Attributes={"MaximumMessageSize": "1024"})["QueueUrl"]
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=small, MessageBody="x" * 1025)
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x01 byte")
    assert code(err) == "InvalidMessageContents"
    with pytest.raises(ClientError) as err:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert code(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert code(err) == "InvalidParameterValue"


def test_long_poll_returns_when_a_message_arrives(sqs: Any, server: Server) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    got: list[Any] = []
    poller = threading.Thread(
        target=lambda: got.append(server.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20))
    )
    poller.start()
    time.sleep(0.5)  # the poll is waiting
    sqs.send_message(QueueUrl=url, MessageBody="woken")
    poller.join(30)
    assert not poller.is_alive()
    assert [m["Body"] for m in got[0]["Messages"]] == ["woken"]


def test_delay_visibility_and_change_visibility(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    delayed = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # The long poll is woken by the delay's end (a timer), not by a send.
    (first,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10, VisibilityTimeout=1)["Messages"]
    assert first["Body"] == "later"
    # Not deleted: it comes back once its visibility timeout ends, received a second time.
    (again,) = sqs.receive_message(
        QueueUrl=url,
        WaitTimeSeconds=10,
        VisibilityTimeout=30,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )["Messages"]
    assert again["MessageId"] == first["MessageId"] and again["Attributes"]["ApproximateReceiveCount"] == "2"
    # The first receipt handle's lease has passed to the second receive: it deletes nothing.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    (third,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert third["MessageId"] == first["MessageId"]
    result = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "ReceiptHandle": third["ReceiptHandle"], "VisibilityTimeout": 60},
            {"Id": "stale", "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 60},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert [e["Id"] for e in result["Failed"]] == ["stale"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages") is None


def test_fifo_order_groups_and_deduplication(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique("f") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert code(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:  # no dedup id and no content-based deduplication
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code(err) == "InvalidParameterValue"
    sent = [
        sqs.send_message(
            QueueUrl=url, MessageBody=f"{g}{i}", MessageGroupId=g, MessageDeduplicationId=f"{g}{i}"
        )
        for i in range(3)
        for g in ("a", "b")
    ]
    sequences = [int(s["SequenceNumber"]) for s in sent]
    assert sequences == sorted(sequences)
    duplicate = sqs.send_message(
        QueueUrl=url, MessageBody="other", MessageGroupId="a", MessageDeduplicationId="a0"
    )
    assert duplicate["MessageId"] == sent[0]["MessageId"]  # the original's id; nothing enqueued
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in first] == ["a0", "a1"]
    assert first[0]["Attributes"]["MessageGroupId"] == "a" and "SequenceNumber" in first[0]["Attributes"]
    # Group a has messages in flight: nothing more of it until they are deleted.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b0", "b1", "b2"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") is None
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a2"]


def test_fifo_content_based_deduplication(sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=unique("c") + ".fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    one = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    two = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    three = sqs.send_message(QueueUrl=url, MessageBody="different", MessageGroupId="g")
    assert one["MessageId"] == two["MessageId"] != three["MessageId"]
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["MessageDeduplicationId"]
    )
    assert [m["Body"] for m in got["Messages"]] == ["same", "different"]
    assert got["Messages"][0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"same").hexdigest()


def test_redrive_to_dead_letter_queue_and_back_with_a_move_task(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2})
    source = sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    sent = sqs.send_message(QueueUrl=source, MessageBody="poison", MessageAttributes=ATTRIBUTES)
    sent_at = None
    for attempt in (1, 2):
        (m,) = sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, AttributeNames=["All"])["Messages"]
        assert m["Attributes"]["ApproximateReceiveCount"] == str(attempt)
        sent_at = m["Attributes"]["SentTimestamp"]
    # The third receive would pass maxReceiveCount: the message moves to the dead-letter queue.
    assert sqs.receive_message(QueueUrl=source, VisibilityTimeout=0).get("Messages") is None
    (dead,) = sqs.receive_message(
        QueueUrl=dlq,
        MessageAttributeNames=["All"],
        AttributeNames=["All"],
        WaitTimeSeconds=5,
        VisibilityTimeout=0,
    )["Messages"]
    assert dead["MessageId"] == sent["MessageId"] and dead["Body"] == "poison"
    assert dead["MessageAttributes"] == ATTRIBUTES
    assert dead["Attributes"]["SentTimestamp"] == sent_at  # its age counts from the original send
    with pytest.raises(ClientError) as err:  # only a dead-letter queue may be a move's source
        sqs.start_message_move_task(SourceArn=arn_of(sqs, source))
    assert code(err) == "InvalidParameterValue"
    handle = sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), MaxNumberOfMessagesPerSecond=10)[
        "TaskHandle"
    ]
    assert handle
    (back,) = sqs.receive_message(QueueUrl=source, WaitTimeSeconds=10, AttributeNames=["All"])["Messages"]
    assert back["MessageId"] == sent["MessageId"] and back["Attributes"]["ApproximateReceiveCount"] == "1"
    deadline = time.monotonic() + 30
    status = ""
    while time.monotonic() < deadline and status != "COMPLETED":
        (task,) = sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq))["Results"]
        status = task["Status"]
        time.sleep(0.2)
    assert status == "COMPLETED" and task["ApproximateNumberOfMessagesMoved"] == 1
    with pytest.raises(ClientError) as err:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert code(err) in ("UnsupportedOperation", "ResourceNotFoundException")


def test_move_task_to_a_destination_and_cancel(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    policy = json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 1})
    sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})
    elsewhere = sqs.create_queue(QueueName=unique("dest"))["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"m{i}")
    sqs.start_message_move_task(SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, elsewhere))
    got = receive_all(sqs, elsewhere, 3)
    assert sorted(m["Body"] for m in got) == ["m0", "m1", "m2"]
    # A slow task over a fuller queue, cancelled while it runs.
    for i in range(5):
        sqs.send_message(QueueUrl=dlq, MessageBody=f"n{i}")
    time.sleep(1.5)  # the first task has found the queue empty and completed
    handle = sqs.start_message_move_task(
        SourceArn=arn_of(sqs, dlq), DestinationArn=arn_of(sqs, elsewhere), MaxNumberOfMessagesPerSecond=1
    )["TaskHandle"]
    cancelled = sqs.cancel_message_move_task(TaskHandle=handle)
    assert cancelled["ApproximateNumberOfMessagesMoved"] < 5
    statuses = [
        t["Status"] for t in sqs.list_message_move_tasks(SourceArn=arn_of(sqs, dlq), MaxResults=10)["Results"]
    ]
    assert statuses[0] == "CANCELLED"


def test_cloudwatch_reads_the_queues_metrics(server: Any, sqs: Any) -> None:
    """AWS/SQS, per queue: what was sent (and its sizes), received (and empty receives) and
    deleted, read back through CloudWatch as SQS reports it."""
    name = f"metered-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x" * (10 + i)} for i in range(3)]
    )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    cloudwatch = server.client("cloudwatch")
    now = datetime.now(UTC)

    def total(metric: str, stat: str = "Sum") -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName=metric,
            Dimensions=[{"Name": "QueueName", "Value": name}],
            StartTime=now - timedelta(minutes=5),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=[stat],
        )["Datapoints"]
        return sum(p[stat] for p in points)

    deadline = time.monotonic() + 20
    while total("NumberOfMessagesSent") < 3 and time.monotonic() < deadline:
        time.sleep(0.3)  # recorded metrics are written each second
    assert total("NumberOfMessagesSent") == 3
    assert total("NumberOfMessagesReceived") == len(got)
    assert total("NumberOfMessagesDeleted") == 1
    assert total("SentMessageSize", "Maximum") == 12
    listed = cloudwatch.list_metrics(Namespace="AWS/SQS", Dimensions=[{"Name": "QueueName", "Value": name}])
    assert {"NumberOfMessagesSent", "SentMessageSize"} <= {m["MetricName"] for m in listed["Metrics"]}
