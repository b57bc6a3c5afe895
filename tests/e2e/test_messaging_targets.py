"""Queues and topics as targets of the rest of the platform: a function's DeadLetterConfig and
its asynchronous invocation's destinations (OnSuccess/OnFailure), and a bucket's
QueueConfigurations and TopicConfigurations (whose queues and topics let S3 send to them by
their access policies). Real server, boto3 only."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import LAMBDA_TRUST, REGION, Server, create, error_code
from tests.e2e.service_policies import allow_queue, allow_topic, from_bucket, from_topic

ACCOUNT = "000000000000"

FAILING = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event.get("id")))
    return {"echo": event.get("id")}
"""


def _role(server: Server, actions: list[str]) -> str:
    """An execution role trusting Lambda whose policy allows `actions` on any resource."""
    iam = server.client("iam")
    name = f"targets-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_role_policy(RoleName=name, PolicyName="targets", PolicyDocument=json.dumps(policy))
    return str(arn)


def _queue(server: Server, prefix: str) -> tuple[str, str]:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _wait_messages(server: Server, url: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
    sqs = server.client("sqs")
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(
            sqs.receive_message(
                QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
        )
    return got


def test_a_failed_event_goes_to_the_dead_letter_queue_as_it_was(server: Server, lam: Any) -> None:
    url, arn = _queue(server, "dlq")
    name = f"dlq-{uuid.uuid4().hex[:8]}"
    create(
        lam,
        name,
        {"app.py": FAILING},
        Role=_role(server, ["sqs:SendMessage"]),
        DeadLetterConfig={"TargetArn": arn},
    )
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": arn}
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    payload = json.dumps({"fail": True, "id": "e1"})
    request_id = lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)["ResponseMetadata"][
        "HTTPHeaders"
    ]["x-amzn-requestid"]
    [message] = _wait_messages(server, url)
    assert json.loads(message["Body"]) == {"fail": True, "id": "e1"}
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"StringValue": request_id, "DataType": "String"}
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert "asked to fail: e1" in attributes["ErrorMessage"]["StringValue"]


def test_destinations_may_be_queues_and_topics(server: Server, lam: Any) -> None:
    ok_url, ok_arn = _queue(server, "on-success")
    fail_url, fail_arn = _queue(server, "on-failure")
    sns = server.client("sns")
    topic = sns.create_topic(Name=f"failures-{uuid.uuid4().hex[:8]}")["TopicArn"]
    # Lambda sends to the destinations as the function's role; SNS delivers on to the queue
    # by the queue's own policy.
    allow_queue(server.client("sqs"), fail_url, from_topic(topic))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=fail_arn)
    name = f"dest-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": FAILING}, Role=_role(server, ["sqs:SendMessage", "sns:Publish"]))
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": ok_arn}, "OnFailure": {"Destination": topic}},
    )
    config = lam.get_function_event_invoke_config(FunctionName=name)["DestinationConfig"]
    assert config["OnSuccess"]["Destination"] == ok_arn and config["OnFailure"]["Destination"] == topic
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"id": "good"}))
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "id": "bad"}))
    [success] = _wait_messages(server, ok_url)
    record = json.loads(success["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"id": "good"} and record["responsePayload"] == {"echo": "good"}
    [failure] = _wait_messages(server, fail_url)
    envelope = json.loads(failure["Body"])  # the topic's SNS envelope around the record
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["requestPayload"] == {"fail": True, "id": "bad"}


def test_a_role_that_may_not_send_delivers_nothing(server: Server, lam: Any) -> None:
    url, arn = _queue(server, "denied")
    name = f"denied-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": FAILING}, Role=_role(server, []), DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "id": "x"}))
    # The event was run and dropped (its log shows it) and neither target got a message.
    logs = server.client("logs")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}").get("events", [])
        if any("asked to fail" in e["message"] for e in events):
            break
        time.sleep(0.2)
    else:
        pytest.fail("the event never ran")
    time.sleep(1.0)  # time enough for a delivery to have been made, were it allowed
    assert _wait_messages(server, url, timeout=2) == []


@pytest.mark.parametrize(
    "target",
    ["arn:aws:sqs:us-east-1:000000000000:no-such-queue", "arn:aws:s3:::a-bucket", "not-an-arn"],
)
def test_targets_that_are_not_queues_or_topics_are_refused(server: Server, lam: Any, target: str) -> None:
    name = f"refused-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as err:
        create(lam, name, {"app.py": FAILING}, DeadLetterConfig={"TargetArn": target})
    assert error_code(err) in ("InvalidParameterValueException", "ValidationException")
    create(lam, name, {"app.py": FAILING})
    with pytest.raises(ClientError) as err:
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": target}}
        )
    assert error_code(err) in ("InvalidParameterValueException", "ValidationException")


def test_bucket_notifications_to_a_queue_and_a_topic(server: Server) -> None:
    s3, sns = server.client("s3"), server.client("sns")
    bucket = f"notes-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    created_url, created_arn = _queue(server, "created")
    removed_url, removed_arn = _queue(server, "removed")
    topic = sns.create_topic(Name=f"removals-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sqs = server.client("sqs")
    allow_queue(sqs, created_url, from_bucket(bucket))
    allow_topic(sns, topic, from_bucket(bucket))
    allow_queue(sqs, removed_url, from_topic(topic))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=removed_arn)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"Id": "to-queue", "QueueArn": created_arn, "Events": ["s3:ObjectCreated:*"]}
            ],
            "TopicConfigurations": [{"Id": "to-topic", "TopicArn": topic, "Events": ["s3:ObjectRemoved:*"]}],
        },
    )
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert stored["QueueConfigurations"][0]["QueueArn"] == created_arn
    assert stored["TopicConfigurations"][0]["TopicArn"] == topic
    s3.put_object(Bucket=bucket, Key="photos/a b.jpg", Body=b"x")
    [created] = _wait_messages(server, created_url)
    record = json.loads(created["Body"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["configurationId"] == "to-queue"
    assert record["s3"]["object"]["key"] == "photos/a+b.jpg"
    s3.delete_object(Bucket=bucket, Key="photos/a b.jpg")
    [removed] = _wait_messages(server, removed_url)
    envelope = json.loads(removed["Body"])
    assert envelope["Subject"] == "Amazon S3 Notification"
    record = json.loads(envelope["Message"])["Records"][0]
    assert record["eventName"] == "ObjectRemoved:Delete" and record["s3"]["configurationId"] == "to-topic"


def test_a_bucket_notification_to_a_missing_queue_is_refused(server: Server) -> None:
    s3 = server.client("s3")
    bucket = f"refuse-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"QueueArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope", "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    assert error_code(err) == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations") is None
