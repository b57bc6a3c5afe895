"""Event source mappings from SQS queues against the real server: boto3's `lambda` and `sqs`
clients, real Python functions that report each event they get to a sink queue (through the
SDK inside their environment, as their execution role). Delivery with the documented SQS
event, partial batch responses and the DLQ, failing functions, FilterCriteria, disabling and
re-enabling, a restart, and the API's errors."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stratus.identity.environments import LAMBDA_TRUST
from tests.e2e.conftest import REGION, Server, create, error_code

ACCOUNT = "000000000000"
ROLE_NAME = "esm-reader"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
BARE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/esm-bare"

HANDLER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    url = sqs.get_queue_url(QueueName=os.environ["SINK"])["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    if os.environ.get("MODE") == "raise":
        raise RuntimeError("this function always fails")
    failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")]
    return {"batchItemFailures": failed}
"""


def setup_roles(server: Server) -> None:
    iam = server.client("iam")
    for name, policy in ((ROLE_NAME, True), ("esm-bare", False)):
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
        if policy:
            document = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
            }
            iam.put_role_policy(RoleName=name, PolicyName="sqs", PolicyDocument=json.dumps(document))


@pytest.fixture(scope="module")
def env(server: Server) -> Any:
    setup_roles(server)
    return server


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_queue(sqs: Any, prefix: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name(prefix), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def make_function(lam: Any, sink: str, *, mode: str = "", timeout: int = 3, role: str = ROLE) -> str:
    fn = name("esm-fn")
    create(
        lam,
        fn,
        {"app.py": HANDLER},
        Role=role,
        Timeout=timeout,
        Environment={"Variables": {"SINK": sink, "MODE": mode}},
    )
    return fn


def wait_for(check: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("the condition never held")


def drain(sqs: Any, url: str, want: int, seconds: float = 60) -> list[dict[str, Any]]:
    """Messages from a queue (deleted as they are read) until `want` of them came."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(got) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def bodies_seen(sqs: Any, sink: str, want: int) -> list[str]:
    events = [json.loads(m["Body"]) for m in drain(sqs, sink, want)]
    return sorted(r["body"] for e in events for r in e["Records"])


def empty(sqs: Any, url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"] == "0"
        and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def test_a_message_reaches_the_function_as_the_documented_sqs_event(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    url, arn = make_queue(sqs, "src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    mapping = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=5)
    assert mapping["State"] == "Creating" and mapping["BatchSize"] == 5 and mapping["EventSourceArn"] == arn
    assert mapping["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled")
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody='{"order": 7}',
        MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}},
    )
    (message,) = drain(sqs, sink_url, 1)
    (record,) = json.loads(message["Body"])["Records"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == '{"order": 7}'
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["messageAttributes"] == {
        "color": {"stringValue": "blue", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == REGION and record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    wait_for(lambda: empty(sqs, url))  # deleted after the function succeeded
    listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]


def test_partial_batch_failures_stay_and_reach_the_dlq(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    dlq_url, dlq_arn = make_queue(sqs, "dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = make_queue(sqs, "src", VisibilityTimeout="2", RedrivePolicy=redrive)
    fn = make_function(lam, sink_url.rsplit("/", 1)[1], timeout=2)
    for body in ("ok-1", "fail-1", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    (dead,) = drain(sqs, dlq_url, 1)
    assert dead["Body"] == "fail-1"
    wait_for(lambda: empty(sqs, url))
    seen = bodies_seen(sqs, sink_url, 4)
    # The successes ran once and were deleted; the failure was delivered maxReceiveCount times.
    assert seen.count("ok-1") == 1 and seen.count("ok-2") == 1 and seen.count("fail-1") == 2


def test_a_failing_functions_messages_reach_the_dlq(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    dlq_url, dlq_arn = make_queue(sqs, "dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    url, arn = make_queue(sqs, "src", VisibilityTimeout="2", RedrivePolicy=redrive)
    fn = make_function(lam, sink_url.rsplit("/", 1)[1], mode="raise", timeout=2)
    lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    sqs.send_message(QueueUrl=url, MessageBody="doomed")
    (dead,) = drain(sqs, dlq_url, 1)
    assert dead["Body"] == "doomed"
    assert bodies_seen(sqs, sink_url, 1) == ["doomed"]


def test_filter_criteria_drop_what_does_not_match(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    url, arn = make_queue(sqs, "src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    mapping = lam.create_event_source_mapping(
        FunctionName=fn,
        EventSourceArn=arn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]},
    )
    assert json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"]) == {"body": {"kind": ["keep"]}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "drop"}))
    sqs.send_message(QueueUrl=url, MessageBody="plain text")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"kind": "keep"}))
    wait_for(lambda: empty(sqs, url))  # the filtered-out ones are deleted too
    assert bodies_seen(sqs, sink_url, 1) == ['{"kind": "keep"}']
    assert drain(sqs, sink_url, 1, seconds=3) == []  # and never delivered


def test_a_disabled_mapping_stops_and_re_enabling_resumes(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    url, arn = make_queue(sqs, "src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    uuid_ = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Enabled")
    assert lam.update_event_source_mapping(UUID=uuid_, Enabled=False)["State"] == "Disabling"
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled")
    sqs.send_message(QueueUrl=url, MessageBody="held")
    assert drain(sqs, sink_url, 1, seconds=3) == []
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert lam.update_event_source_mapping(UUID=uuid_, Enabled=True)["State"] == "Enabling"
    assert bodies_seen(sqs, sink_url, 1) == ["held"]
    assert lam.delete_event_source_mapping(UUID=uuid_)["State"] == "Deleting"
    wait_for(lambda: not lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"])


def test_mappings_survive_a_restart(fresh_server: Any) -> None:
    first = fresh_server()
    setup_roles(first)
    lam, sqs = first.client("lambda"), first.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    url, arn = make_queue(sqs, "src")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])
    uuid_ = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, BatchSize=3)["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Enabled")
    first.stop()
    again = Server(first.data_dir).start()
    try:
        lam, sqs = again.client("lambda"), again.client("sqs")
        mapping = lam.get_event_source_mapping(UUID=uuid_)
        assert mapping["State"] == "Enabled" and mapping["BatchSize"] == 3
        url = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"]
        sink_url = sqs.get_queue_url(QueueName=sink_url.rsplit("/", 1)[1])["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="after the restart")
        assert bodies_seen(sqs, sink_url, 1) == ["after the restart"]
    finally:
        again.stop()


def test_the_apis_errors(env: Server) -> None:
    lam, sqs = env.client("lambda"), env.client("sqs")
    sink_url, _ = make_queue(sqs, "sink")
    _, arn = make_queue(sqs, "src", VisibilityTimeout="5")
    fn = make_function(lam, sink_url.rsplit("/", 1)[1])

    def refused(**params: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as e:
            lam.create_event_source_mapping(**{"FunctionName": fn, "EventSourceArn": arn, **params})
        return error_code(e), e.value.response["Error"]["Message"]

    code, message = refused(BatchSize=11)
    assert code == "InvalidParameterValueException" and "batch window" in message
    code, message = refused(StartingPosition="LATEST")
    assert code == "InvalidParameterValueException" and "StartingPosition" in message
    code, message = refused(EventSourceArn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue")
    assert code == "InvalidParameterValueException" and "NonExistentQueue" in message
    slow = make_function(lam, sink_url.rsplit("/", 1)[1], timeout=10)
    code, message = refused(FunctionName=slow)
    assert code == "InvalidParameterValueException"
    assert message == "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds"
    bare = make_function(lam, sink_url.rsplit("/", 1)[1], role=BARE_ROLE)
    code, message = refused(FunctionName=bare)
    assert code == "InvalidParameterValueException"
    assert message == "The provided execution role does not have permissions to call ReceiveMessage on SQS"
    code, _ = refused(FilterCriteria={"Filters": [{"Pattern": "not json"}]})
    assert code == "InvalidParameterValueException"
    code, _ = refused(FunctionName=name("missing"))
    assert code == "ResourceNotFoundException"

    first = lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn)
    code, message = refused()
    assert code == "ResourceConflictException" and first["UUID"] in message
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=str(uuid.uuid4()))
    assert error_code(e) == "ResourceNotFoundException"
    other = make_function(lam, sink_url.rsplit("/", 1)[1])
    second = lam.create_event_source_mapping(FunctionName=other, EventSourceArn=arn)
    page = lam.list_event_source_mappings(EventSourceArn=arn, MaxItems=1)
    assert [m["UUID"] for m in page["EventSourceMappings"]] == [first["UUID"]]
    rest = lam.list_event_source_mappings(EventSourceArn=arn, MaxItems=1, Marker=page["NextMarker"])
    assert [m["UUID"] for m in rest["EventSourceMappings"]] == [second["UUID"]] and "NextMarker" not in rest
