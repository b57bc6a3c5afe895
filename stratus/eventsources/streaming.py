"""What a stream source kind gives the mapping machine, and where a stream mapping's progress
is kept. A queue's reader leases and deletes; a stream's is read in order from a position, and
the mapping keeps that position (its checkpoint) itself: one row per shard in the main store,
written only after the records before it were processed (or given up), so a crash replays
from the last checkpoint and nothing is skipped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from stratus.eventsources.model import EventSourceMapping
from stratus.eventsources.source import Record, SourceKind
from stratus.store.sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_checkpoints (
    uuid TEXT NOT NULL,
    shard TEXT NOT NULL,
    after_sequence INTEGER NOT NULL,
    PRIMARY KEY (uuid, shard)
)
"""


@dataclass(frozen=True)
class StreamItem:
    """One stream record read for a mapping."""

    sequence: int
    partition: str  # the record's partition key (records of one key stay in order)
    record: Record  # its event, size and filter view; item_id is its sequence number text


class StreamReader(Protocol):
    """Reads one mapping's stream, shard by shard, in order."""

    async def shards(self) -> list[str]:
        """The shards to read now (none when the stream is gone)."""
        ...

    async def start(self, shard: str, mapping: EventSourceMapping) -> int:
        """Where a mapping without a checkpoint starts reading `shard` (StartingPosition):
        the sequence number reading starts after (-1: the oldest record kept)."""
        ...

    async def read(self, shard: str, after: int, limit: int, wait_s: float) -> list[StreamItem]:
        """Up to `limit` records after `after`, in order, waiting up to `wait_s` for the first."""
        ...


@runtime_checkable
class StreamSource(SourceKind, Protocol):
    """A source kind with stream semantics."""

    def open_stream(self, mapping: EventSourceMapping) -> StreamReader: ...


class Checkpoints:
    """Each stream mapping's position per shard, in the main store (one transaction each)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as conn:
            conn.execute(SCHEMA)

    def get(self, uuid: str, shard: str) -> int | None:
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT after_sequence FROM stream_checkpoints WHERE uuid = ? AND shard = ?", (uuid, shard)
            ).fetchone()
        return None if row is None else int(row[0])

    def put(self, uuid: str, shard: str, after: int) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO stream_checkpoints(uuid, shard, after_sequence) VALUES (?, ?, ?) "
                "ON CONFLICT(uuid, shard) DO UPDATE SET after_sequence = excluded.after_sequence",
                (uuid, shard, after),
            )

    def forget(self, uuids: Sequence[str]) -> None:
        """Drops the checkpoints of mappings that are gone."""
        with self._store.transaction() as conn:
            for uuid in uuids:
                conn.execute("DELETE FROM stream_checkpoints WHERE uuid = ?", (uuid,))

    def mappings(self) -> set[str]:
        with self._store.transaction() as conn:
            return {str(r[0]) for r in conn.execute("SELECT DISTINCT uuid FROM stream_checkpoints")}
