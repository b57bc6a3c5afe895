"""SQS queues through boto3 (JSON protocol) against a real `stratus serve`: queue management,
attributes, tags, listing, bad input and authorization."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server

ACCOUNT = "000000000000"


def unique(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def sqs(server: Server) -> Any:
    return server.client("sqs")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"].get("QueryErrorCode") or err.value.response["Error"]["Code"])


def test_create_is_idempotent_only_for_the_same_attributes(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=unique("missing"))


def test_attributes_all_and_named_and_set(sqs: Any) -> None:
    name = unique()
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "DelaySeconds": "2",
            "MessageRetentionPeriod": "120",
            "ReceiveMessageWaitTimeSeconds": "1",
            "MaximumMessageSize": "2048",
        },
        tags={"team": "a"},
    )["QueueUrl"]
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert every["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert every["DelaySeconds"] == "2" and every["MessageRetentionPeriod"] == "120"
    assert every["VisibilityTimeout"] == "30" and every["MaximumMessageSize"] == "2048"
    for counted in (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ):
        assert every[counted] == "0"
    assert int(every["CreatedTimestamp"]) > 1_600_000_000 and "LastModifiedTimestamp" in every
    named = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert named == {"VisibilityTimeout": "30"}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "5"
    }
    with pytest.raises(ClientError) as err:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    # The model's enum refuses it before the handler does (InvalidAttributeName there).
    assert code(err) in ("InvalidAttributeName", "InvalidParameterValue")
    with pytest.raises(ClientError) as err:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert code(err) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as err:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert code(err) == "InvalidAttributeName"


def test_tags(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique(), tags={"a": "1"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"b": "2"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "2"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["a"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "2"}


def test_list_queues_by_prefix_in_pages(sqs: Any) -> None:
    prefix = unique("list")
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3)]
    assert sorted(sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"]) == sorted(urls)
    first = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert len(first["QueueUrls"]) == 2 and first["NextToken"]
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=first["NextToken"])
    assert sorted(first["QueueUrls"] + rest["QueueUrls"]) == sorted(urls) and "NextToken" not in rest


def test_delete_and_purge(sqs: Any) -> None:
    url = sqs.create_queue(QueueName=unique())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    with pytest.raises(sqs.exceptions.PurgeQueueInProgress):
        sqs.purge_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_queues_are_regional(server: Server) -> None:
    name = unique()
    here = server.client("sqs")
    url = here.create_queue(QueueName=name)["QueueUrl"]
    there = boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=server.env()["STRATUS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env()["STRATUS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(there.exceptions.QueueDoesNotExist):
        there.get_queue_url(QueueName=name)
    with pytest.raises(there.exceptions.QueueDoesNotExist):
        there.send_message(QueueUrl=url, MessageBody="x")


def test_bad_names_and_fifo_rules(sqs: Any) -> None:
    for name, attributes in (
        ("a" * 81, {}),
        ("has.dot", {}),
        ("plain", {"FifoQueue": "true"}),
        ("x.fifo", {}),
    ):
        with pytest.raises(ClientError) as err:
            sqs.create_queue(QueueName=name, Attributes=attributes)
        assert code(err) == "InvalidParameterValue", name
    with pytest.raises(ClientError) as err:
        sqs.create_queue(QueueName=unique(), Attributes={"ContentBasedDeduplication": "true"})
    assert code(err) == "InvalidAttributeName"
    with pytest.raises(ClientError) as err:
        sqs.create_queue(QueueName=unique(), Attributes={"RedrivePolicy": "not json"})
    assert code(err) == "InvalidAttributeValue"
    missing_dlq = json.dumps(
        {"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{unique('nope')}", "maxReceiveCount": 2}
    )
    with pytest.raises(ClientError) as err:
        sqs.create_queue(QueueName=unique(), Attributes={"RedrivePolicy": missing_dlq})
    assert code(err) == "InvalidParameterValue"


def test_dead_letter_source_queues(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "4"})
    source = sqs.create_queue(QueueName=unique("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    kept = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(kept["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 4}


# -- authorization -------------------------------------------------------------------------------


def test_a_user_allowed_to_send_to_one_queue_is_refused_on_another(server: Server, sqs: Any) -> None:
    allowed = sqs.create_queue(QueueName=unique("allowed"))["QueueUrl"]
    other = sqs.create_queue(QueueName=unique("other"))["QueueUrl"]
    allowed_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{allowed.rsplit('/', 1)[1]}"
    iam = server.client("iam")
    user = unique("sqs-user")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="send-one",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": allowed_arn}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert theirs.send_message(QueueUrl=allowed, MessageBody="ok")["MessageId"]
    # A batch is authorized as sqs:SendMessage too.
    batch = theirs.send_message_batch(QueueUrl=allowed, Entries=[{"Id": "a", "MessageBody": "ok"}])
    assert [e["Id"] for e in batch["Successful"]] == ["a"]
    for call in (
        lambda: theirs.send_message(QueueUrl=other, MessageBody="no"),
        lambda: theirs.receive_message(QueueUrl=allowed),
        lambda: theirs.create_queue(QueueName=unique("theirs")),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert "AccessDenied" in code(err)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


def test_a_queue_policy_grants_what_the_callers_own_policies_do_not(server: Server, sqs: Any) -> None:
    """A user with no policies of its own sends to a queue whose Policy allows it, and nothing
    else; another queue without such a policy refuses it."""
    granted = sqs.create_queue(QueueName=unique("granted"))["QueueUrl"]
    plain = sqs.create_queue(QueueName=unique("plain"))["QueueUrl"]
    granted_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{granted.rsplit('/', 1)[1]}"
    iam = server.client("iam")
    user = unique("policy-user")
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": "sqs:SendMessage",
                "Resource": granted_arn,
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=granted, Attributes={"Policy": json.dumps(policy)})
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = boto3.client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )
    assert theirs.send_message(QueueUrl=granted, MessageBody="by the queue's leave")["MessageId"]
    for call in (
        lambda: theirs.send_message(QueueUrl=plain, MessageBody="no"),
        lambda: theirs.receive_message(QueueUrl=granted),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert "AccessDenied" in code(err)


def test_receive_takes_system_attribute_names_in_attribute_names(sqs: Any) -> None:
    """The deprecated AttributeNames member takes message system attribute names, as much
    code still passes them (the model's enum lists only queue attributes)."""
    url = sqs.create_queue(QueueName=unique("sysattrs"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="b")
    [message] = sqs.receive_message(
        QueueUrl=url, WaitTimeSeconds=2, AttributeNames=["SentTimestamp", "ApproximateReceiveCount"]
    )["Messages"]
    assert set(message["Attributes"]) == {"SentTimestamp", "ApproximateReceiveCount"}
    with pytest.raises(ClientError) as err:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    assert code(err) == "InvalidAttributeName"
