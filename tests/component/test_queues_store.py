"""The Queues owner with a virtual clock and a real queues.db: retention, the deduplication
window, visibility expiry, leases that outlive a reopening, and redrive on receive."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from stratus.queues.queues import Queues

REGION, ACCOUNT = "us-east-1", "000000000000"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_retention_drops_messages_by_their_send_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        queues = Queues(tmp_path / "q.db", ACCOUNT, clock=clock)
        try:
            q = await queues.create(REGION, "r", {"MessageRetentionPeriod": "60"}, {})
            await queues.send(q.arn, "old")
            clock.now += 30
            await queues.send(q.arn, "new")
            clock.now += 31  # "old" is 61 s old, "new" 31 s
            await queues.sweep()
            got = await queues.receive(q.arn, 10)
            assert [m.body for m in got] == ["new"]
            clock.now += 30
            assert await queues.receive(q.arn, 10) == []  # expired on the receive itself
        finally:
            queues.close()

    asyncio.run(scenario())


def test_deduplication_window_is_five_minutes(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        queues = Queues(tmp_path / "q.db", ACCOUNT, clock=clock)
        try:
            q = await queues.create(REGION, "d.fifo", {"FifoQueue": "true"}, {})
            first = await queues.send(q.arn, "a", group_id="g", dedup_id="x")
            clock.now += 299
            assert (await queues.send(q.arn, "b", group_id="g", dedup_id="x")).message_id == first.message_id
            clock.now += 2
            later = await queues.send(q.arn, "c", group_id="g", dedup_id="x")
            assert later.message_id != first.message_id
            assert [m.body for m in await queues.receive(q.arn, 10)] == ["a", "c"]
        finally:
            queues.close()

    asyncio.run(scenario())


def test_leases_hold_across_a_reopening_until_visibility_ends(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        queues = Queues(tmp_path / "q.db", ACCOUNT, clock=clock)
        q = await queues.create(REGION, "v", {"VisibilityTimeout": "30"}, {})
        await queues.send(q.arn, "x")
        (first,) = await queues.receive(q.arn, 1)
        queues.close()
        queues = Queues(tmp_path / "q.db", ACCOUNT, clock=clock)
        try:
            assert await queues.receive(q.arn, 1) == []
            assert (await queues.depth(q.arn)).in_flight == 1
            clock.now += 31
            (again,) = await queues.receive(q.arn, 1)
            assert again.message_id == first.message_id and again.attributes["ApproximateReceiveCount"] == "2"
            # The first handle's lease is gone: deleting with it leaves the message.
            assert await queues.delete(q.arn, [first.receipt_handle]) == [None]
            assert (await queues.depth(q.arn)).in_flight == 1
            assert await queues.delete(q.arn, [again.receipt_handle]) == [None]
            assert (await queues.depth(q.arn)).in_flight == 0
        finally:
            queues.close()

    asyncio.run(scenario())


def test_receive_moves_a_message_past_max_receive_count(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = Clock()
        queues = Queues(tmp_path / "q.db", ACCOUNT, clock=clock)
        try:
            dlq = await queues.create(REGION, "dlq", {}, {})
            policy = json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1})
            src = await queues.create(REGION, "src", {"RedrivePolicy": policy, "VisibilityTimeout": "0"}, {})
            sent = await queues.send(src.arn, "poison")
            assert len(await queues.receive(src.arn, 1)) == 1
            assert await queues.receive(src.arn, 1) == []
            (dead,) = await queues.receive(dlq.arn, 1)
            assert dead.message_id == sent.message_id
        finally:
            queues.close()

    asyncio.run(scenario())


def test_concurrent_sends_are_each_committed(tmp_path: Path) -> None:
    async def scenario() -> None:
        queues = Queues(tmp_path / "q.db", ACCOUNT)
        try:
            q = await queues.create(REGION, "many", {}, {})
            sent = await asyncio.gather(*(queues.send(q.arn, f"m{i}") for i in range(200)))
            assert len({s.message_id for s in sent}) == 200
            assert (await queues.depth(q.arn)).visible == 200
        finally:
            queues.close()

    asyncio.run(scenario())
