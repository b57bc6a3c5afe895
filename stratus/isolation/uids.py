"""Uids for environments, unique across every Stratus instance on the host.

A uid (or a block of them, for a snapshot template) is taken by holding an advisory lock on its
file under /run/stratus/uids; the kernel drops the lock if the instance dies.
"""

from __future__ import annotations

import os
from pathlib import Path

from stratus.errors import ServiceError
from stratus.isolation.hostlocks import try_lock

# Environments run as uids from this range, one each, so they cannot signal or read each
# other's processes even where they share a kernel object.
UID_BASE = 200000
UID_COUNT = 100000
UID_LOCKS = Path("/run/stratus/uids")
BLOCK_BASE = 1_000_000
BLOCK_COUNT = 4096


class UidAllocator:
    """Unique uids across every Stratus instance on the host: a uid is taken by holding an
    advisory lock on its file, and the kernel drops the lock if the instance dies."""

    def __init__(self, start: int) -> None:
        UID_LOCKS.mkdir(parents=True, exist_ok=True)
        self._next = start % UID_COUNT
        self._held: dict[int, int] = {}
        self._released: list[int] = []

    def take(self) -> int:
        # Uids this instance released come first, so the lock files track peak concurrency
        # rather than growing with every environment ever started.
        while self._released:
            uid = self._released.pop()
            if self._lock(uid):
                return uid
        for _ in range(UID_COUNT):
            uid = UID_BASE + self._next
            self._next = (self._next + 1) % UID_COUNT
            if uid not in self._held and self._lock(uid):
                return uid
        raise ServiceError("no free environment uid")

    def _lock(self, uid: int) -> bool:
        fd = try_lock(UID_LOCKS / str(uid))
        if fd is None:
            return False
        self._held[uid] = fd
        return True

    def take_block(self, size: int) -> int:
        """A block of `size` consecutive uids, above the single ones, for a template."""
        for index in range(BLOCK_COUNT):
            base = BLOCK_BASE + index * size
            if base in self._held:
                continue
            fd = try_lock(UID_LOCKS / f"block-{base}")
            if fd is None:
                continue
            self._held[base] = fd
            return base
        raise ServiceError("no free uid block for a template")

    def release(self, uid: int) -> None:
        fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)
            if uid < BLOCK_BASE:
                self._released.append(uid)

    def close(self) -> None:
        for uid in list(self._held):
            self.release(uid)
