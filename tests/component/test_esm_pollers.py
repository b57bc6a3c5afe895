"""The mapping machine with a real metadata store, its pollers, the SQS source kind, an
in-memory queue and a fake function: delivery with the SQS event, deletes after success,
partial batch responses, errors, filters, disabling, deleting, crashes, throttles, restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from stratus.errors import TooManyRequests
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import DISABLED, ENABLED, MappingConfig
from stratus.eventsources.pollers import Pollers
from stratus.invoke.records import InvocationResult
from stratus.invoke.target import Invoked, Target
from stratus.observe.tracing import TraceHeader
from stratus.queues.model import Depth, Queue, Received
from stratus.queues.source import SqsSource
from stratus.store.sqlite import Store

ARN = "arn:aws:sqs:eu-west-1:123456789012:jobs"


class FakeQueues:
    """Leases with receive counts, long polls woken by sends; no visibility expiry."""

    def __init__(self, fail_reads: int = 0) -> None:
        self.queue = Queue("eu-west-1", "jobs", "123456789012", {"VisibilityTimeout": "30"}, {}, 0)
        self.visible: list[tuple[str, str]] = []
        self.leased: dict[str, tuple[str, str]] = {}
        self.deleted: list[str] = []
        self.counts: dict[str, int] = {}
        self.sent = asyncio.Event()
        self.fail_reads = fail_reads
        self.n = 0

    def send(self, body: str) -> str:
        self.n += 1
        message_id = f"m{self.n}"
        self.visible.append((message_id, body))
        self.sent.set()
        return message_id

    def find(self, arn: str) -> Queue | None:
        return self.queue if arn == ARN else None

    async def receive(
        self, arn: str, max_messages: int, *, visibility_timeout_s: int | None = None, wait_s: float = 0.0
    ) -> list[Received]:
        if self.fail_reads:
            self.fail_reads -= 1
            raise RuntimeError("the disk is on fire")
        if not self.visible and wait_s > 0:
            self.sent.clear()
            try:
                await asyncio.wait_for(self.sent.wait(), wait_s)
            except TimeoutError:
                return []
        taken, self.visible = self.visible[:max_messages], self.visible[max_messages:]
        out = []
        for message_id, body in taken:
            self.counts[message_id] = self.counts.get(message_id, 0) + 1
            handle = f"{message_id}#{self.counts[message_id]}"
            self.leased[handle] = (message_id, body)
            attributes = {
                "SentTimestamp": "1700000000000",
                "ApproximateReceiveCount": str(self.counts[message_id]),
            }
            attrs = {"color": {"DataType": "String", "StringValue": "blue"}}
            out.append(Received(message_id, handle, body, "md5", attributes, attrs, "md5attrs"))
        return out

    async def delete(self, arn: str, receipt_handles: Sequence[str]) -> list[str | None]:
        for handle in receipt_handles:
            self.deleted.append(self.leased.pop(handle)[0])
        return [None for _ in receipt_handles]

    async def depth(self, arn: str) -> Depth:
        return Depth(len(self.visible), len(self.leased), 0)

    def expire(self) -> None:
        """Leases run out: what was not deleted is visible again."""
        self.visible.extend(self.leased.values())
        self.leased.clear()
        self.sent.set()


class FakeFunction:
    def __init__(self, answer: Callable[[dict[str, Any]], tuple[str | None, bytes]] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer = answer or (lambda event: (None, b"null"))
        self.throttles = 0

    async def __call__(self, target: Target, payload: bytes) -> Invoked:
        if self.throttles:
            self.throttles -= 1
            raise TooManyRequests("Rate Exceeded.")
        event = json.loads(payload)
        self.events.append(event)
        error, body = self.answer(event)
        return Invoked(
            InvocationResult(body, "$LATEST", function_error=error),
            TraceHeader("1-00000000-000000000000000000000000"),
        )

    def bodies(self) -> list[str]:
        return [r["body"] for e in self.events for r in e["Records"]]


async def until(cond: Callable[[], bool], *tasks: asyncio.Task[None]) -> None:
    for _ in range(2000):
        if cond():
            return
        for task in tasks:
            if task.done():
                task.result()
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


def run(
    tmp_path: Path,
    body: Callable[[Mappings, FakeQueues, FakeFunction, asyncio.Task[None]], Any],
    queues: FakeQueues | None = None,
    function: FakeFunction | None = None,
) -> None:
    async def main() -> None:
        store = Store(tmp_path / "stratus.db")
        try:
            mappings = Mappings(store, "123456789012")
            q = queues or FakeQueues()
            fn = function or FakeFunction()
            pollers = Pollers(mappings, {"sqs": SqsSource(q)}, fn, tick_s=0.05)
            task = asyncio.create_task(pollers.run())
            try:
                await body(mappings, q, fn, task)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            store.close()

    asyncio.run(main())


def create(mappings: Mappings, **config: Any) -> str:
    return mappings.create("eu-west-1", "worker", None, ARN, MappingConfig(**config), True).uuid


def test_a_message_reaches_the_function_as_the_sqs_event_and_is_deleted(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        uuid = create(mappings)
        await until(lambda: mappings.get(uuid).state == ENABLED, task)
        message_id = q.send('{"hello": "world"}')
        await until(lambda: q.deleted == [message_id], task)
        (record,) = fn.events[0]["Records"]
        assert record == {
            "messageId": message_id,
            "receiptHandle": f"{message_id}#1",
            "body": '{"hello": "world"}',
            "attributes": {"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "1"},
            "messageAttributes": {
                "color": {
                    "stringValue": "blue",
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "String",
                }
            },
            "md5OfBody": "md5",
            "md5OfMessageAttributes": "md5attrs",
            "eventSource": "aws:sqs",
            "eventSourceARN": ARN,
            "awsRegion": "eu-west-1",
        }
        assert mappings.last_result(uuid) == "OK"

    run(tmp_path, body)


def test_partial_batch_responses_delete_only_the_successes(tmp_path: Path) -> None:
    def answer(event: dict[str, Any]) -> tuple[str | None, bytes]:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")]
        return None, json.dumps({"batchItemFailures": failed}).encode()

    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        for text in ("ok1", "bad1", "ok2", "bad2"):
            q.send(text)
        create(mappings, batch_size=10, window_s=1, report_failures=True)
        await until(lambda: sorted(q.deleted) == ["m1", "m3"] and not q.visible and len(q.leased) == 2, task)
        assert sorted(m for m, _ in q.leased.values()) == ["m2", "m4"]

    run(tmp_path, body, function=FakeFunction(answer))


def test_a_failing_function_deletes_nothing_and_the_messages_come_back(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        create(mappings)
        q.send("boom")
        await until(lambda: len(fn.events) == 1, task)
        await asyncio.sleep(0.05)
        assert q.deleted == [] and len(q.leased) == 1
        q.expire()
        await until(lambda: len(fn.events) == 2, task)
        assert fn.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
        assert q.deleted == []

    run(tmp_path, body, function=FakeFunction(lambda event: ("Unhandled", b'{"errorMessage": "no"}')))


def test_filtered_out_messages_are_deleted_without_an_invoke(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        create(mappings, filters=('{"body": {"kind": ["keep"]}}',))
        q.send('{"kind": "drop"}')
        q.send("not json at all")
        q.send('{"kind": "keep"}')
        await until(lambda: len(q.deleted) == 3, task)
        assert fn.bodies() == ['{"kind": "keep"}']

    run(tmp_path, body)


def test_disabling_stops_delivery_and_enabling_resumes_it(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        uuid = create(mappings)
        await until(lambda: mappings.get(uuid).state == ENABLED, task)
        assert mappings.update(uuid, enabled=False).state == "Disabling"
        await until(lambda: mappings.get(uuid).state == DISABLED, task)
        q.send("while disabled")
        await asyncio.sleep(0.2)
        assert fn.events == [] and q.visible
        assert mappings.update(uuid, enabled=True).state == "Enabling"
        await until(lambda: fn.bodies() == ["while disabled"], task)
        assert mappings.get(uuid).state == ENABLED

    run(tmp_path, body)


def test_a_deleted_mapping_stops_and_goes(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        uuid = create(mappings)
        await until(lambda: mappings.get(uuid).state == ENABLED, task)
        assert mappings.delete(uuid).state == "Deleting"
        await until(lambda: mappings.find(uuid) is None, task)
        q.send("after")
        await asyncio.sleep(0.2)
        assert fn.events == []

    run(tmp_path, body)


def test_a_poller_crash_is_survived(tmp_path: Path) -> None:
    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        uuid = create(mappings, max_concurrency=2)
        await until(lambda: mappings.last_result(uuid).startswith("PROBLEM"), task)
        q.send("still works")
        await until(lambda: fn.bodies() == ["still works"], task)

    run(tmp_path, body, queues=FakeQueues(fail_reads=2))


def test_throttles_back_off_and_retry_the_batch(tmp_path: Path) -> None:
    fn = FakeFunction()
    fn.throttles = 3

    async def body(mappings: Mappings, q: FakeQueues, fn: FakeFunction, task: asyncio.Task[None]) -> None:
        create(mappings)
        q.send("eventually")
        await until(lambda: q.deleted == ["m1"], task)
        assert fn.bodies() == ["eventually"] and fn.throttles == 0

    run(tmp_path, body, function=fn)


def test_mappings_survive_a_restart_in_the_state_they_were_heading_to(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    mappings = Mappings(store, "123456789012")
    kept = create(mappings, batch_size=5)
    off = mappings.create("eu-west-1", "other", "live", ARN, MappingConfig(), False).uuid
    gone = mappings.create("eu-west-1", "third", None, ARN, MappingConfig(), True).uuid
    mappings.settle(gone)
    mappings.delete(gone)
    store.close()
    store = Store(tmp_path / "stratus.db")
    try:
        again = Mappings(store, "123456789012")
        assert again.get(kept).state == ENABLED and again.get(kept).config.batch_size == 5
        assert again.get(off).state == DISABLED and again.get(off).function_arn.endswith(":other:live")
        assert again.find(gone) is None
    finally:
        store.close()
