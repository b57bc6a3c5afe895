"""What one published message becomes for each subscription (pure but for the signing it is
handed): a function's event, a queue's message, an endpoint's POST for the outbox, each with
what its dead-letter queue would receive should the delivery fail."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stratus.topics import messages, outbox
from stratus.topics.model import Subscription, retry_policy


@dataclass(frozen=True)
class Published:
    message_id: str
    topic_arn: str
    topic_attributes: Mapping[str, str]
    message: str  # as published (a filter policy on the body reads it)
    subject: str | None
    by_protocol: Mapping[str, str]  # MessageStructure "json": each protocol's message, "default"
    attributes: Mapping[str, Mapping[str, Any]]  # as published (SQS/SNS request shape)
    timestamp: str
    sequence: str | None = None  # FIFO topics
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass(frozen=True)
class ToFunction:
    sub: Subscription
    payload: bytes
    dead_letter: str  # the JSON envelope


@dataclass(frozen=True)
class ToQueue:
    sub: Subscription
    body: str
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)  # raw delivery only
    group_id: str | None = None  # FIFO queues only: a standard queue refuses them
    dedup_id: str | None = None


@dataclass(frozen=True)
class Urls:
    cert: str
    unsubscribe: Callable[[str], str]  # subscription ARN -> its UnsubscribeURL


def plan(
    p: Published,
    subs: Iterable[Subscription],
    sign: Callable[[Mapping[str, str]], str],
    urls: Urls,
) -> list[ToFunction | ToQueue | outbox.Delivery]:
    """One delivery per confirmed subscription of the topic whose filter policy lets the
    message through, in the order given."""
    out: list[ToFunction | ToQueue | outbox.Delivery] = []
    for sub in subs:
        if sub.topic_arn != p.topic_arn or not sub.confirmed:
            continue
        if not sub.accepts(p.message, p.attributes):
            continue
        text = messages.for_protocol(p.by_protocol, sub.protocol)
        signed = messages.notification(
            message_id=p.message_id,
            topic_arn=p.topic_arn,
            subject=p.subject,
            message=text,
            timestamp=p.timestamp,
            sequence=p.sequence,
        )
        signature = sign(signed)
        unsubscribe = urls.unsubscribe(sub.arn)
        envelope = json.dumps(messages.envelope(signed, signature, urls.cert, unsubscribe, p.attributes))
        if sub.protocol == "lambda":
            event = messages.lambda_event(signed, signature, urls.cert, unsubscribe, p.attributes, sub.arn)
            out.append(ToFunction(sub, json.dumps(event).encode(), envelope))
        elif sub.protocol == "sqs":
            fifo_queue = sub.endpoint.endswith(".fifo")
            out.append(
                ToQueue(
                    sub,
                    text if sub.raw else envelope,
                    messages.queue_attributes(p.attributes) if sub.raw else {},
                    p.group_id if fifo_queue else None,
                    p.dedup_id if fifo_queue else None,
                )
            )
        else:
            attempts, low, high = retry_policy(sub.attributes, p.topic_attributes)
            out.append(
                outbox.Delivery(
                    sub.arn,
                    sub.endpoint,
                    messages.http_headers("Notification", p.message_id, p.topic_arn, sub.arn, sub.raw),
                    text if sub.raw else envelope,
                    attempts,
                    int(low * 1000),
                    int(high * 1000),
                    messages.event_attributes(p.attributes) if sub.raw else {},
                )
            )
    return out


def confirmation(
    topic_arn: str,
    topic_attributes: Mapping[str, str],
    sub: Subscription,
    *,
    message_id: str,
    timestamp: str,
    subscribe_url: str,
    sign: Callable[[Mapping[str, str]], str],
    cert_url: str,
) -> outbox.Delivery:
    """The SubscriptionConfirmation POST an HTTP/S endpoint gets when it is subscribed."""
    signed = {
        "Type": "SubscriptionConfirmation",
        "MessageId": message_id,
        "Token": sub.token,
        "TopicArn": topic_arn,
        "Message": (
            f"You have chosen to subscribe to the topic {topic_arn}.\n"
            "To confirm the subscription, visit the SubscribeURL included in this message."
        ),
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp,
    }
    body = {**signed, "SignatureVersion": "1", "Signature": sign(signed), "SigningCertURL": cert_url}
    attempts, low, high = retry_policy(sub.attributes, topic_attributes)
    return outbox.Delivery(
        sub.arn,
        sub.endpoint,
        messages.http_headers("SubscriptionConfirmation", message_id, topic_arn, None, False),
        json.dumps(body),
        attempts,
        int(low * 1000),
        int(high * 1000),
    )
