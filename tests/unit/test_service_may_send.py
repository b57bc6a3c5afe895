"""What AWS services may send to queues and topics (app.py's MessageTargets.service_may_send and
s3_may_send): decided by the queue's or topic's access policy alone, for the service and the
source (aws:SourceArn) it names. Real Queues and Topics stores and a real Authorizer on tmp_path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from stratus.app import MessageTargets
from stratus.identity.authorizer import Authorizer
from stratus.identity.directory import Directory
from stratus.queues.queues import Queues
from stratus.store.sqlite import Store
from stratus.topics.topics import Topics

REGION, ACCOUNT = "us-east-1", "000000000000"
SNS, S3 = "sns.amazonaws.com", "s3.amazonaws.com"
TOPIC_A = f"arn:aws:sns:{REGION}:{ACCOUNT}:a"
TOPIC_B = f"arn:aws:sns:{REGION}:{ACCOUNT}:b"
BUCKET = "arn:aws:s3:::photos"


def grant(service: str, action: str, resource: str, source: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Effect": effect,
        "Principal": {"Service": service},
        "Action": action,
        "Resource": resource,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
    }


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def with_targets(
    tmp_path: Path, scenario: Callable[[MessageTargets], Awaitable[None]], iam: bool = True
) -> None:
    async def send(*args: Any, **kwargs: Any) -> None:
        return None

    async def invoke(*args: Any) -> str:
        return "request-id"

    async def run() -> None:
        queues = Queues(tmp_path / "queues.db", ACCOUNT)
        topics = Topics(
            tmp_path / "topics.db",
            ACCOUNT,
            invoke_async=invoke,
            send_to_queue=send,
            may_invoke=lambda *a: True,
            endpoint="http://stratus.invalid",
        )
        authorizer = Authorizer(Directory(Store(tmp_path / "iam.db"), ACCOUNT), ACCOUNT, enabled=iam)
        targets = MessageTargets(queues, authorizer, ACCOUNT)
        targets.topics = topics
        try:
            await scenario(targets)
        finally:
            topics.close()
            queues.close()

    asyncio.run(run())


def test_a_queue_admits_only_the_service_and_topic_its_policy_names(tmp_path: Path) -> None:
    async def scenario(targets: MessageTargets) -> None:
        q = await targets.queues.create(REGION, "q", {}, {})
        may = targets.service_may_send
        assert not may(SNS, q.arn, TOPIC_A)  # no policy: no service
        await targets.queues.set_attributes(
            q.arn, {"Policy": policy(grant(SNS, "sqs:SendMessage", q.arn, TOPIC_A))}
        )
        assert may(SNS, q.arn, TOPIC_A)
        assert not may(SNS, q.arn, TOPIC_B)  # another topic
        assert not may(S3, q.arn, TOPIC_A)  # another service, for the same source
        assert not may(SNS, q.arn, "")  # no source at all
        # A statement for another queue, or for another action, grants nothing here.
        other = f"arn:aws:sqs:{REGION}:{ACCOUNT}:other"
        for statement in (
            grant(SNS, "sqs:SendMessage", other, TOPIC_A),
            grant(SNS, "sqs:ReceiveMessage", q.arn, TOPIC_A),
        ):
            await targets.queues.set_attributes(q.arn, {"Policy": policy(statement)})
            assert not may(SNS, q.arn, TOPIC_A), statement
        # A Deny beats the Allow.
        await targets.queues.set_attributes(
            q.arn,
            {
                "Policy": policy(
                    grant(SNS, "sqs:SendMessage", q.arn, TOPIC_A),
                    grant(SNS, "sqs:*", q.arn, TOPIC_A, effect="Deny"),
                )
            },
        )
        assert not may(SNS, q.arn, TOPIC_A)
        await targets.queues.set_attributes(q.arn, {"Policy": ""})  # removed
        assert not may(SNS, q.arn, TOPIC_A)

    with_targets(tmp_path, scenario)


def test_s3_may_send_to_a_queue_or_topic_that_exists_and_allows_the_bucket(tmp_path: Path) -> None:
    async def scenario(targets: MessageTargets) -> None:
        q = await targets.queues.create(REGION, "events", {}, {})
        assert targets.topics is not None
        t = await targets.topics.create_topic(REGION, "events", {}, {})
        assert not targets.s3_may_send(q.arn, BUCKET) and not targets.s3_may_send(t.arn, BUCKET)
        await targets.queues.set_attributes(
            q.arn, {"Policy": policy(grant(S3, "sqs:SendMessage", q.arn, BUCKET))}
        )
        allowed = policy(grant(S3, "sns:Publish", t.arn, BUCKET))
        await targets.topics.update_topic(t.arn, lambda x: replace(x, attributes={"Policy": allowed}))
        assert targets.s3_may_send(q.arn, BUCKET) and targets.s3_may_send(t.arn, BUCKET)
        assert not targets.s3_may_send(q.arn, "arn:aws:s3:::elsewhere")
        assert not targets.s3_may_send(t.arn, "arn:aws:s3:::elsewhere")
        assert not targets.service_may_send(SNS, t.arn, BUCKET)  # S3's leave is not SNS's
        # A target that does not exist: S3 may not be configured for it; a send to it fails as
        # not found (service_may_send does not refuse it); a non-ARN is refused outright.
        gone = f"arn:aws:sqs:{REGION}:{ACCOUNT}:gone"
        assert not targets.s3_may_send(gone, BUCKET) and targets.service_may_send(S3, gone, BUCKET)
        assert not targets.service_may_send(S3, "not-an-arn", BUCKET)

    with_targets(tmp_path, scenario)


def test_with_iam_off_every_service_may_send(tmp_path: Path) -> None:
    async def scenario(targets: MessageTargets) -> None:
        q = await targets.queues.create(REGION, "open", {}, {})
        assert targets.service_may_send(SNS, q.arn, TOPIC_A) and targets.s3_may_send(q.arn, BUCKET)

    with_targets(tmp_path, scenario, iam=False)
