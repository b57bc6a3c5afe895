"""What to do with a batch after the function ran (pure), for queue and stream semantics.

Queues (SQS): a success deletes the batch; a function error or timeout deletes nothing (the
messages come back after the visibility timeout, and the queue's redrive policy moves them to
its dead-letter queue); with ReportBatchItemFailures only the reported messages stay. Lambda
takes the whole batch as failed when the response names an item that is not in the batch, or
names it with a null, empty or missing itemIdentifier, or is not valid JSON; as a success when
batchItemFailures is empty, null, or the response is empty or null.

Streams (DynamoDB Streams, Kinesis): records stay in order, so a failure blocks the shard. The
batch is retried until MaximumRetryAttempts; with BisectBatchOnFunctionError it is split in
two first (a bisect does not use up a retry); exhausted or too old records go to the OnFailure
destination and the shard moves on. With ReportBatchItemFailures the checkpoint moves to just
before the lowest failed sequence number and only the rest is retried.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

OutcomeKind = Literal["ok", "error", "throttled"]


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    payload: bytes = b""  # the function's response (for ReportBatchItemFailures)


def reported_failures(payload: bytes, item_ids: Sequence[str]) -> tuple[str, ...] | None:
    """The itemIdentifiers a partial batch response reports, in batch order; None when the
    response is invalid (the whole batch then failed)."""
    text = payload.strip()
    if not text or text == b"null":
        return ()
    try:
        response: Any = json.loads(text)
    except ValueError:
        return None
    if response is None:
        return ()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return ()
    if not isinstance(failures, list):
        return None
    known = set(item_ids)
    named: set[str] = set()
    for failure in failures:
        if not isinstance(failure, dict):
            return None
        item = failure.get("itemIdentifier")
        if not isinstance(item, str) or not item or item not in known:
            return None
        named.add(item)
    return tuple(i for i in item_ids if i in named)


@dataclass(frozen=True)
class QueueDecision:
    ack: tuple[int, ...]  # indexes into the batch to delete
    release: tuple[int, ...]  # indexes left to come back after the visibility timeout


def decide_queue(outcome: Outcome, item_ids: Sequence[str], report_failures: bool) -> QueueDecision:
    everyone = tuple(range(len(item_ids)))
    if outcome.kind == "ok":
        if not report_failures:
            return QueueDecision(ack=everyone, release=())
        failed = reported_failures(outcome.payload, item_ids)
        if failed is None:
            return QueueDecision(ack=(), release=everyone)
        keep = set(failed)
        return QueueDecision(
            ack=tuple(i for i, item in enumerate(item_ids) if item not in keep),
            release=tuple(i for i, item in enumerate(item_ids) if item in keep),
        )
    return QueueDecision(ack=(), release=everyone)


@dataclass(frozen=True)
class StreamDecision:
    """After one invoke of records [start, end) of a shard's held records."""

    checkpoint: int  # records before this index are done (processed or given up)
    retry: tuple[int, int] | None  # the range to invoke next, or None to read on
    attempts: int  # retries already spent on `retry`
    on_failure: tuple[int, int] | None = None  # a range given up: sent to OnFailure
    halves: tuple[tuple[int, int], ...] = ()  # bisected ranges still to run after `retry`


def decide_stream(
    outcome: Outcome,
    start: int,
    end: int,
    item_ids: Sequence[str],
    attempts: int,
    *,
    max_retries: int,
    bisect: bool,
    report_failures: bool,
) -> StreamDecision:
    """`item_ids` are the sequence numbers of records [start, end); `attempts` the retries
    already spent on this range. Throttles retry without spending an attempt."""
    if outcome.kind == "throttled":
        return StreamDecision(checkpoint=start, retry=(start, end), attempts=attempts)
    if outcome.kind == "ok":
        if not report_failures:
            return StreamDecision(checkpoint=end, retry=None, attempts=0)
        failed = reported_failures(outcome.payload, item_ids)
        if failed == ():
            return StreamDecision(checkpoint=end, retry=None, attempts=0)
        if failed is not None:
            # Lambda checkpoints before the lowest failed record and retries from there.
            first = start + min(item_ids.index(f) for f in failed)
            if first > start:
                return StreamDecision(checkpoint=first, retry=(first, end), attempts=0)
        # An invalid response, or the first record failed: the whole range failed.
    if bisect and end - start > 1:
        middle = start + (end - start + 1) // 2
        return StreamDecision(
            checkpoint=start, retry=(start, middle), attempts=attempts, halves=((middle, end),)
        )
    if max_retries >= 0 and attempts >= max_retries:
        return StreamDecision(checkpoint=end, retry=None, attempts=0, on_failure=(start, end))
    return StreamDecision(checkpoint=start, retry=(start, end), attempts=attempts + 1)


def too_old(sent_ms: int, now_ms: int, max_age_s: int) -> bool:
    """Whether a stream record is past MaximumRecordAgeInSeconds (-1: never)."""
    return max_age_s >= 0 and now_ms - sent_ms > max_age_s * 1000
