"""Overlapping changes to one queue's or topic's definition all take effect: each owner reads the
definition and writes its new version across an await, so two changes made at once would lose
one (Terraform sets a queue's policy and its redrive-allow policy in parallel). Real owners on
SQLite files; the changes overlap through asyncio.gather."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from stratus.queues.queues import Queues
from stratus.topics.topics import Topics

ACCOUNT = "000000000000"
POLICY = '{"Version":"2012-10-17","Statement":[]}'


def test_overlapping_queue_changes_all_take_effect(tmp_path: Path) -> None:
    async def run() -> None:
        queues = Queues(tmp_path / "queues.db", ACCOUNT)
        try:
            for i in range(10):
                queue = await queues.create("us-east-1", f"q{i}", {}, {})
                await asyncio.gather(
                    queues.set_attributes(queue.arn, {"Policy": POLICY}),
                    queues.set_attributes(queue.arn, {"VisibilityTimeout": "45"}),
                    queues.set_tags(queue.arn, {"team": "a"}),
                    queues.set_tags(queue.arn, {"cost": "b"}),
                )
                kept = queues.require(queue.arn)
                assert kept.attributes["Policy"] == POLICY
                assert kept.attributes["VisibilityTimeout"] == "45"
                assert kept.tags == {"team": "a", "cost": "b"}
        finally:
            queues.close()
        reopened = Queues(tmp_path / "queues.db", ACCOUNT)  # and so does what is on disk
        try:
            kept = reopened.require(f"arn:aws:sqs:us-east-1:{ACCOUNT}:q9")
            assert kept.attributes["Policy"] == POLICY and kept.tags == {"team": "a", "cost": "b"}
        finally:
            reopened.close()

    asyncio.run(run())


def test_a_queue_deleted_during_a_change_stays_deleted(tmp_path: Path) -> None:
    async def run() -> None:
        queues = Queues(tmp_path / "queues.db", ACCOUNT)
        try:
            queue = await queues.create("us-east-1", "q", {}, {})
            results = await asyncio.gather(
                queues.delete_queue(queue.arn),
                queues.set_attributes(queue.arn, {"VisibilityTimeout": "45"}),
                return_exceptions=True,
            )
            assert results[0] is None
            assert type(results[1]).__name__ == "QueueDoesNotExist"
            assert queues.find(queue.arn) is None
        finally:
            queues.close()
        reopened = Queues(tmp_path / "queues.db", ACCOUNT)
        try:
            assert reopened.find(f"arn:aws:sqs:us-east-1:{ACCOUNT}:q") is None
        finally:
            reopened.close()

    asyncio.run(run())


def test_overlapping_topic_changes_all_take_effect(tmp_path: Path) -> None:
    async def send(*args: Any, **kwargs: Any) -> None:
        return None

    async def invoke(*args: Any) -> str:
        return "request-id"

    async def run() -> None:
        topics = Topics(
            tmp_path / "topics.db",
            ACCOUNT,
            invoke_async=invoke,
            send_to_queue=send,
            may_invoke=lambda *a: True,
            endpoint="http://stratus.invalid",
        )
        try:
            topic = await topics.create_topic("us-east-1", "t", {}, {})
            queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
            subscribed = await asyncio.gather(
                topics.update_topic(topic.arn, lambda t: replace(t, attributes={**t.attributes, "A": "1"})),
                topics.update_topic(topic.arn, lambda t: replace(t, attributes={**t.attributes, "B": "2"})),
                topics.update_topic(topic.arn, lambda t: replace(t, tags={**t.tags, "k": "v"})),
                topics.subscribe(topic.arn, "sqs", queue, {}),
                topics.subscribe(topic.arn, "sqs", queue, {}),
            )
            kept = topics.topic(topic.arn)
            assert kept.attributes == {"A": "1", "B": "2"}
            assert kept.tags == {"k": "v"}
            # The same endpoint subscribed twice at once is one subscription, as SNS answers.
            assert subscribed[3].arn == subscribed[4].arn
            assert [s.endpoint for s in topics._subs.values()] == [queue]
        finally:
            topics.close()

    asyncio.run(run())
