"""Stream mappings with the real machine: a `stream_records` table in its own database behind a
real group committer (the contract's schema, as the table store writes it), the Streams reader,
the DynamoDB stream source kind, a real metadata store for mappings and checkpoints, and a fake
function: order, retries, bisecting, OnFailure records, partial batch responses, checkpoints
after success and a restart from them."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.errors import TooManyRequests
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import MappingConfig
from stratus.eventsources.pollers import Pollers
from stratus.eventsources.streaming import Checkpoints
from stratus.invoke.records import InvocationResult
from stratus.invoke.target import Invoked, Target
from stratus.observe.tracing import TraceHeader
from stratus.store.committer import Committer
from stratus.store.sqlite import Store
from stratus.tables.source import DynamoDBStreamSource
from stratus.tables.streams import StreamInfo, Streams

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/orders"
STREAM = f"{TABLE}/stream/2024-01-01T00:00:00.000"
SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_records (
    table_arn TEXT NOT NULL, shard_id TEXT NOT NULL, sequence INTEGER NOT NULL,
    event_name TEXT NOT NULL, keys TEXT NOT NULL, new_image TEXT, old_image TEXT,
    created_ms INTEGER NOT NULL, user_identity TEXT, PRIMARY KEY (table_arn, sequence)
);
"""
INFO = StreamInfo(
    arn=STREAM,
    table_name="orders",
    table_arn=TABLE,
    label="2024-01-01T00:00:00.000",
    view_type="NEW_AND_OLD_IMAGES",
    key_schema=(("pk", "HASH"), ("sk", "RANGE")),
    created_ms=0,
)


class Table:
    """Writes stream records as the table store does: one row per change, in a transaction."""

    def __init__(self, path: Path) -> None:
        self.db = Committer(path, "test-tables", SCHEMA)
        self.sequence = 0
        self.streams = Streams(self.db, lambda: [INFO])

    async def write(
        self, pk: str, n: int, event: str = "INSERT", age_s: float = 0.0, at_ms: int | None = None
    ) -> int:
        self.sequence += 1
        seq = self.sequence
        keys = {"pk": {"S": pk}, "sk": {"N": str(n)}}
        new = {**keys, "n": {"N": str(n)}, "blob": {"B": "AAE="}} if event != "REMOVE" else None
        created = int((time.time() - age_s) * 1000) if at_ms is None else at_ms

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO stream_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    TABLE,
                    "s",
                    seq,
                    event,
                    json.dumps(keys),
                    json.dumps(new) if new else None,
                    None,
                    created,
                    None,
                ),
            )

        await self.db.change(insert)
        self.streams.wake()
        return seq


Answer = Callable[[list[dict[str, Any]]], tuple[str | None, bytes]]


class FakeFunction:
    def __init__(
        self, answer: Callable[[list[dict[str, Any]]], tuple[str | None, bytes]] | None = None
    ) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.answer = answer or (lambda records: (None, b"null"))
        self.throttles = 0

    async def __call__(self, target: Target, payload: bytes) -> Invoked:
        if self.throttles:
            self.throttles -= 1
            raise TooManyRequests("Rate Exceeded.")
        records = json.loads(payload)["Records"]
        self.batches.append(records)
        error, body = self.answer(records)
        return Invoked(InvocationResult(body, "$LATEST", function_error=error), TraceHeader("1-0-0"))

    def numbers(self) -> list[int]:
        return [int(r["dynamodb"]["Keys"]["sk"]["N"]) for batch in self.batches for r in batch]


async def until(cond: Callable[[], bool], task: asyncio.Task[None]) -> None:
    for _ in range(3000):
        if cond():
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


@dataclass
class Env:
    table: Table
    fn: FakeFunction
    mappings: Mappings
    sent: list[tuple[str, dict[str, Any]]]
    task: asyncio.Task[None]
    store: Store

    def checkpoint(self) -> int | None:
        with self.store.transaction() as conn:
            row = conn.execute("SELECT after_sequence FROM stream_checkpoints").fetchone()
        return None if row is None else int(row[0])

    async def until(self, cond: Callable[[], bool]) -> None:
        await until(cond, self.task)


def run(
    tmp_path: Path,
    config: MappingConfig,
    body: Callable[[Env], Any],
    function: FakeFunction | None = None,
) -> None:
    async def main() -> None:
        store = Store(tmp_path / "stratus.db")
        table = Table(tmp_path / "tables.db")
        sent: list[tuple[str, dict[str, Any]]] = []

        async def send(arn: str, message: bytes, region: str) -> None:
            sent.append((arn, json.loads(message)))

        try:
            mappings = Mappings(store, "123456789012")
            fn = function or FakeFunction()
            mapping = mappings.create("eu-west-1", "f", None, STREAM, config, True)
            pollers = Pollers(
                mappings,
                {"dynamodb": DynamoDBStreamSource(table.streams)},
                fn,
                checkpoints=Checkpoints(store),
                send_failure=send,
            )
            task = asyncio.create_task(pollers.run())
            try:
                await body(Env(table, fn, mappings, sent, task, store))
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            assert mappings.find(mapping.uuid) is not None
        finally:
            table.db.close()
            store.close()

    asyncio.run(main())


def config(**changes: Any) -> MappingConfig:
    values: dict[str, Any] = {"starting_position": "TRIM_HORIZON", "batch_size": 100}
    values.update(changes)
    return MappingConfig(**values)


def checkpoint(tmp_path: Path) -> int | None:
    store = Store(tmp_path / "stratus.db")
    try:
        with store.transaction() as conn:
            row = conn.execute("SELECT after_sequence FROM stream_checkpoints").fetchone()
        return None if row is None else int(row[0])
    finally:
        store.close()


def test_records_arrive_in_order_as_the_dynamodb_event(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        table, fn = env.table, env.fn
        for n in range(5):
            await table.write("a", n)
        await env.until(lambda: len(fn.numbers()) == 5)
        assert fn.numbers() == [0, 1, 2, 3, 4]
        record = fn.batches[0][0]
        assert record["eventName"] == "INSERT"
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "eu-west-1"
        assert record["eventSourceARN"] == STREAM
        assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AAE="}
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert record["dynamodb"]["SequenceNumber"] == "000000000000000000001"
        assert record["dynamodb"]["SizeBytes"] > 0
        assert len(record["eventID"]) == 32

    run(tmp_path, config(), body)


def test_a_failing_batch_is_retried_then_sent_to_on_failure_and_the_shard_moves_on(tmp_path: Path) -> None:
    def answer(records: list[dict[str, Any]]) -> tuple[str | None, bytes]:
        bad = any(r["dynamodb"]["Keys"]["sk"]["N"] == "1" for r in records)
        return ("Unhandled", b'{"errorMessage":"no"}') if bad else (None, b"null")

    async def body(env: Env) -> None:
        table, fn, sent = env.table, env.fn, env.sent
        await table.write("a", 1)
        await env.until(lambda: len(sent) == 1)
        await table.write("a", 2)
        await env.until(lambda: 2 in fn.numbers())
        assert fn.numbers() == [1, 1, 2]  # the first try and one retry, then on
        destination, record = sent[0]
        assert destination == "arn:aws:sqs:eu-west-1:123456789012:dlq"
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["responseContext"]["functionError"] == "Unhandled"
        info = record["DDBStreamBatchInfo"]
        assert info["startSequenceNumber"] == info["endSequenceNumber"] == "000000000000000000001"
        assert info["batchSize"] == 1
        assert info["streamArn"] == STREAM

    run(
        tmp_path,
        config(max_retries=1, on_failure="arn:aws:sqs:eu-west-1:123456789012:dlq"),
        body,
        FakeFunction(answer),
    )


def test_bisecting_isolates_the_bad_record(tmp_path: Path) -> None:
    def answer(records: list[dict[str, Any]]) -> tuple[str | None, bytes]:
        bad = any(r["dynamodb"]["Keys"]["sk"]["N"] == "2" for r in records)
        return ("Unhandled", b"{}") if bad else (None, b"null")

    async def body(env: Env) -> None:
        table, fn, sent = env.table, env.fn, env.sent
        # Written before the mapping's first read, so that they come as one batch.
        for n in range(4):
            await table.write("a", n)
        await env.until(lambda: len(sent) == 1)
        await env.until(lambda: 3 in fn.numbers()[4:])
        sizes = [len(b) for b in fn.batches]
        assert sizes[0] == 4 and sizes[1] == 2  # the whole batch, then its first half
        assert sent[0][1]["DDBStreamBatchInfo"]["batchSize"] == 1
        assert sent[0][1]["DDBStreamBatchInfo"]["startSequenceNumber"] == "000000000000000000003"

    run(
        tmp_path,
        config(max_retries=0, bisect=True, on_failure="arn:aws:sqs:eu-west-1:123456789012:dlq", window_s=1),
        body,
        FakeFunction(answer),
    )


def test_a_partial_batch_response_checkpoints_before_the_first_failure(tmp_path: Path) -> None:
    failed_once: set[str] = set()

    def answer(records: list[dict[str, Any]]) -> tuple[str | None, bytes]:
        for r in records:
            seq = r["dynamodb"]["SequenceNumber"]
            if r["dynamodb"]["Keys"]["sk"]["N"] == "2" and seq not in failed_once:
                failed_once.add(seq)
                return None, json.dumps({"batchItemFailures": [{"itemIdentifier": seq}]}).encode()
        return None, b"{}"

    async def body(env: Env) -> None:
        table, fn = env.table, env.fn
        for n in range(4):
            await table.write("a", n)
        await env.until(lambda: len(fn.batches) == 2)
        assert [int(r["dynamodb"]["Keys"]["sk"]["N"]) for r in fn.batches[0]] == [0, 1, 2, 3]
        assert [int(r["dynamodb"]["Keys"]["sk"]["N"]) for r in fn.batches[1]] == [2, 3]
        await env.until(lambda: env.checkpoint() == 4)

    run(tmp_path, config(report_failures=True, window_s=1), body, FakeFunction(answer))


def test_the_checkpoint_moves_only_after_success_and_a_restart_resumes_there(tmp_path: Path) -> None:
    gate = asyncio.Event()
    held: list[int] = []

    class Held(FakeFunction):
        async def __call__(self, target: Target, payload: bytes) -> Invoked:
            records = json.loads(payload)["Records"]
            held.append(int(records[0]["dynamodb"]["Keys"]["sk"]["N"]))
            await gate.wait()
            return await super().__call__(target, payload)

    async def first(env: Env) -> None:
        table = env.table
        await table.write("a", 1)
        await env.until(lambda: env.checkpoint() == -1 and bool(held))
        assert env.checkpoint() == -1  # in flight: not checkpointed
        gate.set()
        await env.until(lambda: env.checkpoint() == 1)
        gate.clear()
        await table.write("a", 2)
        await env.until(lambda: held[-1:] == [2])
        # Stopped here (the server dies) with record 2 delivered but not done.

    run(tmp_path, config(batch_size=1), first, Held())
    assert checkpoint(tmp_path) == 1

    # A new server over the same stores: the mapping resumes after record 1.
    async def main() -> None:
        store = Store(tmp_path / "stratus.db")
        table = Table(tmp_path / "tables.db")
        table.sequence = 2
        fn = FakeFunction()
        try:
            mappings = Mappings(store, "123456789012")
            pollers = Pollers(
                mappings,
                {"dynamodb": DynamoDBStreamSource(table.streams)},
                fn,
                checkpoints=Checkpoints(store),
            )
            task = asyncio.create_task(pollers.run())
            try:
                await table.write("a", 3)
                await until(lambda: fn.numbers() == [2, 3], task)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        finally:
            table.db.close()
            store.close()

    asyncio.run(main())
    assert checkpoint(tmp_path) == 3


def test_throttles_do_not_use_up_retries(tmp_path: Path) -> None:
    fn = FakeFunction()
    fn.throttles = 3

    async def body(env: Env) -> None:
        table, fn, sent = env.table, env.fn, env.sent
        await table.write("a", 1)
        await env.until(lambda: fn.numbers() == [1])
        assert sent == []

    run(tmp_path, config(max_retries=0, on_failure="arn:aws:sqs:eu-west-1:123456789012:dlq"), body, fn)


def test_too_old_records_go_to_on_failure_without_an_invoke(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        table, fn, sent = env.table, env.fn, env.sent
        await table.write("a", 1, age_s=120)
        await table.write("a", 2)
        await env.until(lambda: fn.numbers() == [2] and len(sent) == 1)
        assert sent[0][1]["requestContext"]["condition"] == "RecordAgeExceeded"
        assert "responseContext" not in sent[0][1]

    run(
        tmp_path,
        config(max_record_age_s=60, on_failure="arn:aws:sqs:eu-west-1:123456789012:dlq", window_s=1),
        body,
    )


def test_parallel_lanes_keep_each_keys_order(tmp_path: Path) -> None:
    async def body(env: Env) -> None:
        table, fn = env.table, env.fn
        for n in range(40):
            await table.write(f"k{n % 4}", n)
        await env.until(lambda: len(fn.numbers()) == 40)
        by_key: dict[str, list[int]] = {}
        for batch in fn.batches:
            for r in batch:
                by_key.setdefault(r["dynamodb"]["Keys"]["pk"]["S"], []).append(
                    int(r["dynamodb"]["Keys"]["sk"]["N"])
                )
        assert sorted(by_key) == ["k0", "k1", "k2", "k3"]
        for numbers in by_key.values():
            assert numbers == sorted(numbers)

    run(tmp_path, config(parallelization=4, batch_size=3), body)


# -- tumbling windows (TumblingWindowInSeconds) -----------------------------------------------


class WindowFunction(FakeFunction):
    """Sums `n` of its records into the window's state; keeps every event it was given.
    `misbehave(event)` may replace its answer."""

    def __init__(self, misbehave: Callable[[dict[str, Any]], bytes | None] | None = None) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self.misbehave = misbehave or (lambda event: None)
        self.gate: asyncio.Event | None = None  # holds final invocations while set and clear

    async def __call__(self, target: Target, payload: bytes) -> Invoked:
        event = json.loads(payload)
        self.events.append(event)
        if event["isFinalInvokeForWindow"] and self.gate is not None:
            await self.gate.wait()
        body = self.misbehave(event)
        if body is None:
            state = dict(event["state"])
            state["sum"] = state.get("sum", 0) + sum(
                int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]
            )
            body = json.dumps({"state": state}).encode()
        return Invoked(InvocationResult(body, "$LATEST"), TraceHeader("1-0-0"))

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["isFinalInvokeForWindow"]]


def window_base() -> int:
    """The start of a 10 s window a minute ago: records stamped in it and the next are read
    back as closed windows at once, whatever the time now."""
    now = int(time.time() * 1000) - 60_000
    return now - now % 10_000


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def test_a_tumbling_window_carries_state_between_batches_and_ends_with_a_final_invoke(tmp_path: Path) -> None:
    base = window_base()
    fn = WindowFunction()

    async def body(env: Env) -> None:
        for n, at in ((1, 1_000), (2, 2_000), (3, 3_000), (10, 11_000)):
            await env.table.write("a", n, at_ms=base + at)
        await env.until(lambda: len(fn.finals()) == 2)
        await env.until(lambda: env.checkpoint() == 4)

    run(tmp_path, config(tumbling_window_s=10, batch_size=2), body, fn)
    first, second = (
        {"start": iso(base), "end": iso(base + 10_000)},
        {
            "start": iso(base + 10_000),
            "end": iso(base + 20_000),
        },
    )
    running: dict[str, int] = {}
    for event in fn.events:
        key = event["window"]["start"]
        assert event["shardId"] and event["eventSourceARN"] == STREAM
        assert not event["isWindowTerminatedEarly"]
        # Each invocation got the state the previous one of its window returned ({} at first).
        assert event["state"] == ({"sum": running[key]} if key in running else {})
        if event["isFinalInvokeForWindow"]:
            assert event["Records"] == []
        else:
            numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
            assert numbers and len(numbers) <= 2
            # A batch never spans two windows.
            assert all((n < 10) == (key == first["start"]) for n in numbers)
            running[key] = running.get(key, 0) + sum(numbers)
    assert [e["window"] for e in fn.finals()] == [first, second]
    assert [e["state"] for e in fn.finals()] == [{"sum": 6}, {"sum": 10}]
    assert sum(len(e["Records"]) for e in fn.events) == 4  # each record once


def test_the_checkpoint_waits_for_the_windows_final_invoke(tmp_path: Path) -> None:
    base = window_base()
    fn = WindowFunction()
    fn.gate = asyncio.Event()

    async def body(env: Env) -> None:
        for n, at in ((1, 1_000), (2, 2_000)):
            await env.table.write("a", n, at_ms=base + at)
        await env.until(lambda: len(fn.finals()) == 1)
        # Both records were answered, but the window is not done: a crash now reads it again.
        assert env.checkpoint() == -1
        assert fn.gate is not None
        fn.gate.set()
        await env.until(lambda: env.checkpoint() == 2)

    run(tmp_path, config(tumbling_window_s=10), body, fn)
    assert fn.finals()[0]["state"] == {"sum": 3}


def test_an_answer_without_state_fails_and_the_retry_carries_the_same_state(tmp_path: Path) -> None:
    base = window_base()
    failed: list[int] = []

    def misbehave(event: dict[str, Any]) -> bytes | None:
        numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
        if numbers == [2] and not failed:
            failed.append(2)
            return b'{"batchItemFailures": []}'  # no state: a failed invocation
        return None

    fn = WindowFunction(misbehave)

    async def body(env: Env) -> None:
        for n, at in ((1, 1_000), (2, 2_000)):
            await env.table.write("a", n, at_ms=base + at)
        await env.until(lambda: len(fn.finals()) == 1)

    run(tmp_path, config(tumbling_window_s=10, batch_size=1), body, fn)
    batches = [
        (e["Records"][0]["dynamodb"]["NewImage"]["n"]["N"], e["state"]) for e in fn.events if e["Records"]
    ]
    assert batches == [("1", {}), ("2", {"sum": 1}), ("2", {"sum": 1})]
    assert fn.finals()[0]["state"] == {"sum": 3}


def test_a_partial_batch_response_keeps_its_state_for_the_retried_rest(tmp_path: Path) -> None:
    base = window_base()
    failed: list[str] = []

    def misbehave(event: dict[str, Any]) -> bytes | None:
        records = event["Records"]
        if len(records) == 3 and not failed:
            # Processed the first record only, then reports the second as failed.
            failed.append(records[1]["dynamodb"]["SequenceNumber"])
            state = {"sum": int(records[0]["dynamodb"]["NewImage"]["n"]["N"])}
            return json.dumps({"state": state, "batchItemFailures": [{"itemIdentifier": failed[0]}]}).encode()
        return None

    fn = WindowFunction(misbehave)

    async def body(env: Env) -> None:
        for n, at in ((1, 1_000), (2, 2_000), (4, 3_000)):
            await env.table.write("a", n, at_ms=base + at)
        await env.until(lambda: len(fn.finals()) == 1)

    run(tmp_path, config(tumbling_window_s=10, report_failures=True, window_s=1), body, fn)
    batches = [([r["dynamodb"]["NewImage"]["n"]["N"] for r in e["Records"]], e["state"]) for e in fn.events]
    assert batches[:2] == [(["1", "2", "4"], {}), (["2", "4"], {"sum": 1})]
    assert fn.finals()[0]["state"] == {"sum": 7}


def test_a_state_over_one_megabyte_ends_the_window_early(tmp_path: Path) -> None:
    base = window_base()

    def misbehave(event: dict[str, Any]) -> bytes | None:
        numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
        if numbers == [1]:
            return json.dumps({"state": {"sum": 1, "pad": "x" * (1024 * 1024)}}).encode()
        return None

    fn = WindowFunction(misbehave)

    async def body(env: Env) -> None:
        for n, at in ((1, 1_000), (2, 2_000)):
            await env.table.write("a", n, at_ms=base + at)
        await env.until(lambda: len(fn.finals()) == 2)

    run(tmp_path, config(tumbling_window_s=10, batch_size=1), body, fn)
    shape = [
        (len(e["Records"]), e["isFinalInvokeForWindow"], e["isWindowTerminatedEarly"], e["state"].get("sum"))
        for e in fn.events
    ]
    # The oversized state is flushed by an early final invoke; the window goes on afresh.
    assert shape == [
        (1, False, False, None),
        (0, True, True, 1),
        (1, False, False, None),
        (0, True, False, 2),
    ]
    assert len({json.dumps(e["window"]) for e in fn.events}) == 1


def test_records_no_filter_matches_never_invoke_nor_open_a_window(tmp_path: Path) -> None:
    base = window_base()
    fn = WindowFunction()
    only_twos = '{"dynamodb": {"NewImage": {"n": {"N": ["2"]}}}}'

    async def body(env: Env) -> None:
        await env.table.write("a", 1, at_ms=base + 1_000)  # a window of filtered records only
        await env.until(lambda: env.checkpoint() == 1)
        await env.table.write("a", 2, at_ms=base + 11_000)
        await env.until(lambda: len(fn.finals()) == 1)

    run(tmp_path, config(tumbling_window_s=10, filters=(only_twos,)), body, fn)
    assert [len(e["Records"]) for e in fn.events] == [1, 0]
    assert all(e["window"]["start"] == iso(base + 10_000) for e in fn.events)


def test_a_batch_no_filter_matches_is_not_delivered(tmp_path: Path) -> None:
    only_twos = '{"dynamodb": {"NewImage": {"n": {"N": ["2"]}}}}'

    async def body(env: Env) -> None:
        await env.table.write("a", 1)
        await env.until(lambda: env.checkpoint() == 1)
        await env.table.write("a", 2)
        await env.until(lambda: env.checkpoint() == 2)

    fn = FakeFunction()
    run(tmp_path, config(filters=(only_twos,)), body, fn)
    assert fn.batches == [fn.batches[-1]] and fn.numbers() == [2]
