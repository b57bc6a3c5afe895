"""A stream shard's records in flight (their progress towards the checkpoint) and the lanes its
records are dealt to, as the stream runner holds them."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Sequence

from stratus.eventsources import batching
from stratus.eventsources.streaming import StreamItem


class Progress:
    """A shard's records in flight, in read order, and the checkpoint over those done."""

    def __init__(self, after: int) -> None:
        self.after = after  # the checkpoint: everything up to it is done
        self._pending: collections.deque[int] = collections.deque()
        self._done: set[int] = set()
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, sequence: int) -> None:
        self._pending.append(sequence)

    def done(self, sequences: Sequence[int]) -> bool:
        """Marks records done; whether the checkpoint moved."""
        self._done.update(sequences)
        moved = False
        while self._pending and self._pending[0] in self._done:
            self.after = self._pending.popleft()
            self._done.discard(self.after)
            moved = True
        self.changed.set()
        return moved


class Lane:
    def __init__(self) -> None:
        self.items: collections.deque[tuple[StreamItem, float]] = collections.deque()  # (item, arrival)
        self.arrived = asyncio.Event()
        self.quiet_ms: int | None = None  # when the latest read that found nothing began (windows)


def _leading(lane: Lane, belongs: Callable[[StreamItem], bool]) -> int:
    """How many records at the head of a lane `belongs` accepts."""
    count = 0
    for item, _ in lane.items:
        if not belongs(item):
            break
        count += 1
    return count


def _always(item: StreamItem) -> bool:
    return True


async def take_batch(
    lane: Lane, batch_size: int, window_s: float, belongs: Callable[[StreamItem], bool] = _always
) -> list[StreamItem]:
    """The next batch of a lane that is not empty: the records at its head that `belongs`
    accepts (a tumbling window's), waiting up to the batching window from the first one's
    arrival for a full batch, then as many as fit Lambda's payload limit."""
    first_at = lane.items[0][1]
    while len(lane.items) == _leading(lane, belongs) < batch_size:
        left = first_at + window_s - time.monotonic()
        if left <= 0:
            break
        lane.arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lane.arrived.wait(), left)
    batch: list[StreamItem] = []
    size = 0
    while lane.items and len(batch) < batch_size:
        item = lane.items[0][0]
        if not belongs(item) or not batching.fits(size, len(batch), item.record.size):
            break
        lane.items.popleft()
        batch.append(item)
        size += item.record.size
    return batch
