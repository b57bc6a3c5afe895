"""The one owner of topics.db: topics, subscriptions, FIFO deduplication ids and the outbox of
HTTP deliveries.

State is held in memory (read without I/O) and written through on ONE worker thread, each change
in its own transaction before memory changes. Publish fans out (fanout.py) to every confirmed
subscription whose filter policy lets the message through, and returns only once each delivery
is durable: a function's in the async queue, a queue's in the queue, an endpoint's in the
outbox, which the deliverer (delivery.py) drains with retries and backoff; what cannot be
delivered goes to the subscription's dead-letter queue.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import secrets
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from stratus.store.diskfull import writing
from stratus.store.sqlite import connect, transaction
from stratus.topics import fanout, guard, messages, outbox, redrive, rows
from stratus.topics.delivery import Deliverer, InvokeAsync, SendToQueue
from stratus.topics.errors import InvalidParameter, NotFound
from stratus.topics.model import Subscription, Topic, compile_filter, topic_arn
from stratus.topics.signing import Signer

T = TypeVar("T")

DEDUP_WINDOW_S = 300
CERT_PATH = "/_stratus/webhooks/sns/SimpleNotificationService.pem"
CALLBACK_PATH = "/_stratus/webhooks/sns/"

__all__ = ["CALLBACK_PATH", "CERT_PATH", "InvokeAsync", "SendToQueue", "Topics"]


def timestamp(now: float) -> str:
    return datetime.datetime.fromtimestamp(now, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Topics:
    def __init__(
        self,
        path: Path,
        account_id: str,
        *,
        invoke_async: InvokeAsync,
        send_to_queue: SendToQueue | None,
        may_invoke: Callable[[str, str, str], bool],
        endpoint: str,
        queue_exists: Callable[[str], bool] = lambda arn: True,
        may_send_to_queue: Callable[[str, str], bool] = lambda queue_arn, topic_arn: True,
        clock: Callable[[], float] = time.time,
        allow_loopback: bool = False,
    ) -> None:
        self.account_id = account_id
        # STRATUS_SNS_ALLOW_LOOPBACK: HTTP(S) endpoints on loopback, link-local and the host's
        # own addresses are allowed (local development); else refused (endpoints.py).
        self._allow_loopback = allow_loopback
        self.endpoint = endpoint.rstrip("/")
        self._queue_exists = queue_exists  # a RedrivePolicy must name a queue that exists
        self._clock = clock
        with writing():
            self._conn = connect(path)
            self._conn.executescript(rows.SCHEMA + outbox.SCHEMA)
            outbox.migrate(self._conn)
            self.signer = Signer(path.parent)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="topics")
        self._topics = {t.arn: t for t in rows.load_topics(self._conn, account_id)}
        self._subs = {s.arn: s for s in rows.load_subscriptions(self._conn)}
        # FIFO topics' deduplication ids inside their window: (topic, id) -> (message id, expiry).
        self._dedup = rows.load_dedup(self._conn, int(clock() * 1000))
        # One FIFO publish at a time per topic: sequence numbers, deduplication and the order
        # messages reach FIFO queues follow the order of the publishes.
        self._fifo_locks: dict[str, asyncio.Lock] = {}
        # Topics and subscriptions change one at a time: each reads, writes across an await,
        # then keeps its version; two overlapping changes would otherwise lose one (or subscribe
        # the same endpoint twice).
        self._defining = asyncio.Lock()
        self.deliverer = Deliverer(
            self._sql,
            self._subs.get,
            invoke_async=invoke_async,
            send_to_queue=send_to_queue,
            may_invoke=may_invoke,
            clock=clock,
            may_send=may_send_to_queue,
            allow_loopback=allow_loopback,
        )

    def close(self) -> None:
        self._db.shutdown(wait=True)
        self._conn.close()

    async def run(self) -> None:
        """HTTP deliveries from the outbox, until cancelled."""
        await self.deliverer.run()

    async def _sql(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with writing(), transaction(self._conn):
                return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._db, run)

    # -- reading (memory) --

    def find(self, arn: str) -> Topic | None:
        return self._topics.get(arn)

    def topic(self, arn: str) -> Topic:
        found = self._topics.get(arn)
        if found is None:
            raise NotFound("Topic does not exist")
        return found

    def topics(self, region: str) -> list[Topic]:
        return sorted((t for t in self._topics.values() if t.region == region), key=lambda t: t.arn)

    def subscription(self, arn: str) -> Subscription:
        found = self._subs.get(arn)
        if found is None:
            raise NotFound("Subscription does not exist")
        return found

    def subscriptions(self, region: str, topic: str | None = None) -> list[Subscription]:
        return sorted(
            (
                s
                for s in self._subs.values()
                if (topic is None or s.topic_arn == topic)
                and self._topics.get(s.topic_arn, None) is not None
                and self._topics[s.topic_arn].region == region
            ),
            key=lambda s: (s.topic_arn, s.created_ms, s.arn),
        )

    def counts(self, arn: str) -> tuple[int, int]:
        subs = [s for s in self._subs.values() if s.topic_arn == arn]
        return sum(s.confirmed for s in subs), sum(not s.confirmed for s in subs)

    # -- topics --

    async def create_topic(
        self, region: str, name: str, attributes: Mapping[str, str], tags: Mapping[str, str]
    ) -> Topic:
        async with self._defining:
            arn = topic_arn(region, self.account_id, name)
            existing = self._topics.get(arn)
            if existing is not None:
                # Idempotent, as SNS is, unless the attributes asked for differ.
                for key, value in attributes.items():
                    if (
                        existing.attributes.get(
                            key, "false" if key in ("FifoTopic", "ContentBasedDeduplication") else ""
                        )
                        != value
                    ):
                        raise InvalidParameter(
                            "Invalid parameter: Attributes Reason: "
                            "Topic already exists with different attributes"
                        )
                return existing
            topic = Topic(
                arn, region, name, self.account_id, dict(attributes), dict(tags), int(self._clock() * 1000)
            )
            await self._sql(lambda c: rows.insert_topic(c, topic))
            self._topics[arn] = topic
            return topic

    async def update_topic(self, arn: str, change: Callable[[Topic], Topic]) -> Topic:
        """Apply `change` to the topic as it is now and keep the result (NotFound if it is gone)."""
        async with self._defining:
            topic = change(self.topic(arn))
            await self._sql(lambda c: rows.update_topic(c, topic))
            self._topics[topic.arn] = topic
            return topic

    async def delete_topic(self, arn: str) -> None:
        async with self._defining:
            if arn not in self._topics:
                return  # SNS answers success for a topic that is already gone
            gone = [s.arn for s in self._subs.values() if s.topic_arn == arn]

            def delete(conn: sqlite3.Connection) -> None:
                rows.delete_topic(conn, arn)
                for sub in gone:
                    outbox.forget(conn, sub)

            await self._sql(delete)
            self._topics.pop(arn, None)
            for sub in gone:
                self._subs.pop(sub, None)
            self._dedup = {k: v for k, v in self._dedup.items() if k[0] != arn}

    # -- subscriptions --

    async def subscribe(
        self, topic_arn_: str, protocol: str, endpoint: str, attributes: Mapping[str, str]
    ) -> Subscription:
        pending = protocol in ("http", "https")
        if pending:  # the server itself will POST there: not into the host (endpoints.py)
            # Before the lock: a slow resolver holds up this request only.
            await guard.check_subscription(endpoint, self._allow_loopback)
        async with self._defining:
            topic = self.topic(topic_arn_)
            for existing in self._subs.values():
                if (
                    existing.topic_arn == topic.arn
                    and existing.protocol == protocol
                    and existing.endpoint == endpoint
                ):
                    return existing
            compiled = compile_filter(attributes)
            self._check_redrive(topic, attributes)
            sub = Subscription(
                f"{topic.arn}:{uuid.uuid4()}",
                topic.arn,
                protocol,
                endpoint,
                self.account_id,
                dict(attributes),
                not pending,
                secrets.token_hex(64),
                int(self._clock() * 1000),
                compiled,
            )
            deliveries = [self._confirmation(topic, sub)] if pending else []

            def insert(conn: sqlite3.Connection) -> None:
                rows.insert_subscription(conn, sub)
                if deliveries:
                    outbox.add(conn, deliveries, int(self._clock() * 1000))

            await self._sql(insert)
            self._subs[sub.arn] = sub
            if deliveries:
                self.deliverer.wake()
            return sub

    def _check_redrive(self, topic: Topic, attributes: Mapping[str, str]) -> None:
        if "RedrivePolicy" in attributes:
            redrive.check(
                attributes["RedrivePolicy"],
                topic_arn=topic.arn,
                fifo_topic=topic.fifo,
                queue_exists=self._queue_exists,
            )

    async def set_subscription_attributes(self, arn: str, attributes: Mapping[str, str]) -> Subscription:
        async with self._defining:
            sub = self.subscription(arn)
            self._check_redrive(self.topic(sub.topic_arn), attributes)
            merged = {**sub.attributes, **attributes}
            changed = replace(sub, attributes=merged, filter=compile_filter(merged))
            await self._sql(lambda c: rows.update_subscription(c, changed))
            self._subs[arn] = changed
            return changed

    async def confirm(self, topic_arn_: str, token: str) -> Subscription:
        async with self._defining:
            self.topic(topic_arn_)
            for sub in self._subs.values():
                if sub.topic_arn == topic_arn_ and secrets.compare_digest(sub.token, token):
                    if sub.confirmed:
                        return sub
                    confirmed = replace(sub, confirmed=True)
                    await self._sql(functools.partial(rows.update_subscription, s=confirmed))
                    self._subs[sub.arn] = confirmed
                    return confirmed
            raise InvalidParameter("Invalid token")

    async def unsubscribe(self, arn: str) -> None:
        async with self._defining:
            if arn not in self._subs:
                raise NotFound("Subscription does not exist")

            def delete(conn: sqlite3.Connection) -> None:
                conn.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (arn,))
                outbox.forget(conn, arn)

            await self._sql(delete)
            self._subs.pop(arn, None)

    # -- publishing --

    def cert_url(self) -> str:
        return self.endpoint + CERT_PATH

    def unsubscribe_url(self, sub_arn: str) -> str:
        return f"{self.endpoint}{CALLBACK_PATH}?Action=Unsubscribe&SubscriptionArn={sub_arn}"

    def _confirmation(self, topic: Topic, sub: Subscription) -> outbox.Delivery:
        return fanout.confirmation(
            topic.arn,
            topic.attributes,
            sub,
            message_id=str(uuid.uuid4()),
            timestamp=timestamp(self._clock()),
            subscribe_url=(
                f"{self.endpoint}{CALLBACK_PATH}?Action=ConfirmSubscription"
                f"&TopicArn={topic.arn}&Token={sub.token}"
            ),
            sign=self.signer.sign,
            cert_url=self.cert_url(),
        )

    async def publish(
        self,
        arn: str,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: Mapping[str, Mapping[str, Any]] | None = None,
        message_structure: str | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> str:
        return (
            await self.publish_entry(
                arn, message, subject, message_attributes or {}, message_structure, group_id, dedup_id
            )
        )[0]

    async def publish_entry(
        self,
        arn: str,
        message: str,
        subject: str | None,
        attributes: Mapping[str, Mapping[str, Any]],
        structure: str | None,
        group_id: str | None,
        dedup_id: str | None,
    ) -> tuple[str, str | None]:
        """(message id, sequence number) of one message, after every delivery is durable."""
        topic = self.topic(arn)
        messages.check_publish(message, attributes, structure)
        if subject is not None and (not subject.strip() or len(subject) > 100 or "\n" in subject):
            raise InvalidParameter("Invalid parameter: Subject")
        by_protocol = messages.per_protocol(message, structure)
        group_id, dedup_id = messages.fifo_ids(topic.fifo, topic.content_dedup, message, group_id, dedup_id)
        if group_id is None or dedup_id is None:  # a standard topic
            message_id = str(uuid.uuid4())
            await self._fan_out(topic, message_id, message, subject, by_protocol, attributes)
            return message_id, None
        async with self._fifo_locks.setdefault(arn, asyncio.Lock()):
            now = self._clock()
            self._dedup = {k: v for k, v in self._dedup.items() if v[1] > now}
            seen = self._dedup.get((arn, dedup_id))
            if seen is not None:  # within the window: accepted, not delivered again
                return seen[0], None
            topic = self.topic(arn)  # as it is now that this publish has the topic to itself
            topic = replace(topic, sequence=topic.sequence + 1)
            message_id = str(uuid.uuid4())
            key = dedup_id
            await self._sql(
                lambda c: rows.sequenced(c, topic, key, message_id, int(now * 1000), DEDUP_WINDOW_S * 1000)
            )
            if arn in self._topics:
                self._topics[arn] = replace(self._topics[arn], sequence=topic.sequence)
            self._dedup[(arn, dedup_id)] = (message_id, now + DEDUP_WINDOW_S)
            sequence = f"{topic.sequence:020d}"
            await self._fan_out(
                topic, message_id, message, subject, by_protocol, attributes, sequence, group_id, dedup_id
            )
            return message_id, sequence

    async def _fan_out(
        self,
        topic: Topic,
        message_id: str,
        message: str,
        subject: str | None,
        by_protocol: Mapping[str, str],
        attributes: Mapping[str, Mapping[str, Any]],
        sequence: str | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> None:
        published = fanout.Published(
            message_id,
            topic.arn,
            topic.attributes,
            message,
            subject,
            by_protocol,
            attributes,
            timestamp(self._clock()),
            sequence,
            group_id,
            dedup_id,
        )
        planned = fanout.plan(
            published,
            list(self._subs.values()),
            self.signer.sign,
            fanout.Urls(self.cert_url(), self.unsubscribe_url),
        )
        http = [d for d in planned if isinstance(d, outbox.Delivery)]
        async with asyncio.TaskGroup() as deliveries:
            for d in planned:
                if isinstance(d, fanout.ToFunction):
                    deliveries.create_task(
                        self.deliverer.to_function(d, topic.arn, topic.region, group_id, dedup_id)
                    )
                elif isinstance(d, fanout.ToQueue):
                    deliveries.create_task(self.deliverer.to_queue(d, group_id, dedup_id))
            if http:
                await self._sql(lambda c: outbox.add(c, http, int(self._clock() * 1000)))
                self.deliverer.wake()
