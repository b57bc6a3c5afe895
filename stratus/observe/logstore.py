"""Function logs, stored per log group and stream as CloudWatch Logs keeps them.

Environments append lines to an in-memory buffer; a writer task flushes it to `logs.db` from a
worker thread, so logging never sits on the invoke hot path. Each flush writes one row (a
chunk) per stream holding every line that stream logged since the last flush: a busy function
logs three lines or more per invoke, and one row per line made the writer cost a tenth of the
server's time. An event's id is its chunk's row id times 65,536 plus its place in the chunk,
so ids keep the order the lines were logged in. Reads flush first, so a reader always sees
every line appended before its call.

Log groups are regional, as on AWS: `/aws/lambda/f` in us-east-1 and in eu-west-1 are two
groups, so every chunk and retention setting names its region. Lines stored before regions were
kept have an empty region until `place_regions` (called at start, once the functions are known)
moves each group into its function's region.
"""

from __future__ import annotations

import json
import operator
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from stratus.control.keys import DEFAULT_REGION
from stratus.observe.drops import Drops
from stratus.observe.flushing import write_behind
from stratus.store.diskfull import is_disk_full, writing
from stratus.store.sqlite import connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    region TEXT NOT NULL DEFAULT '',
    log_group TEXT NOT NULL,
    stream TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts INTEGER NOT NULL,
    ingested INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    lines TEXT NOT NULL -- JSON: [[timestamp ms, message], ...]
);
CREATE TABLE IF NOT EXISTS group_retention (
    region TEXT NOT NULL,
    log_group TEXT NOT NULL,
    days INTEGER NOT NULL,
    PRIMARY KEY (region, log_group)
);
"""
# After the tables (an older `chunks` gains its region column first); the one-namespace indexes
# of before are dropped, every read names a region now.
INDEXES = """
DROP INDEX IF EXISTS chunks_group_ts;
DROP INDEX IF EXISTS chunks_stream;
CREATE INDEX IF NOT EXISTS chunks_region_group_ts ON chunks(region, log_group, last_ts);
CREATE INDEX IF NOT EXISTS chunks_region_stream ON chunks(region, log_group, stream, id);
"""
# CloudWatch Logs' allowed retention periods, in days.
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
DEFAULT_MAX_BYTES = 1 << 30  # past this, the oldest chunks go first, whatever the retention
ENFORCE_INTERVAL = 60.0
# Before chunks, each line was a row of `events`; such a table is folded in on open.
MIGRATE_EVENTS = """
INSERT INTO chunks(log_group, stream, first_ts, last_ts, ingested, bytes, lines)
    SELECT log_group, stream, ts, ts, ingested, LENGTH(message), json_array(json_array(ts, message))
    FROM events ORDER BY id;
DROP TABLE events;
"""
CHUNK_LINES = 1 << 16
FLUSH_INTERVAL = 0.2


@dataclass(frozen=True)
class LogEvent:
    event_id: int
    log_group: str
    stream: str
    timestamp: int  # ms since the epoch
    ingestion_time: int
    message: str


@dataclass(frozen=True)
class StreamInfo:
    log_group: str
    stream: str
    first_ts: int
    last_ts: int
    last_ingested: int
    stored_bytes: int


_MESSAGE = operator.itemgetter(1)


def _lines_json(lines: list[list[int | str]]) -> str:
    try:
        return orjson.dumps(lines).decode()
    except TypeError:  # text orjson refuses (lone surrogates); the stdlib escapes it
        return json.dumps(lines)


def _parse_lines(text: str) -> list[list[Any]]:
    try:
        return orjson.loads(text)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:  # escaped lone surrogates, written by the stdlib above
        return json.loads(text)  # type: ignore[no-any-return]


class LogStore:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, *, enabled: bool = True) -> None:
        self._max_bytes = max_bytes
        self.enabled = enabled  # off only to measure what logging costs (STRATUS_TELEMETRY=0)
        self._conn = connect(path, durable=False)
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(chunks)")}
        if "region" not in columns:  # chunks of before regions; `place_regions` assigns them
            self._conn.execute("ALTER TABLE chunks ADD COLUMN region TEXT NOT NULL DEFAULT ''")
        self._conn.executescript(INDEXES)
        if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            try:
                self._conn.executescript(f"BEGIN; {MIGRATE_EVENTS} COMMIT;")
            except sqlite3.Error as e:
                if not is_disk_full(e):
                    raise
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                # The old lines stay where they are; the fold is tried again at the next start.
        # (region, log group, stream) -> the lines logged since the last flush, as
        # [timestamp, message].
        # Only the event loop's thread appends and takes it, so it needs no lock; the writes
        # happen in a worker thread, under the database lock.
        self._pending: dict[tuple[str, str, str], list[list[int | str]]] = {}
        self._db_lock = threading.Lock()
        self.drops = Drops("logs")  # lines a full disk kept out

    def append(self, region: str, log_group: str, stream: str, ts_ms: int, message: str) -> None:
        if not self.enabled:
            return
        lines = self._pending.get((region, log_group, stream))
        if lines is None:
            self._pending[(region, log_group, stream)] = [[ts_ms, message]]
        else:
            lines.append([ts_ms, message])

    def append_lines(self, region: str, log_group: str, stream: str, ts_ms: int, messages: list[str]) -> None:
        """`append` of several lines with one stamp (an invocation's END and REPORT)."""
        if not self.enabled:
            return
        where = (region, log_group, stream)
        lines = self._pending.get(where)
        if lines is None:
            lines = self._pending[where] = []
        lines.extend([ts_ms, message] for message in messages)

    def flush(self) -> None:
        """Write what was appended; on the thread that appends (the loop)."""
        self._write(self._take())

    def _take(self) -> dict[tuple[str, str, str], list[list[int | str]]]:
        batch, self._pending = self._pending, {}
        return batch

    def _write(self, batch: dict[tuple[str, str, str], list[list[int | str]]]) -> None:
        if not batch:
            return
        now = int(time.time() * 1000)
        rows = []
        for (region, group, stream), lines in batch.items():
            for start in range(0, len(lines), CHUNK_LINES - 1):
                part = lines[start : start + CHUNK_LINES - 1]
                size = sum(map(len, map(str, map(_MESSAGE, part))))  # no Python call per line
                stamps = [int(line[0]) for line in part]
                rows.append((region, group, stream, min(stamps), max(stamps), now, size, _lines_json(part)))
        try:
            with self._db_lock, transaction(self._conn, "BEGIN"):
                self._conn.executemany(
                    "INSERT INTO chunks(region, log_group, stream, first_ts, last_ts, ingested, bytes, "
                    "lines) VALUES (?,?,?,?,?,?,?,?)",
                    rows,
                )
        except Exception as e:
            if not is_disk_full(e):
                raise
            # Dropped, not kept: the disk may stay full for long, and logs must never end the
            # server (this writer runs in its task group) nor make it grow without bound.
            self.drops.dropped(sum(len(lines) for lines in batch.values()), e)
            return
        self.drops.stored()

    async def run_flusher(self) -> None:
        # A full disk skips an enforcement; the dropped lines already warn of it.
        await write_behind(
            self._take,
            self._write,
            self.enforce,
            self.flush,
            interval=FLUSH_INTERVAL,
            enforce_every=ENFORCE_INTERVAL,
        )

    # -- retention ---------------------------------------------------------------------------

    def put_retention(self, region: str, log_group: str, days: int) -> None:
        with self._db_lock, writing():
            self._conn.execute(
                "INSERT INTO group_retention(region, log_group, days) VALUES (?, ?, ?) "
                "ON CONFLICT(region, log_group) DO UPDATE SET days = excluded.days",
                (region, log_group, days),
            )

    def delete_retention(self, region: str, log_group: str) -> None:
        with self._db_lock, writing():
            self._conn.execute(
                "DELETE FROM group_retention WHERE region = ? AND log_group = ?", (region, log_group)
            )

    def retention(self, region: str) -> dict[str, int]:
        """The retention of the region's groups that have one: group -> days."""
        with self._db_lock:
            rows = self._conn.execute(
                "SELECT log_group, days FROM group_retention WHERE region = ?", (region,)
            )
            return {str(g): int(d) for g, d in rows}

    def unplaced(self) -> list[str]:
        """The groups stored before log groups were regional (no region yet)."""
        with self._db_lock:
            names = {
                str(g)
                for (g,) in self._conn.execute("SELECT DISTINCT log_group FROM chunks WHERE region = ''")
            }
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'retention'").fetchone():
                names.update(str(g) for (g,) in self._conn.execute("SELECT log_group FROM retention"))
        return sorted(names)

    def place_regions(self, regions: Mapping[str, str]) -> None:
        """Move the groups of before regions (one namespace) into a region each: group ->
        region, for every name `unplaced` gave. Their retention moves with them. One
        transaction: a crash leaves them unplaced, and the next start places them again."""
        with self._db_lock, writing(), transaction(self._conn, "BEGIN IMMEDIATE"):
            for group, region in regions.items():
                self._conn.execute(
                    "UPDATE chunks SET region = ? WHERE region = '' AND log_group = ?", (region, group)
                )
            if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'retention'").fetchone():
                for group, days in self._conn.execute("SELECT log_group, days FROM retention").fetchall():
                    self._conn.execute(
                        "INSERT INTO group_retention(region, log_group, days) VALUES (?, ?, ?) "
                        "ON CONFLICT(region, log_group) DO NOTHING",
                        (regions.get(str(group), DEFAULT_REGION), group, days),
                    )
                self._conn.execute("DROP TABLE retention")

    def enforce(self, now_ms: int) -> int:
        """Delete stored chunks past their group's retention, then the oldest ones while the
        store is over its size cap. Returns how many chunks went. Any thread."""
        removed = 0
        with self._db_lock:
            retained = self._conn.execute("SELECT region, log_group, days FROM group_retention").fetchall()
            for region, group, days in retained:
                cur = self._conn.execute(
                    "DELETE FROM chunks WHERE region = ? AND log_group = ? AND last_ts < ?",
                    (region, group, now_ms - int(days) * 86_400_000),
                )
                removed += cur.rowcount
            total = self._conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM chunks").fetchone()[0]
            while total > self._max_bytes:
                rows = self._conn.execute("SELECT id, bytes FROM chunks ORDER BY id LIMIT 256").fetchall()
                if not rows:
                    break
                cut = []
                for chunk_id, size in rows:
                    cut.append(chunk_id)
                    total -= size
                    if total <= self._max_bytes:
                        break
                self._conn.executemany("DELETE FROM chunks WHERE id = ?", [(c,) for c in cut])
                removed += len(cut)
        return removed

    def close(self) -> None:
        self.flush()
        self._conn.close()

    # -- reads -----------------------------------------------------------------------------

    def _query(self, sql: str, args: Iterable[object]) -> list[tuple[object, ...]]:
        self.flush()
        with self._db_lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def groups(self, region: str, prefix: str = "") -> list[tuple[str, int, int]]:
        """The region's groups that have lines: (name, first ingestion, stored bytes)."""
        rows = self._query(
            "SELECT log_group, MIN(ingested), SUM(bytes) FROM chunks "
            "WHERE region = ? AND log_group >= ? GROUP BY log_group ORDER BY log_group",
            (region, prefix),
        )
        return [(str(g), int(str(t)), int(str(b))) for g, t, b in rows if str(g).startswith(prefix)]

    def streams(self, region: str, log_group: str) -> list[StreamInfo]:
        rows = self._query(
            "SELECT stream, MIN(first_ts), MAX(last_ts), MAX(ingested), SUM(bytes) FROM chunks "
            "WHERE region = ? AND log_group = ? GROUP BY stream",
            (region, log_group),
        )
        return [
            StreamInfo(log_group, str(s), int(str(a)), int(str(b)), int(str(c)), int(str(d)))
            for s, a, b, c, d in rows
        ]

    def events(
        self,
        region: str,
        log_group: str,
        *,
        streams: list[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        after_id: int = 0,
        limit: int = 10000,
        descending: bool = False,
    ) -> list[LogEvent]:
        """Up to `limit` events in id order (or reverse), after (or before) `after_id`."""
        sql = "SELECT id, stream, ingested, lines FROM chunks WHERE region = ? AND log_group = ?"
        args: list[object] = [region, log_group]
        if streams:
            sql += f" AND stream IN ({','.join('?' * len(streams))})"
            args.extend(streams)
        if start is not None:
            sql += " AND last_ts >= ?"
            args.append(start)
        if end is not None:
            sql += " AND first_ts < ?"
            args.append(end)
        sql += " AND id <= ?" if descending else " AND id >= ?"
        sql += f" ORDER BY id {'DESC' if descending else 'ASC'} LIMIT 64"
        cursor_chunk = (after_id // CHUNK_LINES) if after_id else (1 << 62 if descending else 0)
        found: list[LogEvent] = []
        while len(found) < limit:
            rows = self._query(sql, [*args, cursor_chunk])
            if not rows:
                break
            for chunk_id, stream, ingested, text in rows:
                base = int(str(chunk_id)) * CHUNK_LINES
                indexed = list(enumerate(_parse_lines(str(text))))
                for index, (ts, message) in reversed(indexed) if descending else indexed:
                    event_id = base + index
                    if after_id and (event_id >= after_id if descending else event_id <= after_id):
                        continue
                    if (start is not None and ts < start) or (end is not None and ts >= end):
                        continue
                    found.append(LogEvent(event_id, log_group, str(stream), ts, int(str(ingested)), message))
                    if len(found) >= limit:
                        return found
            last_chunk = int(str(rows[-1][0]))
            cursor_chunk = last_chunk - 1 if descending else last_chunk + 1
        return found

    def delete_group(self, region: str, log_group: str) -> int:
        self.flush()
        with self._db_lock, writing():
            self._conn.execute(
                "DELETE FROM group_retention WHERE region = ? AND log_group = ?", (region, log_group)
            )
            cur = self._conn.execute(
                "DELETE FROM chunks WHERE region = ? AND log_group = ?", (region, log_group)
            )
            return cur.rowcount
