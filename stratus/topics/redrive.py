"""A subscription's dead-letter queue (its RedrivePolicy), pure: the checks SNS makes on the
policy, where an undeliverable message goes, and what the dead-letter queue receives.

SNS sends a message to the subscription's `deadLetterTargetArn` when it cannot deliver it: a
client-side error (the function's policy does not let SNS invoke it, the function or the queue
is gone), or server-side errors past the delivery policy's retries (an HTTP endpoint). The dead
letter is the message as the subscriber would have received it (the JSON envelope, or the raw
message with its attributes), with RequestID, ErrorCode and ErrorMessage message attributes
saying why it was not delivered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from stratus.topics.errors import InvalidParameter

QUEUE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<name>[A-Za-z0-9_-]{1,80}(\.fifo)?)$"
)
# SQS takes at most 10 message attributes; the three that say why come first.
MAX_QUEUE_ATTRIBUTES = 10

# (ErrorCode, ErrorMessage) of the client-side failures, as SQS and Lambda name them.
QUEUE_GONE = (
    "AWS.SimpleQueueService.NonExistentQueue",
    "The specified queue does not exist or you do not have access to it.",
)
FUNCTION_REFUSED = (
    "AccessDeniedException",
    "Amazon SNS is not authorized to invoke the function (its resource-based policy does not "
    "allow sns.amazonaws.com for this topic), or the function does not exist.",
)
QUEUE_REFUSED = (
    "AccessDenied",
    "Amazon SNS is not authorized to send to the queue (its access policy does not allow "
    "sns.amazonaws.com sqs:SendMessage for this topic).",
)


def target(attributes: Mapping[str, str]) -> str | None:
    """The dead-letter queue ARN of a subscription's attributes, if it has one."""
    text = attributes.get("RedrivePolicy", "")
    if not text.strip():
        return None
    try:
        policy = json.loads(text)
    except ValueError:
        return None
    found = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
    return found if isinstance(found, str) and found else None


def check(
    text: str,
    *,
    topic_arn: str,
    fifo_topic: bool,
    queue_exists: Callable[[str], bool],
) -> None:
    """InvalidParameter unless `text` is a RedrivePolicy SNS accepts for a subscription of
    `topic_arn`: a JSON object naming, in deadLetterTargetArn, an existing SQS queue of the
    same account and region (a FIFO queue for a FIFO topic, a standard one otherwise). An
    empty policy removes the dead-letter queue."""
    if not text.strip():
        return
    try:
        policy: Any = json.loads(text)
    except ValueError:
        raise InvalidParameter("Invalid parameter: RedrivePolicy: failed to parse JSON") from None
    if not isinstance(policy, dict):
        raise InvalidParameter("Invalid parameter: RedrivePolicy: the policy must be a JSON object")
    unknown = sorted(set(policy) - {"deadLetterTargetArn"})
    if unknown:
        raise InvalidParameter(f"Invalid parameter: RedrivePolicy: unknown field {unknown[0]}")
    arn = policy.get("deadLetterTargetArn")
    if not isinstance(arn, str) or not arn:
        raise InvalidParameter("Invalid parameter: RedrivePolicy: deadLetterTargetArn is missing")
    match = QUEUE_ARN.match(arn)
    if match is None:
        raise InvalidParameter(
            f"Invalid parameter: RedrivePolicy: deadLetterTargetArn is an invalid arn: {arn}"
        )
    _, _, _, region, account, _ = topic_arn.split(":", 5)
    if (match.group("region"), match.group("account")) != (region, account):
        raise InvalidParameter(
            "Invalid parameter: RedrivePolicy: the dead-letter queue must be in the same account "
            "and region as the subscription"
        )
    if match.group("name").endswith(".fifo") != fifo_topic:
        raise InvalidParameter(
            "Invalid parameter: RedrivePolicy: a FIFO topic's subscriptions need a FIFO dead-letter "
            "queue, a standard topic's a standard one"
        )
    if not queue_exists(arn):
        raise InvalidParameter(
            f"Invalid parameter: RedrivePolicy: the dead-letter queue {arn} does not exist"
        )


def attributes(
    request_id: str, code: str, message: str, carried: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The dead letter's SQS message attributes: why, then what the message carried (raw
    delivery) as far as SQS's limit allows."""
    out: dict[str, dict[str, Any]] = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "String", "StringValue": code},
        "ErrorMessage": {"DataType": "String", "StringValue": message[:4096]},
    }
    for name, value in carried.items():
        if len(out) >= MAX_QUEUE_ATTRIBUTES:
            break
        out.setdefault(name, dict(value))
    return out
