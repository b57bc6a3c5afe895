"""A stream shard's records in flight (their progress towards the checkpoint) and the lanes its
records are dealt to, as the stream runner holds them."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence

from stratus.eventsources.streaming import StreamItem
from stratus.eventsources.windows import Window


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


def leading(lane: Lane, window: Window, window_of: Callable[[StreamItem], Window]) -> int:
    """How many records at the head of a lane belong to `window`."""
    count = 0
    for item, _ in lane.items:
        if window_of(item) != window:
            break
        count += 1
    return count
