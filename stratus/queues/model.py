"""The queue service's values: a queue as its owner holds it, and the answers of a send and a
receive, in the shapes the handlers hand to boto3's wire (frozen; the owner makes them)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def queue_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{name}"


def split_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of a queue ARN, or None when `arn` is not one."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not parts[3] or not parts[5]:
        return None
    return parts[3], parts[4], parts[5]


@dataclass(frozen=True)
class Queue:
    region: str
    name: str
    account_id: str
    # As GetQueueAttributes answers the settable ones, defaults filled; the counts and
    # timestamps are added by the handler.
    attributes: Mapping[str, str]
    tags: Mapping[str, str]
    created_ms: int
    modified_ms: int = 0

    @property
    def arn(self) -> str:
        return queue_arn(self.region, self.account_id, self.name)

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoQueue") == "true"

    @property
    def visibility_timeout_s(self) -> int:
        return int(self.attributes["VisibilityTimeout"])

    @property
    def delay_s(self) -> int:
        return int(self.attributes["DelaySeconds"])

    @property
    def retention_s(self) -> int:
        return int(self.attributes["MessageRetentionPeriod"])

    @property
    def max_message_size(self) -> int:
        return int(self.attributes["MaximumMessageSize"])

    @property
    def wait_s(self) -> int:
        return int(self.attributes["ReceiveMessageWaitTimeSeconds"])

    @property
    def content_dedup(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def redrive(self) -> tuple[str, int] | None:
        """(dead-letter target ARN, maxReceiveCount), when the queue has a RedrivePolicy."""
        text = self.attributes.get("RedrivePolicy")
        if not text:
            return None
        policy = json.loads(text)
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])


@dataclass(frozen=True)
class Sent:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    sequence_number: str | None  # FIFO only


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    # Every system attribute (SenderId, SentTimestamp, ApproximateReceiveCount,
    # ApproximateFirstReceiveTimestamp, and for FIFO MessageGroupId, MessageDeduplicationId,
    # SequenceNumber); the API keeps those the caller asked for.
    attributes: Mapping[str, str]
    # boto3's shape: {"k": {"DataType": "String", "StringValue": "v"}} (BinaryValue as bytes).
    message_attributes: Mapping[str, Mapping[str, Any]]
    md5_of_message_attributes: str | None


@dataclass(frozen=True)
class Depth:
    visible: int
    in_flight: int
    delayed: int


@dataclass(frozen=True)
class MoveTask:
    """A StartMessageMoveTask as ListMessageMoveTasks shows it."""

    handle: str
    source_arn: str
    destination_arn: str | None
    rate: int | None  # MaxNumberOfMessagesPerSecond
    started_ms: int
    to_move: int
    moved: int = 0
    status: str = "RUNNING"  # RUNNING | COMPLETED | CANCELLING | CANCELLED | FAILED
    failure: str | None = None
