"""Queues and topics decide by their access policies what AWS services send them, against the
real server with boto3. A principal allowed only sns:* (or only s3:*) must not be able to make
SNS (or S3) write into a queue it has no rights on: SNS delivers to a queue, or to a
subscription's dead-letter queue, only when the queue's Policy allows sns.amazonaws.com for the
topic; S3 accepts a bucket's Queue/TopicConfiguration only when the target's Policy allows
s3.amazonaws.com for the bucket, and checks again at each delivery.

"Nothing arrived" is asserted only after a positive control (a delivery of the same publish or
put to a queue whose policy allows it) has arrived, and then after polling for 3 s more."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server, error_code
from tests.e2e.service_policies import S3, allow_queue, allow_topic, from_bucket, from_topic, service_policy
from tests.e2e.test_identity import new_user
from tests.e2e.test_messaging_attacks import SQS_DENIED, count
from tests.e2e.test_sns_delivery import drain, queue
from tests.e2e.test_sns_topics import topic

# How long a queue that should get nothing is polled once the control delivery has arrived.
QUIET_S = 3.0
UNVALIDATED = "Unable to validate the following destination configurations"


def as_user(server: Server, creds: dict[str, str], service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        config=Config(retries={"max_attempts": 1}),
    )


def bodies(messages: list[dict[str, Any]]) -> list[str]:
    return [m["Body"] for m in messages]


def object_keys(messages: list[dict[str, Any]]) -> list[str]:
    """The object keys of S3 event messages delivered straight to a queue."""
    return [json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"] for m in messages]


# -- SNS into queues --------------------------------------------------------------------------


def test_a_user_allowed_only_sns_cannot_make_a_topic_deliver_into_a_queue(server: Server) -> None:
    """The user makes its own topic, subscribes a queue of the account's that has no policy
    (with another such queue as the subscription's dead-letter queue) and publishes: SNS may
    deliver to neither. A queue whose policy allows the topic, subscribed alongside, gets the
    message (so the publish fanned out, and the other deliveries were refused, not late)."""
    sqs = server.client("sqs")
    attacker = new_user(server, {"Effect": "Allow", "Action": "sns:*", "Resource": "*"})
    sns = as_user(server, attacker, "sns")
    arn = sns.create_topic(Name=f"mine-{uuid.uuid4().hex[:8]}")["TopicArn"]
    victim_url, victim = queue(sqs)
    dead_url, dead = queue(sqs)
    control_url, control = queue(sqs, topics=(arn,))
    raw = {"RawMessageDelivery": "true"}
    into_victim = sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=victim,
        Attributes={**raw, "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead})},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=control, Attributes=raw)
    # Subscribing was within the user's rights: the subscription exists and is confirmed.
    attributes = sns.get_subscription_attributes(SubscriptionArn=into_victim)["Attributes"]
    assert attributes["Endpoint"] == victim and attributes["PendingConfirmation"] == "false"
    # The user cannot give itself the queue's leave either.
    with pytest.raises(ClientError) as err:
        as_user(server, attacker, "sqs").set_queue_attributes(
            QueueUrl=victim_url,
            Attributes={"Policy": service_policy(victim, "sqs:SendMessage", from_topic(arn))},
        )
    assert error_code(err) in SQS_DENIED

    sns.publish(TopicArn=arn, Message="injected")
    assert bodies(drain(sqs, control_url, 1)) == ["injected"]
    assert drain(sqs, victim_url, 1, timeout=QUIET_S) == []
    assert drain(sqs, dead_url, 1, timeout=QUIET_S) == []
    assert count(sqs, victim_url) == (0, 0) and count(sqs, dead_url) == (0, 0)
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=victim_url, AttributeNames=["All"])["Attributes"]


def test_a_queue_policy_for_one_topic_does_not_admit_another(server: Server) -> None:
    """A queue subscribed to topics A and B whose policy allows SNS for A, and S3 (not SNS) for
    B's ARN: A's messages arrive, B's do not (a control queue allowing B gets them)."""
    sns, sqs = server.client("sns"), server.client("sqs")
    topic_a, topic_b = topic(sns), topic(sns)
    url, arn = queue(sqs)
    allow_queue(sqs, url, from_topic(topic_a), (S3, topic_b))
    control_url, control = queue(sqs, topics=(topic_b,))
    raw = {"RawMessageDelivery": "true"}
    for t in (topic_a, topic_b):
        sns.subscribe(TopicArn=t, Protocol="sqs", Endpoint=arn, Attributes=raw)
    sns.subscribe(TopicArn=topic_b, Protocol="sqs", Endpoint=control, Attributes=raw)

    sns.publish(TopicArn=topic_b, Message="from B")
    assert bodies(drain(sqs, control_url, 1)) == ["from B"]
    sns.publish(TopicArn=topic_a, Message="from A")
    got = drain(sqs, url, 1)
    got += drain(sqs, url, 1, timeout=QUIET_S)  # anything else that would still come
    assert bodies(got) == ["from A"]


def test_a_refused_delivery_lands_in_a_dead_letter_queue_that_allows_sns(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    target_url, target = queue(sqs)  # no policy
    dead_url, dead = queue(sqs, topics=(arn,))
    sub = sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=target,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead})},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    message_id = sns.publish(
        TopicArn=arn, Message="refused", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
    )["MessageId"]
    (letter,) = drain(sqs, dead_url, 1)
    envelope = json.loads(letter["Body"])  # the message as the queue would have had it
    assert envelope["MessageId"] == message_id and envelope["Message"] == "refused"
    assert envelope["UnsubscribeURL"].endswith(f"SubscriptionArn={sub}")
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "AccessDenied"
    assert "sns.amazonaws.com" in attributes["ErrorMessage"] and attributes["RequestID"]
    assert drain(sqs, target_url, 1, timeout=QUIET_S) == []
    assert count(sqs, target_url) == (0, 0)


# -- S3 into queues and topics -----------------------------------------------------------------


def _queue_config(arn: str, prefix: str) -> dict[str, Any]:
    return {
        "QueueArn": arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
    }


def test_bucket_notifications_need_the_target_s_policy_at_configuration_and_delivery(server: Server) -> None:
    s3, sqs, sns = server.client("s3"), server.client("sqs"), server.client("sns")
    bucket, elsewhere = f"notes-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url, arn = queue(sqs)
    control_url, control = queue(sqs)
    allow_queue(sqs, control_url, from_bucket(bucket))
    t = topic(sns)

    def refused(configuration: dict[str, Any]) -> None:
        with pytest.raises(ClientError) as err:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
        assert error_code(err) == "InvalidArgument"
        assert err.value.response["Error"]["Message"] == UNVALIDATED
        stored = s3.get_bucket_notification_configuration(Bucket=bucket)
        assert "QueueConfigurations" not in stored and "TopicConfigurations" not in stored

    # Without a policy; with one for another bucket; with one that lets SNS (not S3) send.
    refused({"QueueConfigurations": [_queue_config(arn, "a/")]})
    allow_queue(sqs, url, from_bucket(elsewhere))
    refused({"QueueConfigurations": [_queue_config(arn, "a/")]})
    allow_queue(sqs, url, from_topic(t))
    refused({"QueueConfigurations": [_queue_config(arn, "a/")]})
    topic_config = {"TopicArn": t, "Events": ["s3:ObjectRemoved:*"]}
    refused({"TopicConfigurations": [topic_config]})
    allow_queue(sqs, url, from_topic(t), from_bucket(bucket))
    refused(  # one refused target refuses the whole configuration
        {"QueueConfigurations": [_queue_config(arn, "a/")], "TopicConfigurations": [topic_config]}
    )
    allow_topic(sns, t, from_bucket(bucket))
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [_queue_config(arn, "a/"), _queue_config(control, "b/")],
            "TopicConfigurations": [topic_config],
        },
    )
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]) == 2

    s3.put_object(Bucket=bucket, Key="a/1", Body=b"x")
    assert object_keys(drain(sqs, url, 1)) == ["a/1"]

    # The queue's owner withdraws S3's leave: the next put to it is dropped, not kept for later.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    s3.put_object(Bucket=bucket, Key="a/2", Body=b"x")
    s3.put_object(Bucket=bucket, Key="b/2", Body=b"x")
    assert object_keys(drain(sqs, control_url, 1)) == ["b/2"]
    assert drain(sqs, url, 1, timeout=QUIET_S) == []
    # The server keeps serving, and delivers again once the policy is back: only what was put
    # since (the dropped event did not wait for it).
    assert server.proc is not None and server.proc.poll() is None
    allow_queue(sqs, url, from_bucket(bucket))
    s3.put_object(Bucket=bucket, Key="a/3", Body=b"x")
    got = drain(sqs, url, 1)
    got += drain(sqs, url, 1, timeout=QUIET_S)
    assert object_keys(got) == ["a/3"]


def test_a_user_allowed_only_s3_cannot_aim_its_bucket_at_a_queue(server: Server) -> None:
    """The user's own bucket, and queues and a topic of the account's: one without a policy,
    one whose policy lets S3 send for another bucket. The configuration is refused, the user
    cannot change the policies, and nothing is stored or delivered."""
    sqs, sns = server.client("sqs"), server.client("sns")
    user = new_user(server, {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
    s3 = as_user(server, user, "s3")
    bucket = f"theirs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    bare_url, bare = queue(sqs)
    other_url, other = queue(sqs)
    owners = f"owners-{uuid.uuid4().hex[:8]}"
    allow_queue(sqs, other_url, from_bucket(owners))
    t = topic(sns)
    for configuration in (
        {"QueueConfigurations": [{"QueueArn": bare, "Events": ["s3:ObjectCreated:*"]}]},
        {"QueueConfigurations": [{"QueueArn": other, "Events": ["s3:ObjectCreated:*"]}]},
        {"TopicConfigurations": [{"TopicArn": t, "Events": ["s3:ObjectCreated:*"]}]},
    ):
        with pytest.raises(ClientError) as err:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)
        assert error_code(err) == "InvalidArgument", configuration
        assert err.value.response["Error"]["Message"] == UNVALIDATED
    their_sqs, their_sns = as_user(server, user, "sqs"), as_user(server, user, "sns")
    for url, arn in ((bare_url, bare), (other_url, other)):
        with pytest.raises(ClientError) as err:
            their_sqs.set_queue_attributes(
                QueueUrl=url,
                Attributes={"Policy": service_policy(arn, "sqs:SendMessage", from_bucket(bucket))},
            )
        assert error_code(err) in SQS_DENIED
    with pytest.raises(ClientError) as err:
        their_sns.set_topic_attributes(
            TopicArn=t,
            AttributeName="Policy",
            AttributeValue=service_policy(t, "sns:Publish", from_bucket(bucket)),
        )
    assert error_code(err) == "AuthorizationError"

    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert "QueueConfigurations" not in stored and "TopicConfigurations" not in stored
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert count(sqs, bare_url) == (0, 0) and count(sqs, other_url) == (0, 0)
    # The policies are as their owner left them.
    kept = sqs.get_queue_attributes(QueueUrl=other_url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(kept) == json.loads(service_policy(other, "sqs:SendMessage", from_bucket(owners)))
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=bare_url, AttributeNames=["All"])["Attributes"]
