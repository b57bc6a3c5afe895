"""SQS as an event source: the SourceKind the event source mapping machine reads queues with,
and the SQS event Lambda hands a function (Records[] of messageId, receiptHandle, body,
attributes, messageAttributes, md5OfBody, md5OfMessageAttributes, eventSource "aws:sqs",
eventSourceARN, awsRegion; message attribute members in lower camel case, binary values in
base64, as Lambda's documented event shows them)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from stratus.errors import InvalidParameterValue
from stratus.eventsources.filtering import body_view
from stratus.eventsources.model import EventSourceMapping, MappingConfig
from stratus.eventsources.source import Record, Semantics
from stratus.queues.model import Depth, Queue, Received

FIFO_MAX_BATCH = 10


class QueueOwner(Protocol):
    """What the source needs of `Queues` (a fake in the unit tests)."""

    def find(self, arn: str) -> Queue | None: ...

    async def receive(
        self, arn: str, max_messages: int, *, visibility_timeout_s: int | None = None, wait_s: float = 0.0
    ) -> list[Received]: ...

    async def delete(self, arn: str, receipt_handles: Sequence[str]) -> list[str | None]: ...

    async def depth(self, arn: str) -> Depth: ...


def _value(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes | bytearray) else str(value)


def message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """boto3's message attribute shape as Lambda's SQS event spells it."""
    shaped: dict[str, dict[str, Any]] = {}
    for name, attribute in attributes.items():
        entry: dict[str, Any] = {
            "stringListValues": [str(v) for v in attribute.get("StringListValues", [])],
            "binaryListValues": [_value(v) for v in attribute.get("BinaryListValues", [])],
            "dataType": attribute.get("DataType", "String"),
        }
        if "StringValue" in attribute:
            entry["stringValue"] = str(attribute["StringValue"])
        if "BinaryValue" in attribute:
            entry["binaryValue"] = _value(attribute["BinaryValue"])
        shaped[name] = entry
    return shaped


def sqs_record(message: Received, queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": dict(message.attributes),
        "messageAttributes": message_attributes(message.message_attributes),
        "md5OfBody": message.md5_of_body,
    }
    if message.md5_of_message_attributes:
        record["md5OfMessageAttributes"] = message.md5_of_message_attributes
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = region
    return record


def to_record(message: Received, queue_arn: str, region: str) -> Record:
    event = sqs_record(message, queue_arn, region)
    view = {**event, "body": body_view(message.body)}
    try:
        sent_ms = int(message.attributes.get("SentTimestamp", "0"))
    except ValueError:
        sent_ms = 0
    return Record(
        key=message.receipt_handle,
        item_id=message.message_id,
        event=event,
        size=len(json.dumps(event, separators=(",", ":"))),
        view=view,
        sent_ms=sent_ms,
    )


class SqsReader:
    """One mapping's reads of one queue: receives lease messages for the queue's visibility
    timeout; ack deletes them; release leaves them to come back when it runs out (and the
    queue's redrive policy to move them to its dead-letter queue)."""

    def __init__(self, queues: QueueOwner, arn: str, region: str) -> None:
        self._queues = queues
        self._arn = arn
        self._region = region

    @property
    def hold_s(self) -> float:
        queue = self._queues.find(self._arn)
        return float(queue.visibility_timeout_s) if queue is not None else 30.0

    async def read(self, max_records: int, wait_s: float) -> list[Record]:
        messages = await self._queues.receive(self._arn, max_records, wait_s=wait_s)
        return [to_record(m, self._arn, self._region) for m in messages]

    async def ack(self, records: Sequence[Record]) -> None:
        if records:
            await self._queues.delete(self._arn, [r.key for r in records])

    async def release(self, records: Sequence[Record]) -> None:
        return None  # they come back after the visibility timeout, as on Lambda

    async def backlog(self) -> int:
        return (await self._queues.depth(self._arn)).visible


class SqsSource:
    prefix: str = "sqs"
    semantics: Semantics = "queue"
    permissions: tuple[str, ...] = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

    def __init__(self, queues: QueueOwner) -> None:
        self._queues = queues

    def exists(self, arn: str) -> bool:
        return self._queues.find(arn) is not None

    def check(self, arn: str, config: MappingConfig, function_timeout_s: int) -> None:
        queue = self._queues.find(arn)
        if queue is None:
            raise InvalidParameterValue(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: "
                "The specified queue does not exist for this wsdl version."
            )
        if queue.visibility_timeout_s < function_timeout_s:
            raise InvalidParameterValue(
                f"Queue visibility timeout: {queue.visibility_timeout_s} seconds is less than "
                f"Function timeout: {function_timeout_s} seconds"
            )
        if queue.fifo and config.batch_size > FIFO_MAX_BATCH:
            raise InvalidParameterValue(
                f"BatchSize must be less than or equal to {FIFO_MAX_BATCH} for FIFO queues."
            )
        if queue.fifo and config.window_s:
            raise InvalidParameterValue("Batching window is not supported for FIFO queues.")

    def open(self, mapping: EventSourceMapping) -> SqsReader:
        return SqsReader(self._queues, mapping.source_arn, mapping.region)

    def payload(self, records: Sequence[Record]) -> dict[str, Any]:
        return {"Records": [dict(r.event) for r in records]}
