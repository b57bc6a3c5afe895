"""The pollers: for each enabled mapping, a runner holding a few worker tasks that read
batches from the source, invoke the function synchronously (`InvokeService.invoke_target`, the
path every invoke takes) and settle the batch as `retrying` decides; the runner resizes its
workers every second as `scaling` decides.

Structured: `Pollers.run` holds every runner in one TaskGroup and each runner its workers in
its own, so nothing outlives the server. A mapping disabled, changed or deleted stops its
runner: idle workers (waiting in a long poll) are cancelled, busy ones finish their batch. A
worker's crash is logged, noted as the mapping's LastProcessingResult, and the worker goes on
after a pause, so one bad batch never stops a mapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from stratus.errors import StratusError, TooManyRequests
from stratus.eventsources import batching, retrying, scaling
from stratus.eventsources.filtering import Filters
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.model import OK, EventSourceMapping
from stratus.eventsources.source import Reader, Record, SourceKind
from stratus.eventsources.stream_runner import IteratorAge, SendFailure, StreamRunner
from stratus.eventsources.streaming import Checkpoints, StreamSource
from stratus.invoke.target import Invoked, Target

log = logging.getLogger("stratus.eventsources")

Invoke = Callable[[Target, bytes], Awaitable[Invoked]]
TICK_S = 1.0  # how often a runner looks at its scaling
CRASH_PAUSE_S = 1.0  # a worker's pause after an unexpected error or a missing function


@dataclass(frozen=True)
class _Key:
    """What a runner was started for: a change of any of these restarts it."""

    function_name: str
    qualifier: str | None
    source_arn: str
    config: object

    @staticmethod
    def of(mapping: EventSourceMapping) -> _Key:
        return _Key(mapping.function_name, mapping.qualifier, mapping.source_arn, mapping.config)


class Pollers:
    def __init__(
        self,
        mappings: Mappings,
        sources: Mapping[str, SourceKind],
        invoke: Invoke,
        *,
        function_limit: Callable[[str], int | None] = lambda name: None,
        tick_s: float = TICK_S,
        checkpoints: Checkpoints | None = None,
        send_failure: SendFailure | None = None,
        iterator_age: IteratorAge | None = None,
    ) -> None:
        self._mappings = mappings
        self._sources = sources
        self._invoke = invoke
        self._function_limit = function_limit
        self._tick_s = tick_s
        # Stream mappings' positions, what they send given-up records with, their IteratorAge.
        self._checkpoints = checkpoints
        self._send_failure = send_failure
        self._iterator_age = iterator_age
        self._running: dict[str, tuple[_Key, Runner | StreamRunner]] = {}

    def runner(self, uuid: str) -> Runner | StreamRunner | None:
        entry = self._running.get(uuid)
        return entry[1] if entry else None

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            while True:
                self._mappings.changed.clear()
                self._reconcile(tasks)
                await self._mappings.changed.wait()

    def _reconcile(self, tasks: asyncio.TaskGroup) -> None:
        present = {m.uuid: m for m in self._mappings.all()}
        for uuid in [u for u in self._running if u not in present]:
            self._stop(uuid)
        if self._checkpoints is not None:  # a deleted stream mapping's positions go with it
            self._checkpoints.forget(sorted(self._checkpoints.mappings() - set(present)))
        for mapping in present.values():
            entry = self._running.get(mapping.uuid)
            if mapping.wants_pollers:
                if entry is not None and entry[0] != _Key.of(mapping):
                    self._stop(mapping.uuid)
                    entry = None
                if entry is None:
                    self._start(mapping, tasks)
                self._mappings.settle(mapping.uuid)
            elif entry is not None:
                self._stop(mapping.uuid)  # settles once its workers have finished
            else:
                self._mappings.settle(mapping.uuid)

    def _start(self, mapping: EventSourceMapping, tasks: asyncio.TaskGroup) -> None:
        source = self._sources.get(mapping.source_service)
        if source is None:
            log.warning("event source mapping %s: no source kind for %s", mapping.uuid, mapping.source_arn)
            return
        runner: Runner | StreamRunner
        if source.semantics == "stream":
            if not isinstance(source, StreamSource) or self._checkpoints is None:
                log.warning("event source mapping %s: %s is not read here", mapping.uuid, mapping.source_arn)
                return
            runner = StreamRunner(
                mapping,
                source,
                source.open_stream(mapping),
                self._invoke,
                self._mappings,
                self._checkpoints,
                send_failure=self._send_failure,
                iterator_age=self._iterator_age,
            )
        else:
            runner = Runner(
                mapping,
                source,
                source.open(mapping),
                self._invoke,
                self._mappings,
                self._function_limit,
                self._tick_s,
            )
        self._running[mapping.uuid] = (_Key.of(mapping), runner)
        task = tasks.create_task(runner.run())
        uuid = mapping.uuid

        def finished(_: asyncio.Task[None]) -> None:
            # A stopped runner's mapping can now settle (Disabled, or gone when deleted).
            self._mappings.settle(uuid)
            self._mappings.changed.set()

        task.add_done_callback(finished)

    def _stop(self, uuid: str) -> None:
        _, runner = self._running.pop(uuid)
        runner.stop()


class Runner:
    """The workers of one mapping."""

    def __init__(
        self,
        mapping: EventSourceMapping,
        source: SourceKind,
        reader: Reader,
        invoke: Invoke,
        mappings: Mappings,
        function_limit: Callable[[str], int | None],
        tick_s: float,
    ) -> None:
        self.mapping = mapping
        self._source = source
        self._reader = reader
        self._invoke = invoke
        self._mappings = mappings
        self._function_limit = function_limit
        self._tick_s = tick_s
        self._filters = Filters(mapping.config.filters)
        self._target = Target(mapping.function_name, mapping.qualifier, mapping.region, mapping.account_id)
        self._stopping = asyncio.Event()
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._busy: set[int] = set()
        self._counts = {"full": 0, "partial": 0, "empty": 0, "throttled": 0}
        self.wanted = 0

    @property
    def size(self) -> int:
        return len(self._workers)

    def stop(self) -> None:
        self._stopping.set()
        for slot, task in self._workers.items():
            if slot not in self._busy:
                task.cancel()

    async def run(self) -> None:
        config = self.mapping.config
        self.wanted = scaling.initial(
            config.max_concurrency, self._function_limit(self.mapping.function_arn)
        )
        async with asyncio.TaskGroup() as tasks:
            self._resize(tasks)
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._tick_s)
                if self._stopping.is_set():
                    break
                try:
                    backlog = await self._reader.backlog()
                except Exception:  # the source is gone or failing: the workers will say so
                    backlog = 0
                recent = scaling.Recent(backlog=backlog, **self._counts)
                self._counts = dict.fromkeys(self._counts, 0)
                self.wanted = scaling.target(
                    len(self._workers),
                    recent,
                    self._tick_s,
                    config.max_concurrency,
                    self._function_limit(self.mapping.function_arn),
                )
                self._resize(tasks)

    def _resize(self, tasks: asyncio.TaskGroup) -> None:
        slot = 0
        while len(self._workers) < self.wanted:
            while slot in self._workers:
                slot += 1
            self._workers[slot] = tasks.create_task(self._work(slot))
        # Too many: idle ones beyond the count go now; busy ones leave after their batch.
        for extra in sorted(self._workers)[self.wanted :]:
            if extra not in self._busy:
                self._workers[extra].cancel()

    async def _work(self, slot: int) -> None:
        carry: list[Record] = []
        try:
            while not self._stopping.is_set() and slot < max(self.wanted, 1):
                try:
                    batch, full = await self._gather(carry)
                    if not batch:
                        self._counts["empty"] += 1
                        continue
                    self._counts["full" if full else "partial"] += 1
                    self._busy.add(slot)
                    try:
                        await self._process(batch)
                    finally:
                        self._busy.discard(slot)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    log.exception("event source mapping %s: a poller failed", self.mapping.uuid)
                    self._mappings.note_result(self.mapping.uuid, f"PROBLEM: {_reason(e)}")
                    await asyncio.sleep(CRASH_PAUSE_S)
        except asyncio.CancelledError:
            pass  # a stop or scale-down while idle; records it had read come back by themselves
        finally:
            self._workers.pop(slot, None)

    async def _gather(self, carry: list[Record]) -> tuple[list[Record], bool]:
        """One batch, and whether it came full (BatchSize or the payload limit)."""
        config = self.mapping.config
        batch = list(carry)
        carry.clear()
        size = sum(r.size for r in batch)
        started = time.monotonic()
        while True:
            now = time.monotonic()
            if batch and batching.complete(len(batch), config.batch_size, started, now, config.window_s):
                return batch, len(batch) >= config.batch_size
            records = await self._reader.read(
                batching.read_size(len(batch), config.batch_size),
                batching.read_wait(len(batch), started, now, config.window_s),
            )
            if not batch:
                if not records:
                    return [], False
                started = time.monotonic()  # the window runs from the first record
            for record in records:
                if not carry and batching.fits(size, len(batch), record.size):
                    batch.append(record)
                    size += record.size
                else:
                    carry.append(record)
            if carry:
                return batch, True

    async def _process(self, batch: Sequence[Record]) -> None:
        matched = [r for r in batch if self._filters.matches(r.view)]
        if len(matched) < len(batch):
            # Lambda deletes what no filter matches: it is never delivered.
            await self._reader.ack([r for r in batch if not self._filters.matches(r.view)])
        if not matched:
            return
        payload = json.dumps(self._source.payload(matched), separators=(",", ":")).encode()
        started = time.monotonic()
        delay = 0.05
        while True:
            try:
                invoked = await self._invoke(self._target, payload)
                break
            except TooManyRequests:
                # Throttled: back off and try again while the batch is still ours.
                self._counts["throttled"] += 1
                if time.monotonic() - started + delay > self._reader.hold_s / 2:
                    self._mappings.note_result(self.mapping.uuid, "PROBLEM: Function call throttled.")
                    await self._reader.release(matched)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except StratusError as e:  # the function is gone, or the server is stopping
                self._mappings.note_result(self.mapping.uuid, f"PROBLEM: {e.message}")
                await self._reader.release(matched)
                await asyncio.sleep(CRASH_PAUSE_S)
                return
        result = invoked.result
        outcome = retrying.Outcome("error" if result.function_error else "ok", result.payload)
        decision = retrying.decide_queue(
            outcome, [r.item_id for r in matched], self.mapping.config.report_failures
        )
        if decision.ack:
            await self._reader.ack([matched[i] for i in decision.ack])
        if decision.release:
            await self._reader.release([matched[i] for i in decision.release])
        self._mappings.note_result(
            self.mapping.uuid, OK if outcome.kind == "ok" else "PROBLEM: Function call failed"
        )


def _reason(error: Exception) -> str:
    return error.message if isinstance(error, StratusError) else type(error).__name__
