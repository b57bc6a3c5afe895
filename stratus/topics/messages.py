"""What a published message becomes for each subscriber (pure): the checks SNS makes on a
Publish, the message a protocol gets under MessageStructure "json", the JSON envelope that
queues and HTTP endpoints receive, the event a function receives, and the HTTP headers."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from stratus.topics.errors import InvalidParameter, InvalidParameterValue

MAX_MESSAGE_BYTES = 256 * 1024
MAX_ATTRIBUTES = 10
ATTRIBUTE_TYPES = ("String", "Number", "Binary")


def attributes_size(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    total = 0
    for name, attr in attributes.items():
        total += len(name.encode()) + len(str(attr.get("DataType", "")).encode())
        value = attr.get("StringValue")
        binary = attr.get("BinaryValue")
        total += len(str(value).encode()) if value is not None else 0
        total += len(binary) if isinstance(binary, (bytes, bytearray)) else 0
    return total


def check_publish(message: str, attributes: Mapping[str, Mapping[str, Any]], structure: str | None) -> None:
    """InvalidParameter / ParameterValueInvalid for what SNS refuses in a Publish."""
    if not message:
        raise InvalidParameter("Invalid parameter: Empty message")
    if len(message.encode()) + attributes_size(attributes) > MAX_MESSAGE_BYTES:
        raise InvalidParameter("Invalid parameter: Message too long")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameter(
            f"Invalid parameter: Number of message attributes [{len(attributes)}] exceeds the "
            f"allowed maximum [{MAX_ATTRIBUTES}]."
        )
    for name, attr in attributes.items():
        kind = str(attr.get("DataType", ""))
        if name.lower().startswith(("aws.", "amazon.")) or not name or len(name) > 256:
            raise InvalidParameterValue(f"The message attribute name '{name}' is reserved or not valid.")
        if kind.split(".")[0] not in ATTRIBUTE_TYPES:
            raise InvalidParameterValue(
                f"The message attribute '{name}' has an invalid message attribute type, the set of supported "
                "type prefixes is Binary, Number, and String."
            )
        value = attr.get("BinaryValue") if kind.startswith("Binary") else attr.get("StringValue")
        if value is None:
            raise InvalidParameterValue(
                f"The message attribute '{name}' must contain non-empty message attribute value."
            )
        if kind.startswith("Number"):
            try:
                float(str(value))
            except ValueError:
                raise InvalidParameterValue(
                    f"Could not cast message attribute '{name}' value to number."
                ) from None
        if kind == "String.Array":
            try:
                parsed = json.loads(str(value))
            except ValueError:
                parsed = None
            if not isinstance(parsed, list):
                raise InvalidParameterValue(
                    f"The message attribute '{name}' with type 'String.Array' must be a JSON array."
                )
    if structure is not None:
        per_protocol(message, structure)


def fifo_ids(
    fifo: bool, content_dedup: bool, message: str, group_id: str | None, dedup_id: str | None
) -> tuple[str | None, str | None]:
    """(MessageGroupId, MessageDeduplicationId) of a publish: both for a FIFO topic (the
    deduplication id from the message's SHA-256 under content-based deduplication), neither
    for a standard one; InvalidParameter as SNS answers a publish that gets them wrong."""
    if not fifo:
        if group_id is not None or dedup_id is not None:
            raise InvalidParameter(
                "Invalid parameter: The request includes MessageGroupId or MessageDeduplicationId "
                "parameter that is not valid for this topic type"
            )
        return None, None
    if not group_id:
        raise InvalidParameter("Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    if not dedup_id:
        if not content_dedup:
            raise InvalidParameter(
                "Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
                "or MessageDeduplicationId provided explicitly"
            )
        dedup_id = hashlib.sha256(message.encode()).hexdigest()
    return group_id, dedup_id


def per_protocol(message: str, structure: str | None) -> dict[str, str]:
    """Under MessageStructure "json": the message for each protocol (and its "default")."""
    if structure is None:
        return {"default": message}
    if structure != "json":
        raise InvalidParameter("Invalid parameter: MessageStructure")
    try:
        parsed = json.loads(message)
    except ValueError:
        raise InvalidParameter(
            "Invalid parameter: Message Structure - JSON message body failed to parse"
        ) from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("default"), str):
        raise InvalidParameter("Invalid parameter: Message Structure - No default entry in JSON message body")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}


def for_protocol(messages: Mapping[str, str], protocol: str) -> str:
    return messages.get(protocol, messages["default"])


def event_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Message attributes as SNS's envelope and event carry them: {"k": {"Type", "Value"}}."""
    out: dict[str, dict[str, str]] = {}
    for name, attr in attributes.items():
        kind = str(attr.get("DataType"))
        if kind.startswith("Binary"):
            raw = attr.get("BinaryValue") or b""
            value = base64.b64encode(raw if isinstance(raw, bytes) else str(raw).encode()).decode()
        else:
            value = str(attr.get("StringValue"))
        out[name] = {"Type": kind, "Value": value}
    return out


def queue_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes carried over to a queue on raw delivery, in SQS's shape."""
    out: dict[str, dict[str, Any]] = {}
    for name, attr in attributes.items():
        kind = str(attr.get("DataType"))
        if kind.startswith("Binary"):
            out[name] = {"DataType": kind, "BinaryValue": attr.get("BinaryValue")}
        else:
            out[name] = {"DataType": kind, "StringValue": str(attr.get("StringValue"))}
    return out


def from_event_attributes(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """The inverse of `event_attributes`, in SQS's shape (Binary values decoded)."""
    out: dict[str, dict[str, Any]] = {}
    for name, attr in attributes.items():
        kind, value = attr["Type"], attr["Value"]
        if kind.startswith("Binary"):
            out[name] = {"DataType": kind, "BinaryValue": base64.b64decode(value)}
        else:
            out[name] = {"DataType": kind, "StringValue": value}
    return out


def notification(
    *,
    message_id: str,
    topic_arn: str,
    subject: str | None,
    message: str,
    timestamp: str,
    sequence: str | None = None,
) -> dict[str, str]:
    """The signed fields of a notification (the signature and URLs are added by the sender)."""
    out = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn}
    if subject is not None:
        out["Subject"] = subject
    out["Message"] = message
    out["Timestamp"] = timestamp
    if sequence is not None:
        out["SequenceNumber"] = sequence
    return out


def envelope(
    signed: Mapping[str, str],
    signature: str,
    cert_url: str,
    unsubscribe_url: str,
    attributes: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The JSON body a queue or an HTTP endpoint receives for a notification."""
    out: dict[str, Any] = {
        **signed,
        "SignatureVersion": "1",
        "Signature": signature,
        "SigningCertURL": cert_url,
        "UnsubscribeURL": unsubscribe_url,
    }
    if attributes:
        out["MessageAttributes"] = event_attributes(attributes)
    return out


def lambda_event(
    signed: Mapping[str, str],
    signature: str,
    cert_url: str,
    unsubscribe_url: str,
    attributes: Mapping[str, Mapping[str, Any]],
    subscription_arn: str,
) -> dict[str, Any]:
    """The event a function subscribed to a topic is invoked with."""
    sns: dict[str, Any] = {
        "Type": signed["Type"],
        "MessageId": signed["MessageId"],
        "TopicArn": signed["TopicArn"],
        "Subject": signed.get("Subject"),
        "Message": signed["Message"],
        "Timestamp": signed["Timestamp"],
        "SignatureVersion": "1",
        "Signature": signature,
        "SigningCertUrl": cert_url,
        "UnsubscribeUrl": unsubscribe_url,
        "MessageAttributes": event_attributes(attributes),
    }
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }
    return {"Records": [record]}


def http_headers(
    message_type: str, message_id: str, topic_arn: str, subscription_arn: str | None, raw: bool
) -> dict[str, str]:
    headers = {
        "x-amz-sns-message-type": message_type,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": topic_arn,
        "Content-Type": "text/plain; charset=UTF-8",
        "User-Agent": "Amazon Simple Notification Service Agent",
    }
    if subscription_arn is not None:
        headers["x-amz-sns-subscription-arn"] = subscription_arn
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    return headers
