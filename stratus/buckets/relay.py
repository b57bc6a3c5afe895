"""The notification relay: moves deliveries from the bucket store's outbox to their targets (a
function's through the durable async queue, the same `accept` a Lambda Event invoke uses; a
queue's or a topic's as a message: `targets.py`), at least once.

An object change and its deliveries are committed in one transaction (`Buckets`), so a
delivery exists exactly when its change does. The relay removes a delivery from the outbox only
after its target has it on disk; a crash in between sends it again (at least once, as S3
promises). At start it drains what a previous run left."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

from stratus.buckets.model import Delivery
from stratus.buckets.targets import Deliver, Undeliverable

log = logging.getLogger(__name__)

BATCH = 100
FIRST_BACKOFF = 0.05
MAX_BACKOFF = 30.0


class Outbox(Protocol):
    """What the relay needs of `Buckets`."""

    async def pending(self, limit: int = 100) -> list[tuple[int, Delivery]]: ...
    async def delivered(self, ids: Sequence[int]) -> None: ...


def next_backoff(previous: float) -> float:
    """The wait before retrying after a failed enqueue (a full disk, a closed queue): doubling
    from FIRST_BACKOFF up to MAX_BACKOFF, so a long outage costs a retry every 30 s."""
    return min(MAX_BACKOFF, previous * 2) if previous else FIRST_BACKOFF


class Relay:
    def __init__(self, buckets: Outbox, deliver: Deliver) -> None:
        self._buckets = buckets
        self._deliver = deliver
        self._wanted = asyncio.Event()
        self._wanted.set()  # at start: whatever a crash left in the outbox
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def wake(self) -> None:
        """Something was added to the outbox. Safe from any thread (the store's worker may
        call it); cheap when the relay is already awake."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self._wanted.set)
        else:
            self._wanted.set()

    async def run(self) -> None:
        """Forever: drain the outbox, then sleep until woken. Cancelled at shutdown; a
        cancellation mid-batch leaves the batch in the outbox for the next start."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        backoff = 0.0
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                more = await self.drain_once()
            except Exception:
                # The store itself failed (a full disk on the outbox's side): the deliveries
                # stay where they are; try again later rather than lose them or spin.
                log.exception("bucket notifications: reading the outbox failed")
                more, failed = True, True
            else:
                failed = more is None
            if failed:
                backoff = next_backoff(backoff)
                await asyncio.sleep(backoff)
                self._wanted.set()
                continue
            backoff = 0.0
            if more:
                self._wanted.set()

    async def drain_once(self) -> bool | None:
        """One batch: True when the outbox may hold more, False when it is empty, None when a
        delivery could not be enqueued (it stays in the outbox)."""
        batch = await self._buckets.pending(BATCH)
        if not batch:
            return False
        done: list[int] = []
        failed = False

        async def one(row: int, delivery: Delivery) -> None:
            nonlocal failed
            try:
                await self._deliver(delivery)
            except Undeliverable as e:
                # Its target is gone (or was never one): nothing could ever deliver it.
                log.error("bucket notification dropped: %s", e)
            except Exception as e:
                failed = True
                log.warning("bucket notification to %s not queued yet: %s", delivery.target_arn, e)
                return
            done.append(row)

        # Concurrently, so that one group commit of the async queue takes the whole batch.
        async with asyncio.TaskGroup() as tasks:
            for row, delivery in batch:
                tasks.create_task(one(row, delivery))
        if done:
            await self._buckets.delivered(done)
        if failed:
            return None
        return len(batch) >= BATCH
