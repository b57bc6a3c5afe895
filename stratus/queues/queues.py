"""`Queues`: the one owner of queues.db. Queue definitions live in memory (read with no I/O)
and in the store; messages only in the store, written through the committer's group commit so
that a send returns once its row is durable and concurrent sends share one fsync.

Long polls wait on an in-memory wakeup per queue (set when a send, a visibility change, a
delete in a FIFO group or a move makes a message visible), with a timer for the earliest
message still hidden (delayed, or in flight until its visibility timeout ends); nothing polls."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from stratus.queues import attributes as attrs
from stratus.queues import catalog, choosing
from stratus.queues import messages as checks
from stratus.queues.digest import content_dedup_id, md5_of_attributes, md5_of_body
from stratus.queues.errors import (
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    PurgeQueueInProgress,
    QueueDoesNotExist,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from stratus.queues.metrics import QueueMetrics
from stratus.queues.model import Depth, Queue, Received, Sent, queue_arn, split_arn
from stratus.queues.moving import MoveTasks
from stratus.store.committer import Committer

DEDUP_WINDOW_MS = 5 * 60 * 1000
SWEEP_S = 1.0  # how often expired messages and deduplication ids are dropped
PURGE_QUIET_S = 60  # SQS refuses a second PurgeQueue within 60 seconds
SCAN = 1000  # rows a FIFO receive reads ahead to find groups it may take


class Queues:
    def __init__(
        self,
        path: Path,
        account_id: str,
        *,
        clock: Callable[[], float] = time.time,
        metrics: QueueMetrics | None = None,
    ) -> None:
        self.account_id = account_id
        self._clock = clock
        self._metrics = metrics
        self._db = Committer(path, "queues", catalog.SCHEMA)
        self._queues: dict[str, Queue] = {q.arn: q for q in catalog.load_queues(self._db.conn)}
        self._arrivals: dict[str, asyncio.Event] = {}
        self._purged: dict[str, float] = {}
        # Queue definitions change one at a time: each reads the queue, writes its new version
        # across an await, then keeps it; two overlapping changes would otherwise lose one
        # (Terraform sets a queue's policy and its redrive-allow policy at once).
        self._defining = asyncio.Lock()
        self.moves = MoveTasks(self)

    def close(self) -> None:
        self._db.close()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- queues ------------------------------------------------------------------------------

    def find(self, arn: str) -> Queue | None:
        return self._queues.get(arn)

    def require(self, arn: str) -> Queue:
        queue = self._queues.get(arn)
        if queue is None:
            raise QueueDoesNotExist()
        return queue

    def listed(self, region: str, prefix: str = "") -> list[Queue]:
        return sorted(
            (q for q in self._queues.values() if q.region == region and q.name.startswith(prefix)),
            key=lambda q: q.name,
        )

    def dead_letter_sources(self, arn: str) -> list[Queue]:
        return sorted(
            (q for q in self._queues.values() if q.redrive is not None and q.redrive[0] == arn),
            key=lambda q: q.name,
        )

    def _check_redrive(self, source_arn: str, fifo: bool, settings: Mapping[str, str]) -> None:
        policy = settings.get("RedrivePolicy")
        if not policy:
            return
        target = json.loads(policy)["deadLetterTargetArn"]
        dead = self._queues.get(target)
        reason = None
        where, here = split_arn(target), split_arn(source_arn)
        if dead is None or where is None or here is None or where[:2] != here[:2]:
            reason = "Dead letter target does not exist."
        elif dead.fifo != fifo:
            reason = "Dead-letter queue must be of the same type (standard or FIFO) as the source queue."
        elif not attrs.allows_source(dead.attributes.get("RedriveAllowPolicy"), source_arn):
            reason = "Queue ARN is not allowed by the dead-letter queue's RedriveAllowPolicy."
        if reason:
            raise InvalidParameterValue(
                f"Value {policy} for parameter RedrivePolicy is invalid. Reason: {reason}"
            )

    async def create(
        self, region: str, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Queue:
        async with self._defining:
            return await self._create(region, name, attributes, tags)

    async def _create(
        self, region: str, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Queue:
        fifo = attributes.get("FifoQueue", "false").strip().lower() == "true"
        given = attrs.checked(attributes, fifo, creating=True)
        arn = queue_arn(region, self.account_id, name)
        existing = self._queues.get(arn)
        if existing is not None:
            if not attrs.same(existing.attributes, given):
                raise QueueNameExists(
                    "A queue already exists with the same name and a different value for attribute(s) "
                    f"{', '.join(sorted(given))}."
                )
            return existing
        self._check_redrive(arn, fifo, given)
        now = self.now_ms()
        queue = Queue(
            region, name, self.account_id, attrs.apply(attrs.defaults(fifo), given), dict(tags), now, now
        )
        await self._db.change(lambda c: catalog.put_queue(c, queue))
        self._queues[arn] = queue
        return queue

    async def set_attributes(self, arn: str, changes: Mapping[str, str]) -> Queue:
        async with self._defining:
            queue = self.require(arn)
            given = attrs.checked(changes, queue.fifo, creating=False)
            self._check_redrive(arn, queue.fifo, given)
            updated = replace(
                queue, attributes=attrs.apply(queue.attributes, given), modified_ms=self.now_ms()
            )
            await self._db.change(lambda c: catalog.put_queue(c, updated))
            self._queues[arn] = updated
        self._wake(arn)  # a shorter delay or wait may free a long poll sooner
        return updated

    async def set_tags(self, arn: str, tags: Mapping[str, str], removed: Sequence[str] = ()) -> None:
        async with self._defining:
            queue = self.require(arn)
            merged = {k: v for k, v in {**queue.tags, **tags}.items() if k not in removed}
            updated = replace(queue, tags=merged)
            await self._db.change(lambda c: catalog.put_queue(c, updated))
            self._queues[arn] = updated

    async def delete_queue(self, arn: str) -> None:
        async with self._defining:
            self.require(arn)
            await self._db.change(lambda c: catalog.delete_queue(c, arn))
            self._queues.pop(arn, None)
        self._wake(arn)

    async def purge(self, arn: str) -> None:
        self.require(arn)
        last = self._purged.get(arn)
        now = self._clock()
        if last is not None and now - last < PURGE_QUIET_S:
            raise PurgeQueueInProgress(
                f"Only one PurgeQueue operation on {arn.rsplit(':', 1)[1]} is allowed every 60 seconds."
            )
        self._purged[arn] = now
        await self._db.change(lambda c: catalog.purge(c, arn))

    # -- messages ----------------------------------------------------------------------------

    def _wake(self, arn: str) -> None:
        event = self._arrivals.pop(arn, None)
        if event is not None:
            event.set()

    async def send(
        self,
        arn: str,
        body: str,
        *,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        delay_s: int | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
        sender_id: str | None = None,
    ) -> Sent:
        queue = self.require(arn)
        attributes = message_attributes or {}
        checks.check_body(body)
        checks.check_attributes(attributes)
        checks.check_size(body, attributes, queue.max_message_size)
        key: str | None = None
        if queue.fifo:
            if group_id is None:
                raise MissingParameter("The request must contain the parameter MessageGroupId.")
            checks.check_fifo_id("MessageGroupId", group_id)
            if delay_s:
                raise InvalidParameterValue(
                    f"Value {delay_s} for parameter DelaySeconds is invalid. Reason: The request "
                    "include parameter "
                    "that is not valid for this queue type."
                )
            if dedup_id is None:
                if not queue.content_dedup:
                    raise InvalidParameterValue(
                        "The queue should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                dedup_id = content_dedup_id(body)
            checks.check_fifo_id("MessageDeduplicationId", dedup_id)
            scoped = queue.attributes.get("DeduplicationScope") == "messageGroup"
            key = f"{group_id}\x00{dedup_id}" if scoped else dedup_id
        else:
            if dedup_id is not None:
                raise InvalidParameterValue(
                    "The request include parameter MessageDeduplicationId that is not valid for this "
                    "queue type"
                )
            if delay_s is not None and not 0 <= delay_s <= 900:
                raise InvalidParameterValue(
                    f"Value {delay_s} for parameter DelaySeconds is invalid. Reason: must be between 0 "
                    "and 900, if provided."
                )
        now = self.now_ms()
        delay = queue.delay_s if delay_s is None else delay_s
        md5_attrs = md5_of_attributes(attributes)
        message = catalog.NewMessage(
            queue=arn,
            message_id=str(uuid.uuid4()),
            body=body,
            attributes=json.dumps(checks.stored(attributes)) if attributes else None,
            md5_attributes=md5_attrs,
            sent_ms=now,
            visible_ms=now + delay * 1000,
            group_id=group_id,
            dedup_id=dedup_id,
            sender_id=sender_id or self.account_id,
        )

        def write(conn: sqlite3.Connection) -> tuple[str, str | None]:
            if key is not None:
                seen = catalog.deduplicated(conn, arn, key, now)
                if seen is not None:
                    return seen[0], seen[1]
            row_id = catalog.insert(conn, message)
            sequence = catalog.sequence_number(row_id) if row_id is not None else None
            if key is not None:
                catalog.remember(conn, arn, key, message.message_id, sequence, now + DEDUP_WINDOW_MS)
            return message.message_id, sequence

        message_id, sequence = await self._db.change(write)
        if delay == 0:
            self._wake(arn)
        if self._metrics is not None:
            self._metrics.sent(queue, [len(body.encode())])
        return Sent(message_id, md5_of_body(body), md5_attrs, sequence)

    async def receive(
        self,
        arn: str,
        max_messages: int,
        *,
        visibility_timeout_s: int | None = None,
        wait_s: float = 0.0,
    ) -> list[Received]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, wait_s)
        while True:
            queue = self.require(arn)
            arrived = self._arrivals.setdefault(arn, asyncio.Event())  # before the read: no lost wakeup
            found, next_ms = await self._receive_once(queue, max_messages, visibility_timeout_s)
            left = deadline - loop.time()
            if found or left <= 0:
                if self._metrics is not None:
                    self._metrics.received(queue, len(found))
                return found
            if next_ms is not None:
                left = min(left, max(0.0, (next_ms - self.now_ms()) / 1000) + 0.001)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)

    async def _receive_once(
        self, queue: Queue, max_messages: int, visibility_timeout_s: int | None
    ) -> tuple[list[Received], int | None]:
        arn = queue.arn
        redrive = queue.redrive
        dead_letter = redrive[0] if redrive and redrive[0] in self._queues else None
        max_receive = redrive[1] if redrive and dead_letter else None
        visibility = queue.visibility_timeout_s if visibility_timeout_s is None else visibility_timeout_s
        nonce = secrets.token_hex(8)

        def take(conn: sqlite3.Connection) -> tuple[list[catalog.Row], int | None, int, bool]:
            now = self.now_ms()
            rows = catalog.candidates(conn, arn, now, queue.fifo, SCAN if queue.fifo else max_messages + 50)
            plan = choosing.plan(
                rows,
                max_messages,
                now,
                fifo=queue.fifo,
                retention_s=queue.retention_s,
                max_receive=max_receive,
            )
            catalog.delete_ids(conn, plan.expired)
            if plan.to_dead_letter and dead_letter is not None:
                catalog.move(conn, plan.to_dead_letter, dead_letter, now, source=arn, reset=False)
            leased = catalog.lease(conn, plan.deliver, nonce, now + visibility * 1000, now)
            hidden = (
                choosing.next_visible(rows, now) if queue.fifo else catalog.earliest_hidden(conn, arn, now)
            )
            return leased, hidden, now, bool(plan.to_dead_letter)

        leased, hidden, now, moved = await self._db.change(take)
        if moved and dead_letter is not None:
            self._wake(dead_letter)
        return [self._received(queue, row, nonce, now) for row in leased], hidden

    def _received(self, queue: Queue, row: catalog.Row, nonce: str, now: int) -> Received:
        system = {
            "SenderId": row.sender_id or self.account_id,
            "SentTimestamp": str(row.sent_ms),
            "ApproximateReceiveCount": str(row.receive_count),
            "ApproximateFirstReceiveTimestamp": str(row.first_receive_ms or now),
        }
        if row.group_id is not None:
            system["MessageGroupId"] = row.group_id
            system["SequenceNumber"] = catalog.sequence_number(row.id)
        if row.dedup_id is not None:
            system["MessageDeduplicationId"] = row.dedup_id
        stored = json.loads(row.attributes) if row.attributes else {}
        return Received(
            message_id=row.message_id,
            receipt_handle=receipt_handle(row.id, nonce),
            body=row.body,
            md5_of_body=md5_of_body(row.body),
            attributes=system,
            message_attributes=checks.loaded(stored),
            md5_of_message_attributes=row.md5_attributes,
        )

    async def delete(self, arn: str, receipt_handles: Sequence[str]) -> list[str | None]:
        queue = self.require(arn)
        parsed: list[tuple[int, str] | None] = [parse_handle(h) for h in receipt_handles]

        def remove(conn: sqlite3.Connection) -> None:
            for handle in parsed:
                if handle is not None:
                    # A handle whose lease has passed to a later receive deletes nothing: the
                    # message is that receive's now. SQS answers success either way.
                    catalog.delete_leased(conn, arn, handle[0], handle[1])

        if any(p is not None for p in parsed):
            await self._db.change(remove)
            if queue.fifo:
                self._wake(arn)  # the group's next message may be taken now
            if self._metrics is not None:
                self._metrics.deleted(queue, sum(p is not None for p in parsed))
        return [None if p is not None else "ReceiptHandleIsInvalid" for p in parsed]

    async def change_visibility(self, arn: str, receipt_handle: str, timeout_s: int) -> None:
        self.require(arn)
        handle = parse_handle(receipt_handle)
        if handle is None:
            raise ReceiptHandleIsInvalid(
                f'The input receipt handle "{receipt_handle}" is not a valid receipt handle.'
            )
        if not 0 <= timeout_s <= 43_200:
            raise InvalidParameterValue(
                f"Value {timeout_s} for parameter VisibilityTimeout is invalid. Reason: Must be between "
                "0 and 43200."
            )
        row_id, nonce = handle

        def change(conn: sqlite3.Connection) -> str | None:
            now = self.now_ms()
            until = catalog.leased_until(conn, arn, row_id, nonce)
            if until is None:
                return "gone"
            if until <= now:
                return "visible"
            catalog.set_visibility(conn, arn, row_id, nonce, now + timeout_s * 1000)
            return None

        outcome = await self._db.change(change)
        if outcome == "gone":
            raise InvalidParameterValue(
                f"Value {receipt_handle} for parameter ReceiptHandle is invalid. Reason: Message does "
                "not exist or "
                "is not available for visibility timeout change."
            )
        if outcome == "visible":
            raise MessageNotInflight("The message referred to isn't in flight.")
        if timeout_s == 0:
            self._wake(arn)

    async def depth(self, arn: str) -> Depth:
        self.require(arn)
        now = self.now_ms()
        return await self._db.read(lambda c: catalog.depth(c, arn, now))

    # -- for the move tasks ------------------------------------------------------------------

    async def move_batch(self, source: str, destination: str | None, limit: int) -> tuple[int, bool]:
        """Moves up to `limit` visible messages of dead-letter queue `source` back to the queue
        each came from (or to `destination`): (how many moved, whether one had nowhere to go)."""

        def shift(conn: sqlite3.Connection) -> tuple[int, bool, set[str]]:
            now = self.now_ms()
            moved, stuck, woken = 0, False, set()
            for row_id, came_from in catalog.movable(conn, source, now, limit):
                target = destination or came_from
                if target is None or target not in self._queues:
                    stuck = True
                    break
                catalog.move(conn, [row_id], target, now, source=None, reset=True)
                moved += 1
                woken.add(target)
            return moved, stuck, woken

        moved, stuck, woken = await self._db.change(shift)
        for arn in woken:
            self._wake(arn)
        return moved, stuck

    async def count(self, arn: str) -> int:
        return await self._db.read(lambda c: catalog.count(c, arn))

    # -- background --------------------------------------------------------------------------

    async def run(self) -> None:
        """Drops messages past their queue's retention and stale deduplication ids, and runs the
        message move tasks; returns only when cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.moves.run())
            if self._metrics is not None:
                tasks.create_task(self._gauge_every_minute(self._metrics))
            while True:
                await asyncio.sleep(SWEEP_S)
                await self.sweep()

    async def _gauge_every_minute(self, metrics: QueueMetrics) -> None:
        """Each queue's depth and the age of its oldest message, once a minute (as SQS reports
        its Approximate* metrics)."""
        while True:
            now = self.now_ms()
            for queue in list(self._queues.values()):
                depth, oldest = await self._db.read(functools.partial(_gauges, arn=queue.arn, now_ms=now))
                metrics.gauges(queue, depth, None if oldest is None else max(0.0, (now - oldest) / 1000))
            await asyncio.sleep(60 - (self._clock() % 60))

    async def sweep(self) -> None:
        now = self.now_ms()
        horizons = [(q.arn, now - q.retention_s * 1000) for q in self._queues.values()]

        def drop(conn: sqlite3.Connection) -> None:
            for arn, before in horizons:
                catalog.expire(conn, arn, before)
            catalog.forget_dedup(conn, now)

        await self._db.change(drop)


def _gauges(conn: sqlite3.Connection, *, arn: str, now_ms: int) -> tuple[Depth, int | None]:
    return catalog.depth(conn, arn, now_ms), catalog.oldest_sent_ms(conn, arn)


def receipt_handle(row_id: int, nonce: str) -> str:
    """A receipt handle names the message and the receive's lease (its nonce)."""
    return base64.urlsafe_b64encode(f"{row_id}:{nonce}:{secrets.token_hex(4)}".encode()).decode()


def parse_handle(handle: str) -> tuple[int, str] | None:
    try:
        text = base64.urlsafe_b64decode(handle.encode()).decode()
        row_id, nonce, _ = text.split(":")
        return int(row_id), nonce
    except (ValueError, binascii.Error, UnicodeError):
        return None
