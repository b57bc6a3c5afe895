"""Sending (one message or a batch's entries) and the checks every batch request shares: at
least one entry, at most ten, distinct ids of SQS's form, and a batch's total size."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from stratus.queues.digest import attributes_size, md5_of_attributes
from stratus.queues.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    SqsError,
    TooManyEntriesInBatchRequest,
)
from stratus.queues.model import Queue
from stratus.queues.queues import Queues

MAX_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576  # a batch's messages together, as a single message's maximum
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_entries(entries: Sequence[Mapping[str, Any]]) -> None:
    if not entries:
        raise EmptyBatchRequest("There should be at least one SendMessageBatchRequestEntry in the request.")
    if len(entries) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_ENTRIES}. You have sent {len(entries)}."
        )
    ids = [str(e.get("Id", "")) for e in entries]
    for entry_id in ids:
        if not _ENTRY_ID.match(entry_id):
            raise InvalidBatchEntryId(
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                "It can be at most 80 letters long."
            )
    if len(set(ids)) != len(ids):
        duplicate = next(i for i in ids if ids.count(i) > 1)
        raise BatchEntryIdsNotDistinct(f"Id {duplicate} repeated.")


def check_batch_size(entries: Sequence[Mapping[str, Any]]) -> None:
    total = sum(
        len(str(e.get("MessageBody", "")).encode()) + attributes_size(e.get("MessageAttributes") or {})
        for e in entries
    )
    if total > MAX_BATCH_BYTES:
        raise BatchRequestTooLong(
            f"Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."
        )


async def send_one(queues: Queues, queue: Queue, params: Mapping[str, Any]) -> dict[str, Any]:
    """SendMessage's answer (a batch entry's too, less its Id)."""
    delay = params.get("DelaySeconds")
    sent = await queues.send(
        queue.arn,
        str(params.get("MessageBody", "")),
        message_attributes=params.get("MessageAttributes") or None,
        delay_s=None if delay is None else int(delay),
        group_id=params.get("MessageGroupId"),
        dedup_id=params.get("MessageDeduplicationId"),
    )
    out: dict[str, Any] = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        out["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    system = params.get("MessageSystemAttributes")
    if system:  # AWSTraceHeader: accepted and digested as SQS does, not kept
        digest = md5_of_attributes(system)
        if digest:
            out["MD5OfMessageSystemAttributes"] = digest
    if sent.sequence_number:
        out["SequenceNumber"] = sent.sequence_number
    return out


def answer(entries: Sequence[Mapping[str, Any]], outcomes: Sequence[Any]) -> dict[str, Any]:
    """A batch's Successful and Failed entries; an error not of the sender's making fails the
    whole request."""
    successful: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for entry, outcome in zip(entries, outcomes, strict=True):
        if isinstance(outcome, SqsError):
            failed.append(
                {"Id": entry["Id"], "SenderFault": True, "Code": outcome.code, "Message": outcome.message}
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            successful.append({"Id": entry["Id"], **outcome})
    return {"Successful": successful, "Failed": failed}
