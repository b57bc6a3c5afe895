"""The workers of one stream mapping (DynamoDB Streams): per shard, one reader and
ParallelizationFactor lanes. Records are read in order and dealt to lanes by partition key, so
records of one key stay in order while up to that many batches of the shard are in flight.

Each lane gathers a batch (BatchSize, MaximumBatchingWindowInSeconds, the 6 MB payload),
invokes the function synchronously and settles it as `retrying.decide_stream` says: retries up
to MaximumRetryAttempts (throttles and a missing function do not use them up), bisecting first
with BisectBatchOnFunctionError, checkpointing just before the first failure a partial batch
response reports, and sending what it gives up (retries exhausted, or older than
MaximumRecordAgeInSeconds) to the OnFailure destination as Lambda's invocation record.

The shard's checkpoint moves only over records that are done, contiguously from the oldest,
and is written to the main store after each advance: after a crash reading resumes there, so
records are delivered at least once and in order.

With TumblingWindowInSeconds a shard has one lane (state passes from batch to batch of a window
in order, so ParallelizationFactor does not apply), batches never span two windows, each
invocation carries the window's fields and state (`tumbling.Session`), a closed window gets a
final invocation without records, and the durable checkpoint moves only once a window is done
(see `tumbling`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import json
import logging
import time
import uuid as uuids
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from stratus.control.keys import FunctionKey
from stratus.errors import StratusError, TooManyRequests
from stratus.eventsources import retrying, windows
from stratus.eventsources.filtering import Filters
from stratus.eventsources.lanes import Lane, Progress, take_batch
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import OK, EventSourceMapping
from stratus.eventsources.source import SourceKind
from stratus.eventsources.streaming import Checkpoints, StreamItem, StreamReader
from stratus.eventsources.tumbling import Session
from stratus.invoke.target import Invoked, Target

log = logging.getLogger("stratus.eventsources")

Invoke = Callable[[Target, bytes], Awaitable[Invoked]]
# (destination ARN, message body, region): sends an OnFailure record to a queue or topic.
SendFailure = Callable[[str, bytes, str], Awaitable[None]]
# (function name, age in ms): the IteratorAge metric.
IteratorAge = Callable[[FunctionKey, float], None]  # metrics are regional: the function's key

SHARDS_EVERY_S = 1.0  # how often a runner looks for new shards
IDLE_WAIT_S = 1.0  # a reader's wait for new records before it looks again
PAUSE_S = 1.0  # after a read failure, or while the function is missing


def retry_delay(attempts: int) -> float:
    """The pause before retrying a failed batch: short at first, at most 5 s."""
    return float(min(0.1 * 2**attempts, 5.0))


def failure_record(
    mapping: EventSourceMapping,
    shard: str,
    items: Sequence[StreamItem],
    condition: str,
    invokes: int,
    invoked: Invoked | None,
    now: float,
) -> dict[str, Any]:
    """Lambda's invocation record for stream records it gave up (DDBStreamBatchInfo)."""

    def stamp(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuids.uuid4()),
            "functionArn": mapping.function_arn,
            "condition": condition,
            "approximateInvokeCount": invokes,
        },
    }
    if invoked is not None:
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": invoked.result.executed_version}
        if invoked.result.function_error:
            response["functionError"] = invoked.result.function_error
        record["responseContext"] = response
    record["version"] = "1.0"
    record["timestamp"] = (
        datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )
    record["DDBStreamBatchInfo"] = {
        "shardId": shard,
        "startSequenceNumber": items[0].record.item_id,
        "endSequenceNumber": items[-1].record.item_id,
        "approximateArrivalOfFirstRecord": stamp(items[0].record.sent_ms),
        "approximateArrivalOfLastRecord": stamp(items[-1].record.sent_ms),
        "batchSize": len(items),
        "streamArn": mapping.source_arn,
    }
    return record


class StreamRunner:
    """The workers of one stream mapping."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        source: SourceKind,
        reader: StreamReader,
        invoke: Invoke,
        mappings: Mappings,
        checkpoints: Checkpoints,
        *,
        send_failure: SendFailure | None = None,
        iterator_age: IteratorAge | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.mapping = mapping
        self._source = source
        self._reader = reader
        self._invoke = invoke
        self._mappings = mappings
        self._checkpoints = checkpoints
        self._send_failure = send_failure
        self._iterator_age = iterator_age
        self._clock = clock
        self._filters = Filters(mapping.config.filters)
        self._windowed = mapping.config.tumbling_window_s > 0
        self._target = Target(mapping.function_name, mapping.qualifier, mapping.region, mapping.account_id)
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._invoking: set[asyncio.Task[Any] | None] = set()

    def stop(self) -> None:
        """Stops reading: waiting tasks end now; one in an invoke ends when it returns (its
        batch is not checkpointed, so it is delivered again by the next runner)."""
        self._stopping.set()
        for task in self._tasks:
            if task not in self._invoking:
                task.cancel()

    async def run(self) -> None:
        shards: set[str] = set()
        async with asyncio.TaskGroup() as tasks:
            while not self._stopping.is_set():
                try:
                    for shard in await self._reader.shards():
                        if shard not in shards:
                            shards.add(shard)
                            self._spawn(tasks, self._shard(shard, tasks))
                except Exception as e:
                    log.exception("event source mapping %s: listing shards failed", self.mapping.uuid)
                    self._mappings.note_result(self.mapping.uuid, f"PROBLEM: {_reason(e)}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), SHARDS_EVERY_S)

    def _spawn(self, tasks: asyncio.TaskGroup, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await work

        task = tasks.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _shard(self, shard: str, tasks: asyncio.TaskGroup) -> None:
        """Reads one shard in order and deals its records to the lanes."""
        uuid = self.mapping.uuid
        after = self._checkpoints.get(uuid, shard)
        while after is None and not self._stopping.is_set():
            try:
                after = await self._reader.start(shard, self.mapping)
            except Exception as e:
                self._mappings.note_result(uuid, f"PROBLEM: {_reason(e)}")
                await asyncio.sleep(PAUSE_S)
                continue
            self._checkpoints.put(uuid, shard, after)
        if after is None:
            return
        config = self.mapping.config
        progress = Progress(after)
        lanes = [Lane() for _ in range(1 if self._windowed else max(1, config.parallelization))]
        for lane in lanes:
            work = self._windowed_lane if self._windowed else self._lane
            self._spawn(tasks, work(shard, lane, progress))
        # Read ahead at most this many records beyond the checkpoint.
        ahead = max(config.batch_size, 100) * len(lanes) * 2
        position = after
        while not self._stopping.is_set():
            if len(progress) >= ahead:
                progress.changed.clear()
                await progress.changed.wait()
                continue
            asked_ms = int(self._clock() * 1000)
            try:
                items = await self._reader.read(
                    shard, position, min(ahead - len(progress), 1000), IDLE_WAIT_S
                )
            except Exception as e:
                log.exception("event source mapping %s: reading %s failed", uuid, shard)
                self._mappings.note_result(uuid, f"PROBLEM: {_reason(e)}")
                await asyncio.sleep(PAUSE_S)
                continue
            if not items and self._windowed:  # caught up: an open window may close
                for lane in lanes:
                    lane.quiet_ms = asked_ms
                    lane.arrived.set()
            now = time.monotonic()
            for item in items:
                progress.add(item.sequence)
                lane = lanes[hash(item.partition) % len(lanes)] if len(lanes) > 1 else lanes[0]
                lane.items.append((item, now))
                lane.arrived.set()
                position = item.sequence

    async def _lane(self, shard: str, lane: Lane, progress: Progress) -> None:
        config = self.mapping.config
        while not self._stopping.is_set():
            while not lane.items:
                lane.arrived.clear()
                await lane.arrived.wait()
            batch = await take_batch(lane, config.batch_size, config.window_s)
            await self._deliver(shard, batch, progress)

    def _finish(self, shard: str, progress: Progress, items: Sequence[StreamItem]) -> None:
        moved = bool(items) and progress.done([i.sequence for i in items])
        if moved and not self._windowed:  # a window's records are checkpointed when it is done
            self._checkpoints.put(self.mapping.uuid, shard, progress.after)

    async def _deliver(
        self, shard: str, batch: list[StreamItem], progress: Progress, session: Session | None = None
    ) -> None:
        """One batch to the function, with the stream retry rules, until all of it is done
        (with a tumbling window, in `session`'s window, carrying its state)."""
        config = self.mapping.config
        matched = [i for i in batch if self._filters.matches(i.record.view)]
        # What no filter matches is never delivered, and counts as processed.
        self._finish(shard, progress, [i for i in batch if not self._filters.matches(i.record.view)])
        if not matched:  # nothing to invoke with (a function never gets an empty batch)
            return
        ranges: collections.deque[tuple[int, int, int]] = collections.deque([(0, len(matched), 0)])
        invokes = 0
        while ranges:
            start, end, attempts = ranges.popleft()
            if config.max_record_age_s >= 0:
                now_ms = int(self._clock() * 1000)
                old = start
                age_limit = config.max_record_age_s
                while old < end and retrying.too_old(matched[old].record.sent_ms, now_ms, age_limit):
                    old += 1
                if old > start:
                    await self._give_up(shard, matched[start:old], "RecordAgeExceeded", invokes, None)
                    self._finish(shard, progress, matched[start:old])
                    start = old
                if start >= end:
                    continue
            part = matched[start:end]
            invoked = await self._call(part, session)
            if invoked is None:
                return  # stopping: not checkpointed, read again by the next runner
            invokes += 1
            result = invoked.result
            outcome = retrying.Outcome("error" if result.function_error else "ok", result.payload)
            if session is not None:
                outcome = session.judge(outcome)
            decision = retrying.decide_stream(
                outcome,
                start,
                end,
                [i.record.item_id for i in part],
                attempts,
                max_retries=config.max_retries,
                bisect=config.bisect,
                report_failures=config.report_failures,
            )
            if decision.on_failure is not None:
                low, high = decision.on_failure
                await self._give_up(shard, matched[low:high], "RetryAttemptsExhausted", invokes, invoked)
            if session is not None and outcome.kind == "ok" and decision.checkpoint > start:
                session.accept(result.payload)
            self._finish(shard, progress, matched[start : max(start, decision.checkpoint)])
            if session is not None and session.early:  # the state outgrew 1 MB
                if not await self._final(session):
                    return
                self._checkpoints.put(self.mapping.uuid, shard, progress.after)
                session.restart()
            follow = [(*r, decision.attempts) for r in ((decision.retry,) if decision.retry else ())]
            follow += [(low, high, decision.attempts) for low, high in decision.halves]
            ranges.extendleft(reversed(follow))
            failed = outcome.kind != "ok" or decision.retry is not None
            self._mappings.note_result(self.mapping.uuid, "PROBLEM: Function call failed" if failed else OK)
            if decision.retry is not None and not decision.halves:
                await self._pause(retry_delay(decision.attempts))
            if self._stopping.is_set():
                return

    async def _call(
        self, part: Sequence[StreamItem], session: Session | None = None, *, final: bool = False
    ) -> Invoked | None:
        """Invokes with a batch until the function answers (throttles and a missing function
        are retried without spending an attempt); None when the runner stops first."""
        event = self._source.payload([i.record for i in part])
        if session is not None:
            event = session.wrap(event, final=final)
        payload = json.dumps(event, separators=(",", ":")).encode()
        delay = 0.05
        while not self._stopping.is_set():
            if self._iterator_age is not None and part:
                newest = max(i.record.sent_ms for i in part)
                key = FunctionKey(self.mapping.region, self.mapping.function_name)
                self._iterator_age(key, max(0.0, self._clock() * 1000 - newest))
            task = asyncio.current_task()
            self._invoking.add(task)
            try:
                return await self._invoke(self._target, payload)
            except TooManyRequests:
                await self._pause(delay)
                delay = min(delay * 2, 5.0)
            except StratusError as e:  # the function is gone, or the server is stopping
                self._mappings.note_result(self.mapping.uuid, f"PROBLEM: {e.message}")
                await self._pause(PAUSE_S)
            finally:
                self._invoking.discard(task)
        return None

    async def _final(self, session: Session) -> bool:
        """A window's final invocation (no records, isFinalInvokeForWindow). Lambda holds the
        shard until it succeeds; with MaximumRetryAttempts set, Stratus gives the window's state
        up after that many retries (there are no records to send OnFailure). False when the
        runner stops first (the window is read again from its first record)."""
        retries = self.mapping.config.max_retries
        attempts = 0
        while not self._stopping.is_set():
            invoked = await self._call([], session, final=True)
            if invoked is None:
                return False
            if not invoked.result.function_error:
                self._mappings.note_result(self.mapping.uuid, OK)
                return True
            self._mappings.note_result(self.mapping.uuid, "PROBLEM: Function call failed")
            if 0 <= retries <= attempts:
                log.warning(
                    "event source mapping %s: the final invocation of window %s failed; its state is dropped",
                    self.mapping.uuid,
                    session.window.wire(),
                )
                return True
            attempts += 1
            await self._pause(retry_delay(attempts))
        return False

    async def _windowed_lane(self, shard: str, lane: Lane, progress: Progress) -> None:
        """A shard's one lane under a tumbling window: batches of one window at a time, the
        window's final invocation once it closes, and then its checkpoint."""
        config = self.mapping.config
        size_s = config.tumbling_window_s
        session: Session | None = None
        closed_end = 0  # the end of the last window closed: windows never go back

        def window_of(item: StreamItem) -> windows.Window:
            # A record stamped before the open window (clocks are not monotonic) joins it.
            floor = closed_end if session is None else session.window.start_ms
            return windows.window_for(item.record.sent_ms, size_s, floor)

        while not self._stopping.is_set():
            head = window_of(lane.items[0][0]) if lane.items else None
            if session is not None and windows.closed(session.window, head, lane.quiet_ms):
                if session.invoked and not await self._final(session):
                    return
                self._checkpoints.put(self.mapping.uuid, shard, progress.after)
                closed_end = session.window.end_ms
                session = None
                continue
            if head is None:
                lane.arrived.clear()
                await lane.arrived.wait()
                continue
            if session is None:
                session = Session(head, shard, self.mapping.source_arn)
            in_window = functools.partial(_in_window, window_of, session.window)
            batch = await take_batch(lane, config.batch_size, config.window_s, in_window)
            await self._deliver(shard, batch, progress, session)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _give_up(
        self,
        shard: str,
        items: Sequence[StreamItem],
        condition: str,
        invokes: int,
        invoked: Invoked | None,
    ) -> None:
        destination = self.mapping.config.on_failure
        if not items or destination is None or self._send_failure is None:
            return
        record = failure_record(self.mapping, shard, items, condition, invokes, invoked, self._clock())
        try:
            await self._send_failure(destination, json.dumps(record).encode(), self.mapping.region)
        except Exception as e:  # the records are given up either way, as on Lambda
            log.warning(
                "event source mapping %s: OnFailure to %s failed: %s", self.mapping.uuid, destination, e
            )


def _reason(error: Exception) -> str:
    return error.message if isinstance(error, StratusError) else type(error).__name__


def _in_window(
    window_of: Callable[[StreamItem], windows.Window], window: windows.Window, item: StreamItem
) -> bool:
    return window_of(item) == window
