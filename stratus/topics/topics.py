"""The one owner of topics.db: topics, subscriptions and the outbox of HTTP deliveries.

State is held in memory (read without I/O) and written through on ONE worker thread, each change
in its own transaction before memory changes. Publish fans out to every confirmed subscription
whose filter policy lets the message through, and returns only once each delivery is durable:
a function's in the async queue, a queue's in the queue, an endpoint's in the outbox, which
`run` drains with retries and backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import functools
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from stratus.control.arns import destination_function
from stratus.store.diskfull import writing
from stratus.store.sqlite import connect, transaction
from stratus.topics import messages, outbox
from stratus.topics.errors import InvalidParameter, NotFound
from stratus.topics.model import Subscription, Topic, compile_filter, retry_policy, topic_arn
from stratus.topics.signing import Signer

log = logging.getLogger("stratus.topics")
T = TypeVar("T")

InvokeAsync = Callable[[str, str | None, bytes, str], Awaitable[str]]
SendToQueue = Callable[..., Awaitable[object]]
DEDUP_WINDOW_S = 300
CERT_PATH = "/_stratus/webhooks/sns/SimpleNotificationService.pem"
CALLBACK_PATH = "/_stratus/webhooks/sns/"
LEASE_MS = 60_000
HTTP_TIMEOUT_S = 15

SCHEMA = """
CREATE TABLE IF NOT EXISTS sns_topics (
    arn TEXT PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, attributes TEXT NOT NULL,
    tags TEXT NOT NULL, created_ms INTEGER NOT NULL, sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sns_subscriptions (
    arn TEXT PRIMARY KEY, topic_arn TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
    owner TEXT NOT NULL, attributes TEXT NOT NULL, confirmed INTEGER NOT NULL, token TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
"""


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account_id = account_id
        self.endpoint = endpoint.rstrip("/")
        self._invoke_async = invoke_async
        self._send_to_queue = send_to_queue
        self._may_invoke = may_invoke
        self._clock = clock
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._dedup: dict[tuple[str, str], tuple[str, float]] = {}
        with writing():
            self._conn = connect(path)
            self._conn.executescript(SCHEMA + outbox.SCHEMA)
            self.signer = Signer(path.parent)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="topics")
        self._topics: dict[str, Topic] = {}
        self._subs: dict[str, Subscription] = {}
        for arn, region, name, attrs, tags, created, seq in self._conn.execute("SELECT * FROM sns_topics"):
            self._topics[arn] = Topic(
                arn, region, name, account_id, json.loads(attrs), json.loads(tags), created, seq
            )
        for arn, topic, protocol, endpoint_, owner, attrs, confirmed, token, created in self._conn.execute(
            "SELECT * FROM sns_subscriptions"
        ):
            attributes = json.loads(attrs)
            self._subs[arn] = Subscription(
                arn,
                topic,
                protocol,
                endpoint_,
                owner,
                attributes,
                bool(confirmed),
                token,
                created,
                compile_filter(attributes),
            )

    def close(self) -> None:
        self._db.shutdown(wait=True)
        self._conn.close()

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
                        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
                    )
            return existing
        topic = Topic(
            arn, region, name, self.account_id, dict(attributes), dict(tags), int(self._clock() * 1000)
        )
        await self._sql(lambda c: self._put_topic(c, topic, insert=True))
        self._topics[arn] = topic
        return topic

    @staticmethod
    def _put_topic(conn: sqlite3.Connection, t: Topic, *, insert: bool = False) -> None:
        if insert:
            conn.execute(
                "INSERT INTO sns_topics(arn, region, name, attributes, tags, created_ms, sequence)"
                " VALUES (?,?,?,?,?,?,?)",
                (
                    t.arn,
                    t.region,
                    t.name,
                    json.dumps(dict(t.attributes)),
                    json.dumps(dict(t.tags)),
                    t.created_ms,
                    t.sequence,
                ),
            )
        else:
            conn.execute(
                "UPDATE sns_topics SET attributes = ?, tags = ?, sequence = ? WHERE arn = ?",
                (json.dumps(dict(t.attributes)), json.dumps(dict(t.tags)), t.sequence, t.arn),
            )

    async def update_topic(self, topic: Topic) -> Topic:
        await self._sql(lambda c: self._put_topic(c, topic))
        self._topics[topic.arn] = topic
        return topic

    async def delete_topic(self, arn: str) -> None:
        if arn not in self._topics:
            return  # SNS answers success for a topic that is already gone
        gone = [s.arn for s in self._subs.values() if s.topic_arn == arn]

        def delete(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))
            conn.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
            for sub in gone:
                outbox.forget(conn, sub)

        await self._sql(delete)
        self._topics.pop(arn, None)
        for sub in gone:
            self._subs.pop(sub, None)

    # -- subscriptions --

    async def subscribe(
        self, topic_arn_: str, protocol: str, endpoint: str, attributes: Mapping[str, str]
    ) -> Subscription:
        topic = self.topic(topic_arn_)
        for existing in self._subs.values():
            if (
                existing.topic_arn == topic.arn
                and existing.protocol == protocol
                and existing.endpoint == endpoint
            ):
                return existing
        compiled = compile_filter(attributes)
        pending = protocol in ("http", "https")
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
            self._put_subscription(conn, sub, insert=True)
            if deliveries:
                outbox.add(conn, deliveries, int(self._clock() * 1000))

        await self._sql(insert)
        self._subs[sub.arn] = sub
        if deliveries:
            self._wake.set()
        return sub

    @staticmethod
    def _put_subscription(conn: sqlite3.Connection, s: Subscription, *, insert: bool = False) -> None:
        if insert:
            conn.execute(
                "INSERT INTO sns_subscriptions(arn, topic_arn, protocol, endpoint, owner, attributes,"
                " confirmed, token, created_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    s.arn,
                    s.topic_arn,
                    s.protocol,
                    s.endpoint,
                    s.owner,
                    json.dumps(dict(s.attributes)),
                    int(s.confirmed),
                    s.token,
                    s.created_ms,
                ),
            )
        else:
            conn.execute(
                "UPDATE sns_subscriptions SET attributes = ?, confirmed = ? WHERE arn = ?",
                (json.dumps(dict(s.attributes)), int(s.confirmed), s.arn),
            )

    async def set_subscription_attributes(self, arn: str, attributes: Mapping[str, str]) -> Subscription:
        sub = self.subscription(arn)
        merged = {**sub.attributes, **attributes}
        changed = replace(sub, attributes=merged, filter=compile_filter(merged))
        await self._sql(lambda c: self._put_subscription(c, changed))
        self._subs[arn] = changed
        return changed

    async def confirm(self, topic_arn_: str, token: str) -> Subscription:
        self.topic(topic_arn_)
        for sub in self._subs.values():
            if sub.topic_arn == topic_arn_ and secrets.compare_digest(sub.token, token):
                if sub.confirmed:
                    return sub
                confirmed = replace(sub, confirmed=True)
                await self._sql(functools.partial(self._put_subscription, s=confirmed))
                self._subs[sub.arn] = confirmed
                return confirmed
        raise InvalidParameter("Invalid token")

    async def unsubscribe(self, arn: str) -> None:
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
        message_id = str(uuid.uuid4())
        subscribe_url = (
            f"{self.endpoint}{CALLBACK_PATH}?Action=ConfirmSubscription"
            f"&TopicArn={topic.arn}&Token={sub.token}"
        )
        signed = {
            "Type": "SubscriptionConfirmation",
            "MessageId": message_id,
            "Token": sub.token,
            "TopicArn": topic.arn,
            "Message": (
                f"You have chosen to subscribe to the topic {topic.arn}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message."
            ),
            "SubscribeURL": subscribe_url,
            "Timestamp": timestamp(self._clock()),
        }
        body = {
            **signed,
            "SignatureVersion": "1",
            "Signature": self.signer.sign(signed),
            "SigningCertURL": self.cert_url(),
        }
        attempts, low, high = retry_policy(sub.attributes, topic.attributes)
        return outbox.Delivery(
            sub.arn,
            sub.endpoint,
            messages.http_headers("SubscriptionConfirmation", message_id, topic.arn, None, False),
            json.dumps(body),
            attempts,
            int(low * 1000),
            int(high * 1000),
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
        sequence: str | None = None
        if topic.fifo:
            if not group_id:
                raise InvalidParameter(
                    "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
                )
            if not dedup_id:
                if not topic.content_dedup:
                    raise InvalidParameter(
                        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled "
                        "or MessageDeduplicationId provided explicitly"
                    )
                dedup_id = hashlib.sha256(message.encode()).hexdigest()
            now = self._clock()
            self._dedup = {k: v for k, v in self._dedup.items() if v[1] > now}
            seen = self._dedup.get((arn, dedup_id))
            if seen is not None:
                return seen[0], None
        elif group_id is not None or dedup_id is not None:
            raise InvalidParameter(
                "Invalid parameter: The request includes MessageGroupId or MessageDeduplicationId parameter "
                "that is not valid for this topic type"
            )
        message_id = str(uuid.uuid4())
        if topic.fifo:
            topic = replace(topic, sequence=topic.sequence + 1)
            sequence = f"{topic.sequence:020d}"
            await self.update_topic(topic)
            assert dedup_id is not None
            self._dedup[(arn, dedup_id)] = (message_id, self._clock() + DEDUP_WINDOW_S)
        now_s = self._clock()
        http: list[outbox.Delivery] = []
        async with asyncio.TaskGroup() as deliveries:
            for sub in list(self._subs.values()):
                if sub.topic_arn != arn or not sub.confirmed or not sub.accepts(message, attributes):
                    continue
                text = messages.for_protocol(by_protocol, sub.protocol)
                signed = messages.notification(
                    message_id=message_id,
                    topic_arn=arn,
                    subject=subject,
                    message=text,
                    timestamp=timestamp(now_s),
                    sequence=sequence,
                )
                signature = self.signer.sign(signed)
                unsubscribe = self.unsubscribe_url(sub.arn)
                if sub.protocol == "lambda":
                    event = messages.lambda_event(
                        signed, signature, self.cert_url(), unsubscribe, attributes, sub.arn
                    )
                    deliveries.create_task(self._to_function(topic, sub, json.dumps(event).encode()))
                elif sub.protocol == "sqs":
                    if sub.raw:
                        body, carried = text, messages.queue_attributes(attributes)
                    else:
                        env = messages.envelope(signed, signature, self.cert_url(), unsubscribe, attributes)
                        body, carried = json.dumps(env), {}
                    deliveries.create_task(
                        self._to_queue(sub, body, carried, group_id, dedup_id and f"{dedup_id}")
                    )
                else:
                    env = messages.envelope(signed, signature, self.cert_url(), unsubscribe, attributes)
                    attempts, low, high = retry_policy(sub.attributes, topic.attributes)
                    http.append(
                        outbox.Delivery(
                            sub.arn,
                            sub.endpoint,
                            messages.http_headers("Notification", message_id, arn, sub.arn, sub.raw),
                            text if sub.raw else json.dumps(env),
                            attempts,
                            int(low * 1000),
                            int(high * 1000),
                        )
                    )
            if http:
                await self._sql(lambda c: outbox.add(c, http, int(self._clock() * 1000)))
                self._wake.set()
        return message_id, sequence

    async def _to_function(self, topic: Topic, sub: Subscription, payload: bytes) -> None:
        target = destination_function(sub.endpoint)
        if target is None:
            return
        if not self._may_invoke(sub.endpoint, topic.arn, topic.region):
            # As on AWS: the delivery fails (the function's policy does not allow SNS); the
            # publisher is not told.
            log.warning("SNS may not invoke %s for %s: delivery dropped", sub.endpoint, topic.arn)
            return
        await self._invoke_async(target[0], target[1], payload, topic.region)

    async def _to_queue(
        self,
        sub: Subscription,
        body: str,
        attributes: dict[str, dict[str, Any]],
        group_id: str | None,
        dedup_id: str | None,
    ) -> None:
        if self._send_to_queue is None:
            log.warning("no queues: delivery to %s dropped", sub.endpoint)
            return
        try:
            await self._send_to_queue(
                sub.endpoint,
                body,
                message_attributes=attributes or None,
                group_id=group_id,
                dedup_id=dedup_id,
            )
        except Exception as e:
            if getattr(e, "sender_fault", False):  # the queue is gone or refuses the message
                log.warning("delivery to %s failed: %s", sub.endpoint, e)
                return
            raise

    # -- the outbox --

    async def run(self) -> None:
        """Make HTTP deliveries from the outbox until cancelled: each claimed one is POSTed;
        success or a final failure deletes it, else it is due again after its backoff."""
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session, asyncio.TaskGroup() as tasks:
            while True:
                self._wake.clear()
                now_ms = int(self._clock() * 1000)
                claimed = await self._sql(
                    functools.partial(
                        outbox.claim, owner=self._owner, now_ms=now_ms, lease_ms=LEASE_MS, limit=32
                    )
                )
                for leased in claimed:
                    tasks.create_task(self._deliver(session, leased))
                if claimed:
                    continue
                due = await self._sql(outbox.next_due)
                wait = 3600.0 if due is None else max(0.0, (due - int(self._clock() * 1000)) / 1000)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, wait))

    async def _deliver(self, session: aiohttp.ClientSession, leased: outbox.Leased) -> None:
        d = leased.delivery
        ok = False
        try:
            async with session.post(d.url, data=d.body.encode(), headers=d.headers) as reply:
                await reply.read()
                ok = 200 <= reply.status < 300
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            log.info("SNS delivery to %s failed: %s", d.url, e)
        attempts = leased.attempts + 1
        if ok or attempts >= d.max_attempts:
            if not ok:
                log.warning("SNS delivery to %s given up after %d attempts", d.url, attempts)
            await self._sql(lambda c: outbox.done(c, leased.id, self._owner))
        else:
            due = int(self._clock() * 1000) + outbox.backoff_ms(attempts, d.min_delay_ms, d.max_delay_ms)
            await self._sql(lambda c: outbox.retry(c, leased.id, self._owner, attempts, due))
        self._wake.set()
