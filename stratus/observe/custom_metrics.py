"""Metrics that code publishes itself (CloudWatch's PutMetricData): any namespace but AWS's own,
any dimensions, kept per metric and minute as a statistic set (count, sum, minimum, maximum)
with a bounded sample of the values for percentiles.

Each region is its own namespace, as CloudWatch's are: every datum is written to a region (the
one PutMetricData was signed for, the function's that printed an EMF line, the queue's) and
read back only there.

The one owner of `custom_metrics.db`. Publishing is an API call, not a hot path, so each call
is one transaction on the owner's worker thread; a minute's row is read, merged and written
back (portable SQL: the merge happens here, not in SQLite-only functions).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from stratus.store.diskfull import writing
from stratus.store.sqlite import MIGRATED_REGION, connect, transaction

T = TypeVar("T")
log = logging.getLogger("stratus.metrics")
MAX_SAMPLES = 1000  # values kept per metric and minute, for percentiles
PRUNE_EVERY = 100  # PutMetricData calls between two removals of minutes past retention

SCHEMA = """
CREATE TABLE IF NOT EXISTS published (
    region TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dims TEXT NOT NULL,
    minute BIGINT NOT NULL,
    unit TEXT NOT NULL,
    stats TEXT NOT NULL,
    PRIMARY KEY (region, namespace, name, dims, minute)
);
CREATE INDEX IF NOT EXISTS published_by_time ON published(minute);
"""
# Where a data dir's metrics of before regions go (the table `custom`, one namespace): the
# default region. Their rows name no function or queue, so no better home is knowable: an EMF
# line's dimensions are its writer's choice and need not name the function that printed it.
OLD_TABLE = "custom"


def dims_key(dimensions: Mapping[str, str]) -> str:
    """A dimension set as one canonical text: the same set, whatever the order it came in."""
    return json.dumps(sorted(dimensions.items()), separators=(",", ":"))


@dataclass
class StatSet:
    count: float = 0.0
    total: float = 0.0
    low: float = 0.0
    high: float = 0.0
    samples: list[float] = field(default_factory=list)  # the latest MAX_SAMPLES count

    @property
    def kept(self) -> list[float]:
        """The values kept for percentiles: the latest MAX_SAMPLES."""
        return self.samples[-MAX_SAMPLES:]

    def add(self, count: float, total: float, low: float, high: float, samples: Iterable[float]) -> None:
        self.low = low if not self.count else min(self.low, low)
        self.high = high if not self.count else max(self.high, high)
        self.count += count
        self.total += total
        self.samples.extend(samples)
        if len(self.samples) > 2 * MAX_SAMPLES:  # trimmed now and then: merging stays linear
            del self.samples[:-MAX_SAMPLES]

    def merge(self, other: StatSet) -> None:
        if other.count:
            self.add(other.count, other.total, other.low, other.high, other.samples)

    def to_json(self) -> str:
        return json.dumps([self.count, self.total, self.low, self.high, self.samples[-MAX_SAMPLES:]])

    @classmethod
    def from_json(cls, text: str) -> StatSet:
        count, total, low, high, samples = json.loads(text)
        return cls(count, total, low, high, list(samples))


@dataclass(frozen=True)
class Datum:
    """One published value (or statistic set) of one metric, in one minute."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    minute: int
    unit: str
    stats: StatSet


Row = tuple[str, str, str, str, int]  # region, namespace, name, dimensions' key, minute


def coalesce(data: Sequence[tuple[str, Datum]]) -> dict[Row, tuple[str, StatSet]]:
    """The (region, datum) pairs merged per region, series and minute, in the order first seen
    (the last unit given wins, as a stored row's does): a flush reads and writes each row once,
    not once per datum (a queue's SendMessage records two datums, thousands a second)."""
    merged: dict[Row, tuple[str, StatSet]] = {}
    for region, datum in data:
        key = (region, datum.namespace, datum.name, dims_key(datum.dimensions), datum.minute)
        held = merged.get(key)
        stats = held[1] if held is not None else StatSet()
        stats.merge(datum.stats)
        merged[key] = (datum.unit, stats)
    return merged


@dataclass(frozen=True)
class Series:
    namespace: str
    name: str
    dimensions: Mapping[str, str]


class CustomMetrics:
    def __init__(self, path: Path, retention_days: float, clock: Callable[[], float] = time.time) -> None:
        self._conn = connect(path)
        self._conn.executescript(SCHEMA)
        self._place_old_rows()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="custom-metrics")
        self._retention_s = int(retention_days * 86400)
        self._clock = clock
        self._puts = 0
        # Datums recorded on the loop (from functions' log lines, queues' events) since the
        # last flush, each with its region.
        self._pending: list[tuple[str, Datum]] = []

    def _place_old_rows(self) -> None:
        """A data dir's rows of before regions (table `custom`) move to us-east-1, once: one
        transaction that copies them and drops the old table (a crash leaves it whole, and the
        next start moves it again)."""
        found = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (OLD_TABLE,)
        ).fetchone()
        if found is None:
            return
        with writing(), transaction(self._conn):
            self._conn.execute(
                "INSERT INTO published(region, namespace, name, dims, minute, unit, stats) "
                f"SELECT ?, namespace, name, dims, minute, unit, stats FROM {OLD_TABLE} WHERE true "
                "ON CONFLICT(region, namespace, name, dims, minute) DO NOTHING",
                (MIGRATED_REGION,),
            )
            self._conn.execute(f"DROP TABLE {OLD_TABLE}")

    def close(self) -> None:
        self._db.shutdown(wait=True)
        self._conn.close()

    async def _on_db(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def put(self, region: str, data: Sequence[Datum]) -> None:
        """Write `data` in `region` (PutMetricData's: one transaction)."""
        await self._on_db(lambda: self._put([(region, d) for d in data]))

    def record(self, region: str, data: Sequence[Datum]) -> None:
        """On the loop, from a hot path (a function's output, a queue's events): kept in memory,
        written by the flusher in `region`; reads flush first."""
        self._pending.extend((region, d) for d in data)

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await self._on_db(lambda: self._put(batch))

    async def run_flusher(self, interval: float = 1.0) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                await self._flush_logged()
        finally:  # stopping: what was recorded is written before the store closes
            await self._flush_logged()

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception as e:  # a full disk: these minutes are lost, the next ones are tried
            log.warning("metrics published in function logs could not be stored: %s", e)

    def _put(self, data: Sequence[tuple[str, Datum]]) -> None:
        with writing(), transaction(self._conn):
            for key, (unit, merged) in coalesce(data).items():
                row = self._conn.execute(
                    "SELECT stats FROM published WHERE region = ? AND namespace = ? AND name = ? "
                    "AND dims = ? AND minute = ?",
                    key,
                ).fetchone()
                stats = StatSet.from_json(row[0]) if row else StatSet()
                stats.merge(merged)
                self._conn.execute(
                    "INSERT INTO published(region, namespace, name, dims, minute, unit, stats) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(region, namespace, name, dims, minute) DO UPDATE SET "
                    "unit = excluded.unit, stats = excluded.stats",
                    (*key, unit, stats.to_json()),
                )
            self._puts += 1
            if self._puts % PRUNE_EVERY == 1:  # minutes past retention go, in the same write
                before = int(self._clock()) - self._retention_s
                self._conn.execute("DELETE FROM published WHERE minute < ?", (before,))

    async def minutes(
        self, region: str, series: Series, start: int, end: int
    ) -> list[tuple[int, str, StatSet]]:
        """(minute, unit, statistics) of one series of `region`, minutes in [start, end)."""
        await self.flush()

        def read() -> list[tuple[int, str, StatSet]]:
            rows = self._conn.execute(
                "SELECT minute, unit, stats FROM published WHERE region = ? AND namespace = ? "
                "AND name = ? AND dims = ? AND minute >= ? AND minute < ? ORDER BY minute",
                (region, series.namespace, series.name, dims_key(series.dimensions), start, end),
            ).fetchall()
            return [(int(m), str(u), StatSet.from_json(s)) for m, u, s in rows]

        return await self._on_db(read)

    async def series(self, region: str, since: int) -> list[Series]:
        """Every series of `region` with data since `since`, by namespace, name and dimensions."""
        await self.flush()

        def read() -> list[tuple[str, str, str]]:
            rows = self._conn.execute(
                "SELECT DISTINCT namespace, name, dims FROM published WHERE region = ? AND minute >= ? "
                "ORDER BY namespace, name, dims",
                (region, since),
            ).fetchall()
            return [(str(n), str(m), str(d)) for n, m, d in rows]

        found = await self._on_db(read)
        return [Series(n, m, dict(json.loads(d))) for n, m, d in found]
