"""Function logs, stored per log group and stream as CloudWatch Logs keeps them.

Environments append lines to an in-memory buffer; a writer task flushes it to `logs.db` in
batches from a worker thread, so logging never sits on the invoke hot path. Reads flush first,
so a reader always sees every line appended before its call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from stratus.store.sqlite import connect

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    log_group TEXT NOT NULL,
    stream TEXT NOT NULL,
    ts INTEGER NOT NULL,
    ingested INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_group_ts ON events(log_group, ts);
CREATE INDEX IF NOT EXISTS events_stream ON events(log_group, stream, id);
"""
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


class LogStore:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path, durable=False)
        self._conn.executescript(SCHEMA)
        self._pending: list[tuple[str, str, int, int, str]] = []
        # The buffer is shared by the loop (appends) and the flushing thread; the lock only
        # guards the swap of one list for another.
        self._lock = threading.Lock()
        self._db_lock = threading.Lock()

    def append(self, log_group: str, stream: str, ts_ms: int, message: str) -> None:
        with self._lock:
            self._pending.append((log_group, stream, ts_ms, ts_ms, message))

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return
        with self._db_lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO events(log_group, stream, ts, ingested, message) VALUES (?,?,?,?,?)",
                batch,
            )
            self._conn.execute("COMMIT")

    async def run_flusher(self) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_INTERVAL)
                await asyncio.to_thread(self.flush)
        finally:
            self.flush()

    def close(self) -> None:
        self.flush()
        self._conn.close()

    # -- reads -----------------------------------------------------------------------------

    def _query(self, sql: str, args: Iterable[object]) -> list[tuple[object, ...]]:
        self.flush()
        with self._db_lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def groups(self, prefix: str = "") -> list[tuple[str, int, int]]:
        rows = self._query(
            "SELECT log_group, MIN(ingested), SUM(LENGTH(message)) FROM events "
            "WHERE log_group >= ? GROUP BY log_group ORDER BY log_group",
            (prefix,),
        )
        return [(str(g), int(str(t)), int(str(b))) for g, t, b in rows if str(g).startswith(prefix)]

    def streams(self, log_group: str) -> list[StreamInfo]:
        rows = self._query(
            "SELECT stream, MIN(ts), MAX(ts), MAX(ingested), SUM(LENGTH(message)) FROM events "
            "WHERE log_group = ? GROUP BY stream",
            (log_group,),
        )
        return [
            StreamInfo(log_group, str(s), int(str(a)), int(str(b)), int(str(c)), int(str(d)))
            for s, a, b, c, d in rows
        ]

    def events(
        self,
        log_group: str,
        *,
        streams: list[str] | None = None,
        start: int | None = None,
        end: int | None = None,
        after_id: int = 0,
        limit: int = 10000,
        descending: bool = False,
    ) -> list[LogEvent]:
        sql = "SELECT id, log_group, stream, ts, ingested, message FROM events WHERE log_group = ?"
        args: list[object] = [log_group]
        if streams:
            sql += f" AND stream IN ({','.join('?' * len(streams))})"
            args.extend(streams)
        if start is not None:
            sql += " AND ts >= ?"
            args.append(start)
        if end is not None:
            sql += " AND ts < ?"
            args.append(end)
        if after_id:
            sql += " AND id < ?" if descending else " AND id > ?"
            args.append(after_id)
        sql += f" ORDER BY id {'DESC' if descending else 'ASC'} LIMIT ?"
        args.append(limit)
        rows = self._query(sql, args)
        return [
            LogEvent(int(str(i)), str(g), str(s), int(str(t)), int(str(n)), str(m))
            for i, g, s, t, n, m in rows
        ]

    def delete_group(self, log_group: str) -> int:
        self.flush()
        with self._db_lock:
            cur = self._conn.execute("DELETE FROM events WHERE log_group = ?", (log_group,))
            return cur.rowcount
