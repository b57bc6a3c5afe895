"""The write-behind loop the log store and the recordings share: what accumulated in memory is
taken on the event loop and written in a worker thread at a fixed interval, and retention is
enforced less often, also in a thread. A full disk skips one enforcement (it is tried again at
the next pass; a delete is a write too, in WAL mode); any other error ends the loop. Whatever is
left is flushed on the way out, cancellation included."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from stratus.store.diskfull import is_disk_full

Batch = TypeVar("Batch")


async def write_behind(
    take: Callable[[], Batch],
    write: Callable[[Batch], None],
    enforce: Callable[[int], Any],
    flush: Callable[[], None],
    *,
    interval: float,
    enforce_every: float,
) -> None:
    """Run until cancelled: `write(take())` every `interval` seconds, `enforce(now_ms)` every
    `enforce_every` seconds, and `flush()` at the end."""
    last_enforced = 0.0
    try:
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(write, take())
            if time.monotonic() - last_enforced >= enforce_every:
                last_enforced = time.monotonic()
                try:
                    await asyncio.to_thread(enforce, int(time.time() * 1000))
                except Exception as e:
                    if not is_disk_full(e):
                        raise
    finally:
        flush()
