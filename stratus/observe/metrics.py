"""Per-minute metrics and metering of every invocation, off the invoke hot path.

`record` and `throttled` only update an in-memory bucket (the event loop is the one writer);
a background task writes the buckets touched since its last pass to `metrics.db`, so reads
(the cost report, later the CloudWatch API) see every invocation once they flush first.
Buckets are kept per region, per function, per dimension (`$LATEST`, a version, or an alias)
and per minute, as Lambda's metrics are: CloudWatch is regional, so eu-west-1's metrics never
count us-east-1's invocations, and the account's gauges are per region too (Lambda's account
concurrency is). Minutes of before regions (the `minutes` table) move into their function's
region at start (`place_regions`). Metering sums are exact: billed milliseconds (init included,
as Lambda now bills it) and GB-seconds are added up from each invocation's own figures.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stratus.control.keys import DEFAULT_REGION, FunctionKey
from stratus.observe.drops import Drops
from stratus.store.diskfull import is_disk_full, writing
from stratus.store.sqlite import connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS lambda_minutes (
    region TEXT NOT NULL,
    function TEXT NOT NULL,
    dimension TEXT NOT NULL,
    minute INTEGER NOT NULL,  -- epoch seconds at the start of the minute
    stats TEXT NOT NULL,      -- JSON of Bucket
    PRIMARY KEY (region, function, dimension, minute)
);
CREATE INDEX IF NOT EXISTS lambda_minutes_by_time ON lambda_minutes(minute);
"""
FLUSH_INTERVAL = 2.0
PRUNE_EVERY = 30  # flushes between prunes of minutes past retention (a minute apart)
DEFAULT_RETENTION_S = 15 * 86400
MAX_SAMPLES = 2000  # durations kept per bucket for percentiles (evenly thinned beyond that)


@dataclass
class Bucket:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    init_ms_sum: float = 0.0
    init_ms_min: float = 0.0  # of the cold starts counted (meaningless while there are none)
    init_ms_max: float = 0.0
    duration_sum: float = 0.0
    duration_max: float = 0.0
    billed_ms: int = 0
    gb_ms: float = 0.0  # billed ms x memory GB; GB-seconds is this / 1000
    durations: list[float] = field(default_factory=list)
    # Gauges, kept as the minute's peak: executions running at once (the function's, or on the
    # account bucket the account's), and provisioned environments busy of those allocated.
    concurrent_max: int = 0
    unreserved_max: int = 0
    provisioned_max: int = 0
    provisioned_alloc: int = 0
    provisioned_invocations: int = 0
    spillover_invocations: int = 0
    # Asynchronous invocation: events accepted, dropped, and their age when first dequeued.
    async_received: int = 0
    async_dropped: int = 0
    async_age_count: int = 0
    async_age_sum: float = 0.0
    async_age_max: float = 0.0
    async_age_min: float = 0.0  # of the ages counted (meaningless while there are none)
    destination_failures: int = 0
    dead_letter_errors: int = 0
    recursive_dropped: int = 0
    # Stream event source mappings: the age of the newest record of each batch at its invoke.
    iterator_age_count: int = 0
    iterator_age_sum: float = 0.0
    iterator_age_max: float = 0.0
    iterator_age_min: float = 0.0  # of the ages counted (meaningless while there are none)

    def add(
        self, duration_ms: float, billed_ms: int, memory_mb: int, init_ms: float | None, error: bool
    ) -> None:
        self.invocations += 1
        self.errors += int(error)
        self.duration_sum += duration_ms
        self.duration_max = max(self.duration_max, duration_ms)
        self.billed_ms += billed_ms
        self.gb_ms += billed_ms * memory_mb / 1024
        if init_ms is not None:
            self.init_ms_min = init_ms if not self.cold_starts else min(self.init_ms_min, init_ms)
            self.init_ms_max = max(self.init_ms_max, init_ms)
            self.cold_starts += 1
            self.init_ms_sum += init_ms
        if len(self.durations) < MAX_SAMPLES:
            self.durations.append(duration_ms)
        elif self.invocations % 2 == 0:  # beyond the cap, keep a thinned sample
            self.durations[self.invocations % MAX_SAMPLES] = duration_ms

    def merge(self, other: Bucket) -> None:
        # Minimums of what the other bucket counted, before the counts are summed.
        if other.cold_starts:
            low = other.init_ms_min
            self.init_ms_min = min(self.init_ms_min, low) if self.cold_starts else low
        if other.async_age_count:
            low = other.async_age_min
            self.async_age_min = min(self.async_age_min, low) if self.async_age_count else low
        if other.iterator_age_count:
            low = other.iterator_age_min
            self.iterator_age_min = min(self.iterator_age_min, low) if self.iterator_age_count else low
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in PEAKS:
            setattr(self, name, max(getattr(self, name), getattr(other, name)))
        self.durations = (self.durations + other.durations)[-MAX_SAMPLES:]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Bucket:
        # Fields a newer or older server wrote and this one does not keep are left out.
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})


SUMMED = (
    "invocations",
    "errors",
    "throttles",
    "cold_starts",
    "billed_ms",
    "init_ms_sum",
    "duration_sum",
    "gb_ms",
    "provisioned_invocations",
    "spillover_invocations",
    "async_received",
    "async_dropped",
    "async_age_count",
    "async_age_sum",
    "destination_failures",
    "dead_letter_errors",
    "recursive_dropped",
    "iterator_age_count",
    "iterator_age_sum",
)
PEAKS = (
    "duration_max",
    "concurrent_max",
    "unreserved_max",
    "provisioned_max",
    "provisioned_alloc",
    "async_age_max",
    "iterator_age_max",
    "init_ms_max",
)
ACCOUNT = ("", "account")  # the (function, dimension) of the account-wide gauges (per region)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True)
class Usage:
    """Metered use of one function (or one day), for the cost report."""

    key: str
    requests: int
    billed_ms: int
    gb_seconds: float


class Metrics:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path, durable=False)
        self._conn.executescript(SCHEMA)
        self._db_lock = threading.Lock()
        # (region, function, dimension, minute) -> what was added since the last flush
        self._pending: dict[tuple[str, str, str, int], Bucket] = {}
        # Totals since start, for the Prometheus endpoint.
        self.totals: dict[FunctionKey, Bucket] = {}
        self.drops = Drops("metrics")  # minute buckets a full disk kept out

    # -- the hot path: in-memory only ------------------------------------------------------

    def record(
        self,
        function: FunctionKey,
        dimensions: Iterable[str],
        duration_ms: float,
        billed_ms: int,
        memory_mb: int,
        init_ms: float | None,
        error: bool,
    ) -> None:
        minute = int(time.time()) // 60 * 60
        for dimension in dimensions:
            key = (function.region, function.name, dimension, minute)
            bucket = self._pending.get(key)
            if bucket is None:
                bucket = self._pending[key] = Bucket()
            bucket.add(duration_ms, billed_ms, memory_mb, init_ms, error)
        total = self.totals.get(function)
        if total is None:
            total = self.totals[function] = Bucket()
        total.add(duration_ms, billed_ms, memory_mb, init_ms, error)
        if len(total.durations) >= MAX_SAMPLES:
            total.durations.clear()  # totals keep counts; percentiles come from the minutes

    def _bucket(self, region: str, function: str, dimension: str) -> Bucket:
        key = (region, function, dimension, int(time.time()) // 60 * 60)
        bucket = self._pending.get(key)
        if bucket is None:
            bucket = self._pending[key] = Bucket()
        return bucket

    def throttled(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").throttles += 1
        total = self.totals.setdefault(function, Bucket())
        total.throttles += 1

    def running(
        self, function: FunctionKey, dimension: str, in_use: int, account: int, unreserved: int
    ) -> None:
        """An invocation has started: the concurrency gauges' peaks (one clock read for both)."""
        pending, region = self._pending, function.region
        minute = int(time.time()) // 60 * 60
        key = (region, function.name, dimension, minute)
        bucket = pending.get(key) or pending.setdefault(key, Bucket())
        if in_use > bucket.concurrent_max:
            bucket.concurrent_max = in_use
        key = (region, *ACCOUNT, minute)
        whole = pending.get(key) or pending.setdefault(key, Bucket())
        if account > whole.concurrent_max:
            whole.concurrent_max = account
        if unreserved > whole.unreserved_max:
            whole.unreserved_max = unreserved

    def provisioned(
        self, function: FunctionKey, dimension: str, busy: int, allocated: int, spillover: bool
    ) -> None:
        """An invocation of a configuration with provisioned concurrency has started."""
        bucket = self._bucket(function.region, function.name, dimension)
        bucket.provisioned_max = max(bucket.provisioned_max, busy)
        bucket.provisioned_alloc = max(bucket.provisioned_alloc, allocated)
        if spillover:
            bucket.spillover_invocations += 1
        else:
            bucket.provisioned_invocations += 1

    def async_received(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").async_received += 1

    def async_dequeued(self, function: FunctionKey, age_ms: float) -> None:
        bucket = self._bucket(function.region, function.name, "$LATEST")
        bucket.async_age_min = age_ms if not bucket.async_age_count else min(bucket.async_age_min, age_ms)
        bucket.async_age_count += 1
        bucket.async_age_sum += age_ms
        bucket.async_age_max = max(bucket.async_age_max, age_ms)

    def iterator_age(self, function: FunctionKey, age_ms: float) -> None:
        bucket = self._bucket(function.region, function.name, "$LATEST")
        bucket.iterator_age_min = (
            age_ms if not bucket.iterator_age_count else min(bucket.iterator_age_min, age_ms)
        )
        bucket.iterator_age_count += 1
        bucket.iterator_age_sum += age_ms
        bucket.iterator_age_max = max(bucket.iterator_age_max, age_ms)

    def async_dropped(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").async_dropped += 1

    def destination_failed(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").destination_failures += 1

    def dead_letter_failed(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").dead_letter_errors += 1

    def recursion_stopped(self, function: FunctionKey) -> None:
        self._bucket(function.region, function.name, "$LATEST").recursive_dropped += 1

    # -- persistence -----------------------------------------------------------------------

    def flush(self) -> None:
        """Fold what was recorded into the stored minutes. Called on the loop (it swaps the
        pending buckets) and writes in the caller's thread."""
        batch, self._pending = self._pending, {}
        self._write(batch)

    def _write(self, batch: dict[tuple[str, str, str, int], Bucket]) -> None:
        if not batch:
            return
        try:
            self._write_minutes(batch)
        except Exception as e:
            if not is_disk_full(e):
                raise
            # Dropped, not kept, as log lines are: the flusher must not end the server, and the
            # totals since start (Prometheus) still count these invocations.
            self.drops.dropped(len(batch), e)
            return
        self.drops.stored()

    def _write_minutes(self, batch: dict[tuple[str, str, str, int], Bucket]) -> None:
        with self._db_lock, transaction(self._conn, "BEGIN"):
            for (region, function, dimension, minute), added in batch.items():
                row = self._conn.execute(
                    "SELECT stats FROM lambda_minutes "
                    "WHERE region = ? AND function = ? AND dimension = ? AND minute = ?",
                    (region, function, dimension, minute),
                ).fetchone()
                bucket = Bucket.from_json(row[0]) if row else Bucket()
                bucket.merge(added)
                self._conn.execute(
                    "INSERT INTO lambda_minutes(region, function, dimension, minute, stats) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(region, function, dimension, minute) "
                    "DO UPDATE SET stats = excluded.stats",
                    (region, function, dimension, minute, bucket.to_json()),
                )

    def prune(self, before: int) -> int:
        """Drop the minutes older than `before` (epoch seconds); returns how many went."""
        with self._db_lock:
            return self._conn.execute("DELETE FROM lambda_minutes WHERE minute < ?", (before,)).rowcount

    def unplaced(self) -> list[str]:
        """The functions whose minutes were kept before regions ('' for the account's)."""
        with self._db_lock:
            if not self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'minutes'").fetchone():
                return []
            return [str(f) for (f,) in self._conn.execute("SELECT DISTINCT function FROM minutes")]

    def place_regions(self, regions: Mapping[str, str]) -> None:
        """Move the minutes of before regions (one namespace, the `minutes` table) into the
        region `regions` gives each function name (the account's gauges, function '', into
        theirs, else us-east-1). One transaction: a crash leaves the old table, placed again at
        the next start."""
        with self._db_lock, writing(), transaction(self._conn, "BEGIN IMMEDIATE"):
            if not self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'minutes'").fetchone():
                return
            rows = self._conn.execute("SELECT function, dimension, minute, stats FROM minutes").fetchall()
            self._conn.executemany(
                "INSERT INTO lambda_minutes(region, function, dimension, minute, stats) "
                "VALUES (?,?,?,?,?) ON CONFLICT(region, function, dimension, minute) DO NOTHING",
                [(regions.get(str(f), DEFAULT_REGION), f, d, m, st) for f, d, m, st in rows],
            )
            self._conn.execute("DROP TABLE minutes")

    async def run_flusher(self, retention_s: float = DEFAULT_RETENTION_S) -> None:
        passes = 0
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                batch, self._pending = self._pending, {}
                await asyncio.to_thread(self._write, batch)
                passes += 1
                if passes % PRUNE_EVERY == 1:
                    try:
                        await asyncio.to_thread(self.prune, int(time.time() - retention_s))
                    except Exception as e:  # a delete is a write too, in WAL mode
                        if not is_disk_full(e):
                            raise
                        # Pruned at a later pass; the dropped buckets already warn of the disk.
        finally:
            self.flush()

    def close(self) -> None:
        self.flush()
        self._conn.close()

    # -- reads -----------------------------------------------------------------------------

    def minutes(
        self, region: str | None, function: str | None, dimension: str | None, start: int, end: int
    ) -> list[tuple[str, str, int, Bucket]]:
        """The stored minutes of one region (None: every region's, as the cost report and the
        dashboard, which are the account's, read them), of one function or all of them."""
        self.flush()
        sql = "SELECT function, dimension, minute, stats FROM lambda_minutes WHERE minute >= ? AND minute < ?"
        args: list[Any] = [start, end]
        if region is not None:
            sql += " AND region = ?"
            args.append(region)
        if function is None:
            sql += " AND function != ''"  # the account's gauges are read by naming them
        else:
            sql += " AND function = ?"
            args.append(function)
        if dimension is not None:
            sql += " AND dimension = ?"
            args.append(dimension)
        with self._db_lock:
            rows = self._conn.execute(sql + " ORDER BY minute", args).fetchall()
        return [(str(f), str(d), int(m), Bucket.from_json(s)) for f, d, m, s in rows]

    def usage(self, since: int, by: str) -> list[Usage]:
        """Metered use per function or per UTC day, from the `$LATEST`/version dimensions only
        (an alias's bucket repeats its version's invocations)."""
        totals: dict[str, list[float]] = {}
        for function, dimension, minute, bucket in self.minutes(None, None, None, since, 1 << 62):
            if dimension.startswith("alias:"):
                continue
            key = function if by == "function" else time.strftime("%Y-%m-%d", time.gmtime(minute))
            entry = totals.setdefault(key, [0, 0, 0.0])
            entry[0] += bucket.invocations
            entry[1] += bucket.billed_ms
            entry[2] += bucket.gb_ms / 1000
        return [Usage(k, int(v[0]), int(v[1]), v[2]) for k, v in sorted(totals.items())]
