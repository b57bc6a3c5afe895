"""SNS subscriptions' dead-letter queues (RedrivePolicy) against the real server with boto3:
the policy is checked, and a message SNS cannot deliver (the queue is gone, the function's
policy does not allow SNS or the function does not exist, an endpoint's retries ran out) lands
in the subscription's dead-letter queue (whose access policy allows the topic, as SNS requires)
with RequestID, ErrorCode and ErrorMessage."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import REGION, Server, create, error_code
from tests.e2e.test_sns_delivery import drain, queue
from tests.e2e.test_sns_topics import ACCOUNT, RECORDER, Endpoint, confirmed_http, topic


def redrive(arn: str) -> str:
    return json.dumps({"deadLetterTargetArn": arn})


def test_redrive_policy_is_checked(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    _, target = queue(sqs)
    _, dlq = queue(sqs)
    _, fifo_dlq = queue(sqs, fifo=True)
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=target)["SubscriptionArn"]
    bad = [
        "{not json",
        json.dumps(["deadLetterTargetArn"]),
        json.dumps({}),
        redrive("not-an-arn"),
        redrive(f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue-{uuid.uuid4().hex[:6]}"),
        redrive(dlq.replace(f":{REGION}:", ":eu-west-3:")),
        redrive(fifo_dlq),  # a standard topic's dead-letter queue is a standard queue
    ]
    for policy in bad:
        with pytest.raises(ClientError) as err:
            sns.set_subscription_attributes(
                SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=policy
            )
        assert error_code(err) == "InvalidParameter", policy
        with pytest.raises(ClientError) as err:
            sns.subscribe(
                TopicArn=arn,
                Protocol="sqs",
                Endpoint=dlq,
                Attributes={"RedrivePolicy": policy},
            )
        assert error_code(err) == "InvalidParameter", policy
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=redrive(dlq)
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq}


def test_a_gone_queue_s_messages_go_to_the_dead_letter_queue(server: Server) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    url, target = queue(sqs, topics=(arn,))
    dlq_url, dlq = queue(sqs, topics=(arn,))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=target, Attributes={"RedrivePolicy": redrive(dlq)})
    sns.publish(TopicArn=arn, Message="delivered")
    assert json.loads(drain(sqs, url, 1)[0]["Body"])["Message"] == "delivered"
    sqs.delete_queue(QueueUrl=url)
    message_id = sns.publish(TopicArn=arn, Message="undeliverable", Subject="s")["MessageId"]
    (dead,) = drain(sqs, dlq_url, 1)
    envelope = json.loads(dead["Body"])  # the message as the queue would have had it
    assert envelope["MessageId"] == message_id and envelope["Message"] == "undeliverable"
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["ErrorCode"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert "does not exist" in attributes["ErrorMessage"] and attributes["RequestID"]


def test_a_function_sns_may_not_invoke_dead_letters(server: Server, lam: Any, fn_name: str) -> None:
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    dlq_url, dlq = queue(sqs, topics=(arn,))
    # A function whose resource policy does not let SNS invoke it, and one that does not exist.
    fn_arn = create(lam, fn_name, {"app.py": RECORDER})["FunctionArn"]
    missing = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:gone-{uuid.uuid4().hex[:8]}"
    for endpoint in (fn_arn, missing):
        sns.subscribe(
            TopicArn=arn, Protocol="lambda", Endpoint=endpoint, Attributes={"RedrivePolicy": redrive(dlq)}
        )
    message_id = sns.publish(
        TopicArn=arn, Message="nobody", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
    )["MessageId"]
    dead = drain(sqs, dlq_url, 2)
    assert len(dead) == 2
    for m in dead:
        envelope = json.loads(m["Body"])
        assert envelope["MessageId"] == message_id and envelope["Message"] == "nobody"
        assert envelope["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
        assert m["MessageAttributes"]["ErrorCode"]["StringValue"] == "AccessDeniedException"
    # One dead letter per subscription: each names its own in its UnsubscribeURL.
    subs = {s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]}
    assert {json.loads(m["Body"])["UnsubscribeURL"].rpartition("=")[2] for m in dead} == subs


def test_an_endpoint_past_its_retries_dead_letters_the_raw_message(fresh_server: Any) -> None:
    # The endpoint listens on loopback, which SNS refuses without the setting (test_sns_ssrf.py).
    server: Server = fresh_server(STRATUS_SNS_ALLOW_LOOPBACK="1")
    sns, sqs = server.client("sns"), server.client("sqs")
    arn = topic(sns)
    dlq_url, dlq = queue(sqs, topics=(arn,))
    ep = Endpoint()
    try:
        policy = json.dumps(
            {"healthyRetryPolicy": {"numRetries": 2, "minDelayTarget": 0, "maxDelayTarget": 0}}
        )
        sub = confirmed_http(sns, arn, ep, DeliveryPolicy=policy, RawMessageDelivery="true")
        sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="RedrivePolicy", AttributeValue=redrive(dlq)
        )
        ep.fail, ep.attempts = 10**6, 0  # every POST from now on answers 500
        sns.publish(
            TopicArn=arn,
            Message="raw and lost",
            MessageAttributes={"k": {"DataType": "Number", "StringValue": "5"}},
        )
        (dead,) = drain(sqs, dlq_url, 1)
        assert ep.attempts == 3  # the first attempt and the policy's two retries
        assert dead["Body"] == "raw and lost"
        assert dead["MessageAttributes"]["k"] == {"DataType": "Number", "StringValue": "5"}
        assert dead["MessageAttributes"]["ErrorCode"]["StringValue"] == "500"
        assert "500" in dead["MessageAttributes"]["ErrorMessage"]["StringValue"]
    finally:
        ep.close()
