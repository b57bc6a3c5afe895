"""The access policies that let AWS services send to a queue or publish to a topic, as an AWS
user writes them: SNS delivering a topic's messages to a subscribed queue (or a subscription's
dead-letter queue), S3 sending a bucket's notifications to a queue or topic. Without such a
statement SQS and SNS refuse the service (a subscriber cannot make a topic inject into any
queue, nor a bucket owner point its notifications at any queue)."""

from __future__ import annotations

import json
from typing import Any

SNS = "sns.amazonaws.com"
S3 = "s3.amazonaws.com"

# (service principal, source ARN): the service may act for that source only.
Grant = tuple[str, str]


def from_topic(topic_arn: str) -> Grant:
    """SNS, for deliveries of this topic."""
    return (SNS, topic_arn)


def from_bucket(bucket: str) -> Grant:
    """S3, for notifications of this bucket."""
    return (S3, f"arn:aws:s3:::{bucket}")


def service_policy(resource_arn: str, action: str, *grants: Grant) -> str:
    """A policy document with one statement per grant: the service may do `action` on the
    resource when the request is made for the grant's source (aws:SourceArn)."""
    statements = [
        {
            "Sid": f"Grant{index}",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": action,
            "Resource": resource_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
        }
        for index, (service, source_arn) in enumerate(grants)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def allow_queue(sqs: Any, url: str, *grants: Grant) -> None:
    """Set the queue's Policy (replacing any) to let each grant's service send to it."""
    policy = service_policy(queue_arn(sqs, url), "sqs:SendMessage", *grants)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})


def allow_topic(sns: Any, topic_arn: str, *grants: Grant) -> None:
    """Set the topic's Policy (replacing any) to let each grant's service publish to it."""
    policy = service_policy(topic_arn, "sns:Publish", *grants)
    sns.set_topic_attributes(TopicArn=topic_arn, AttributeName="Policy", AttributeValue=policy)
