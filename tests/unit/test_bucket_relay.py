"""The notification relay (stratus/buckets/relay.py): outbox -> async queue, at least once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from stratus.buckets.model import Delivery
from stratus.buckets.relay import BATCH, FIRST_BACKOFF, MAX_BACKOFF, Relay, next_backoff
from stratus.buckets.targets import deliverer

ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


class FakeOutbox:
    """The two outbox methods of Buckets, in memory."""

    def __init__(self) -> None:
        self.rows: dict[int, Delivery] = {}
        self.next = 1

    def add(self, fn: str, payload: bytes = b"{}") -> int:
        row = self.next
        self.next += 1
        self.rows[row] = Delivery(ARN + fn, "us-east-1", payload)
        return row

    async def pending(self, limit: int = 100) -> list[tuple[int, Delivery]]:
        return sorted(self.rows.items())[:limit]

    async def delivered(self, ids: Sequence[int]) -> None:
        for i in ids:
            self.rows.pop(i, None)


class Queue:
    def __init__(self) -> None:
        self.got: list[tuple[str, str | None, bytes, str]] = []
        self.failing = 0  # accepts left to fail (a full disk)
        self.arrived = asyncio.Event()

    async def accept(self, fn: str, qualifier: str | None, payload: bytes, region: str) -> str:
        if self.failing:
            self.failing -= 1
            raise OSError(28, "No space left on device")
        self.got.append((fn, qualifier, payload, region))
        self.arrived.set()
        return "req"


async def until(cond, relay_task: asyncio.Task[None]) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2000):
        if cond():
            return
        assert not relay_task.done(), relay_task
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


def test_backoff_doubles_to_a_cap() -> None:
    assert next_backoff(0) == FIRST_BACKOFF
    assert next_backoff(FIRST_BACKOFF) == FIRST_BACKOFF * 2
    assert next_backoff(MAX_BACKOFF) == MAX_BACKOFF


def test_drains_what_a_crash_left_then_what_it_is_woken_for() -> None:
    async def main() -> None:
        box, q = FakeOutbox(), Queue()
        box.add("left", b"1")
        box.add("over:live", b"2")
        relay = Relay(box, deliverer(q.accept, None))
        task = asyncio.create_task(relay.run())
        await until(lambda: not box.rows, task)
        assert sorted(q.got) == [("left", None, b"1", "us-east-1"), ("over", "live", b"2", "us-east-1")]
        box.add("later", b"3")
        relay.wake()
        await until(lambda: not box.rows, task)
        assert q.got[-1][0] == "later"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_more_than_a_batch_is_drained_without_another_wake() -> None:
    async def main() -> None:
        box, q = FakeOutbox(), Queue()
        for i in range(BATCH * 2 + 5):
            box.add(f"f{i}")
        task = asyncio.create_task(Relay(box, deliverer(q.accept, None)).run())
        await until(lambda: not box.rows, task)
        assert len(q.got) == BATCH * 2 + 5
        task.cancel()

    asyncio.run(main())


def test_a_delivery_that_fails_to_enqueue_stays_and_is_retried() -> None:
    async def main() -> None:
        box, q = FakeOutbox(), Queue()
        q.failing = 3
        row = box.add("full")
        task = asyncio.create_task(Relay(box, deliverer(q.accept, None)).run())
        await until(lambda: bool(q.got), task)
        # It stayed in the outbox through three failed enqueues, then went once the disk had room.
        assert q.got == [("full", None, b"{}", "us-east-1")]
        await until(lambda: row not in box.rows, task)
        task.cancel()

    asyncio.run(main())


def test_wake_from_another_thread() -> None:
    async def main() -> None:
        box, q = FakeOutbox(), Queue()
        relay = Relay(box, deliverer(q.accept, None))
        task = asyncio.create_task(relay.run())
        await asyncio.sleep(0.01)
        box.add("threaded")
        await asyncio.to_thread(relay.wake)
        await until(lambda: bool(q.got), task)
        task.cancel()

    asyncio.run(main())


def test_with_the_real_bucket_store_across_a_restart(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Buckets writes deliveries with the object row; the relay moves them into the queue; what
    a stop left in the outbox is delivered by the next relay on the same files."""
    import functools
    import json

    from stratus.buckets.notifications import route
    from stratus.buckets.objects import Buckets
    from stratus.store.blobs import FileBlobs

    account = "123456789012"
    config = json.dumps(
        {
            "LambdaFunctionConfigurations": [
                {"Id": "c", "LambdaFunctionArn": ARN + "fn", "Events": ["s3:ObjectCreated:*"]}
            ]
        }
    )

    async def body(data: bytes):  # type: ignore[no-untyped-def]
        yield data

    async def put(b: Buckets, key: str) -> None:
        await b.put_object(
            "bkt",
            key,
            body(b"x"),
            content_type="text/plain",
            metadata={},
            headers={},
            checksums={},
            content_md5=None,
            expected_size=None,
        )

    def store(wake) -> Buckets:  # type: ignore[no-untyped-def]
        return Buckets(
            tmp_path / "buckets.db",
            FileBlobs(tmp_path / "blobs"),
            route=functools.partial(route, account_id=account),
            wake=wake,
        )

    async def first_run() -> None:
        b = store(lambda: None)  # no relay running: the deliveries stay in the outbox
        await b.create_bucket("bkt", "us-east-1")
        await b.put_notification("bkt", config)
        await put(b, "one")
        await put(b, "two")
        assert len(await b.pending()) == 2
        b.close()

    async def second_run() -> None:
        q = Queue()
        relay: Relay | None = None
        b = store(lambda: relay.wake() if relay else None)
        relay = Relay(b, deliverer(q.accept, None))
        task = asyncio.create_task(relay.run())
        await until(lambda: len(q.got) == 2, task)  # what the first run left
        await put(b, "three")  # and a new change, woken by the store
        await until(lambda: len(q.got) == 3, task)
        keys = [json.loads(p)["Records"][0]["s3"]["object"]["key"] for _, _, p, _ in q.got]
        assert sorted(keys) == ["one", "three", "two"]
        assert {(fn, region) for fn, _, _, region in q.got} == {("fn", "us-east-1")}
        for _ in range(200):
            if not await b.pending():
                break
            await asyncio.sleep(0.01)
        assert await b.pending() == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        b.close()

    asyncio.run(first_run())
    asyncio.run(second_run())
