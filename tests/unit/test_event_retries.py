"""EventBridge targets' retries that wait in the store (`events/retries.py`) and the runner that
makes them (`Deliveries.retry_due`, `Deliveries.run`), on a real SQLite store with a clock of the
test's own; a "crash" is a store and a `Deliveries` abandoned without any shutdown, and the
"restart" opens the same file again with a new owner. Also the pure decisions."""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stratus.errors import DiskFull
from stratus.events.delivery import (
    DEFAULT_AGE_S,
    LEASE_MS,
    Deliveries,
    Failed,
    Job,
    Step,
    Waiting,
    backoff,
    expired,
    next_step,
)
from stratus.events.retries import RetryRows
from stratus.events.rules import Target
from stratus.store.sqlite import Store

RULE = "arn:aws:events:us-east-1:123456789012:rule/r"
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"
DLQ = "arn:aws:sqs:us-east-1:123456789012:dlq"
EVENT: dict[str, Any] = {"id": "e-1", "source": "com.shop", "detail": {"n": "é"}}
OTHER_HOST = "another-host-than-this-one:1:x"  # alive as far as this host knows: its lease must lapse
DEAD_HERE = f"{os.uname().nodename}:999999999:gone"  # a server of this host whose process is gone


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Server:
    """One life of a server: its store, its deliveries, and what its targets saw."""

    path: Path
    clock: Clock
    fail: bool = True  # whether the function's async queue refuses (a platform fault)
    owner: str | None = None
    rows_kind: type[RetryRows] = RetryRows
    accepted: list[bytes] = field(default_factory=list)
    refused: int = 0
    sent: list[tuple[str, bytes, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = Store(self.path)
        self.rows = self.rows_kind(self.store, self.owner)
        self.deliveries = Deliveries(
            pending=self.rows,
            accept=self.accept,
            send_message=self.send,
            function_exists=lambda arn: True,
            may_invoke=lambda *a: True,
            may_send=lambda arn, source: True,
            message_target_exists=lambda arn: True,
            clock=self.clock,
            rand=random.Random(7),
        )

    async def accept(self, name: str, qualifier: str | None, payload: bytes, region: str) -> str:
        if self.fail:
            self.refused += 1
            raise DiskFull("the async queue's disk is full")
        self.accepted.append(payload)
        return "request-id"

    async def send(self, arn: str, body: bytes, attributes: Any, region: str) -> None:
        self.sent.append((arn, body, attributes))

    def crash(self) -> None:
        """The process ends: its exclusive lock on the file goes with it (nothing else is
        written: every retry row was committed when it was made)."""
        self.store.close()

    def dead_letter(self) -> dict[str, str]:
        [(arn, body, attributes)] = self.sent
        assert arn == DLQ and json.loads(body) == EVENT
        return {k: v["StringValue"] for k, v in attributes.items()}


def job(clock: Clock, **policy: Any) -> Job:
    target = Target("t", FN, dead_letter_arn=DLQ, **policy)
    return Job(RULE, target, EVENT, b'{"in": "put"}', int(clock.now * 1000))


def test_a_retry_stored_before_a_crash_is_made_after_the_restart(tmp_path: Path) -> None:
    clock = Clock()
    first = Server(tmp_path / "s.db", clock)
    asyncio.run(first.deliveries.deliver(job(clock)))
    assert first.refused == 1 and first.rows.count() == 1  # on disk before deliver returned
    first.crash()  # the next server opens the same file
    second = Server(tmp_path / "s.db", clock, fail=False)
    assert asyncio.run(second.deliveries.retry_due()) == 0  # not due yet: it keeps its time
    clock.now += 61  # past any first backoff (at most 1 s), however long the server was down
    assert asyncio.run(second.deliveries.retry_due()) == 1
    assert second.accepted == [b'{"in": "put"}'] and second.rows.count() == 0
    assert not second.sent


def test_attempt_counts_survive_a_crash_and_reach_the_dead_letter_message(tmp_path: Path) -> None:
    clock = Clock()
    first = Server(tmp_path / "s.db", clock)

    async def before_crash() -> None:
        await first.deliveries.deliver(job(clock, max_retries=3, max_age_s=3600))
        clock.now += 61
        assert await first.deliveries.retry_due() == 1  # retry 1 fails too

    asyncio.run(before_crash())
    assert first.refused == 2 and first.rows.count() == 1
    first.crash()
    second = Server(tmp_path / "s.db", clock)

    async def after_restart() -> None:
        for _ in range(2):  # retries 2 and 3: the policy's last
            clock.now += 61
            assert await second.deliveries.retry_due() == 1

    asyncio.run(after_restart())
    assert second.refused == 2 and second.rows.count() == 0
    values = second.dead_letter()
    assert values["RETRY_ATTEMPTS"] == "3"  # counted across the crash, not restarted
    assert values["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert (values["ERROR_CODE"], values["RULE_ARN"], values["TARGET_ARN"]) == ("INTERNAL_ERROR", RULE, FN)


def test_the_event_age_counts_from_the_first_attempt_across_a_restart(tmp_path: Path) -> None:
    """Down longer than MaximumEventAgeInSeconds: the retry is not made; the event goes to the
    dead-letter queue with the failure stored before the crash and the retries made (none)."""
    clock = Clock()
    first = Server(tmp_path / "s.db", clock)
    asyncio.run(first.deliveries.deliver(job(clock, max_age_s=120)))
    clock.now += 121
    first.crash()
    second = Server(tmp_path / "s.db", clock, fail=False)
    assert asyncio.run(second.deliveries.retry_due()) == 1
    assert second.accepted == [] and second.rows.count() == 0
    values = second.dead_letter()
    assert values["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert values["RETRY_ATTEMPTS"] == "0"
    assert (values["ERROR_CODE"], values["ERROR_MESSAGE"]) == (
        "INTERNAL_ERROR",
        "the async queue's disk is full",
    )


def test_a_lease_holds_a_retry_until_it_lapses_or_its_owner_is_gone(tmp_path: Path) -> None:
    clock = Clock()
    store = Store(tmp_path / "s.db")
    other = RetryRows(store, owner=OTHER_HOST)
    mine = RetryRows(store)
    other.add(job(clock), int(clock.now * 1000), "INTERNAL_ERROR", "x")
    now_ms = int(clock.now * 1000)
    [held] = other.claim(now_ms, LEASE_MS, 10)
    assert held.job.retries == 0 and held.job.target.dead_letter_arn == DLQ
    assert mine.claim(now_ms, LEASE_MS, 10) == []  # held
    assert mine.next_due_ms(now_ms) == now_ms + LEASE_MS  # the runner sleeps until the lease ends
    assert not mine.done(held.id)  # not its lease
    [again] = mine.claim(now_ms + LEASE_MS + 1, LEASE_MS, 10)  # lapsed: made again (at least once)
    assert again.id == held.id
    assert not other.reschedule(held.id, 1, now_ms, "E", "m")  # the lease moved on
    assert mine.reschedule(held.id, 1, now_ms + 5, "E", "m")
    # A server of this host that died: its lease is freed at the next start, not at expiry.
    dead_here = RetryRows(store, owner=DEAD_HERE)
    [taken] = dead_here.claim(now_ms + 5, LEASE_MS, 10)
    assert mine.claim(now_ms + 5, LEASE_MS, 10) == []
    assert mine.release_dead_owners() == 1
    assert [w.id for w in mine.claim(now_ms + 5, LEASE_MS, 10)] == [taken.id]


class FullOnce(RetryRows):
    """The metadata store on a full disk for one write: the retry row is refused."""

    refusals = 1

    def add(self, job: Job, due_ms: int, code: str, message: str) -> str:
        if self.refusals:
            self.refusals -= 1
            raise DiskFull("full")
        return super().add(job, due_ms, code, message)


def test_a_retry_the_full_store_refused_waits_in_memory_and_is_stored_later(tmp_path: Path) -> None:
    clock = Clock()
    server = Server(tmp_path / "s.db", clock, rows_kind=FullOnce)
    asyncio.run(server.deliveries.deliver(job(clock)))
    assert server.deliveries.unsaved == 1 and server.rows.count() == 0
    server.fail = False
    clock.now += 61
    assert asyncio.run(server.deliveries.retry_due()) == 1  # stored, then claimed and made
    assert server.deliveries.unsaved == 0 and server.accepted == [b'{"in": "put"}']


def test_the_runner_makes_stored_retries_as_they_fall_due(tmp_path: Path) -> None:
    """`run`, the scheduler's task, after a restart: the retry the earlier server was making
    when it died (its lease left behind, its process gone) is freed and made, without anyone
    calling `retry_due`."""
    clock = Clock()
    first = Server(tmp_path / "s.db", clock, owner=DEAD_HERE)
    asyncio.run(first.deliveries.deliver(job(clock)))
    clock.now += 61
    [w] = first.rows.claim(int(clock.now * 1000), LEASE_MS, 1)  # it dies making the retry
    assert w.job.retries == 1
    first.crash()
    second = Server(tmp_path / "s.db", clock, fail=False)

    async def scenario() -> None:
        runner = asyncio.create_task(second.deliveries.run())
        try:
            async with asyncio.timeout(30):
                while not second.accepted:
                    await asyncio.sleep(0.01)
        finally:
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner

    asyncio.run(scenario())
    assert second.accepted == [b'{"in": "put"}'] and second.rows.count() == 0


def test_the_decisions_after_a_failure() -> None:
    clock = Clock()
    rand = random.Random(3)
    j = job(clock, max_retries=2, max_age_s=60)
    assert next_step(j, Failed("NO_RESOURCE", "gone", retriable=False), clock.now, rand) == Step(None)
    step = next_step(j, Failed("INTERNAL_ERROR", "x", retriable=True), clock.now, rand)
    assert step.retry_in_s is not None and 0 <= step.retry_in_s <= 1  # the first backoff
    assert step.due_ms(clock.now) == int((clock.now + step.retry_in_s) * 1000)
    late = Job(j.rule_arn, j.target, j.event, j.payload, j.first_ms, retries=1)
    assert next_step(late, Failed("E", "x", retriable=True), clock.now + 60, rand) == Step(
        None, "MaximumEventAgeInSeconds"
    )
    spent = Job(j.rule_arn, j.target, j.event, j.payload, j.first_ms, retries=2)
    assert next_step(spent, Failed("E", "x", retriable=True), clock.now, rand) == Step(
        None, "MaximumRetryAttempts"
    )
    assert expired(j.target, 60) and not expired(j.target, 59.9)
    assert expired(Target("t", FN), DEFAULT_AGE_S) and not expired(Target("t", FN), DEFAULT_AGE_S - 1)
    assert all(0 <= backoff(n, rand) <= min(60, 2**n) for n in range(20))


def test_a_stored_retry_keeps_the_target_as_configured(tmp_path: Path) -> None:
    rows = RetryRows(Store(tmp_path / "s.db"))
    target = Target(
        "t",
        FN,
        input_paths=(("a", "$.detail.n"),),
        input_template='{"a": <a>}',
        role_arn="arn:aws:iam::123456789012:role/r",
        max_retries=7,
        max_age_s=900,
        dead_letter_arn=DLQ,
    )
    original = Job(RULE, target, EVENT, '{"a": "é"}'.encode(), 123, retries=4)
    rows.add(original, 5, "INTERNAL_ERROR", "m")
    [w] = rows.claim(5, LEASE_MS, 10)
    assert w == Waiting(w.id, original, 5, "INTERNAL_ERROR", "m")
