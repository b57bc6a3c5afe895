"""The durable queue of asynchronous invocations (SQLite, its own file).

Work is leased, never deleted on read: a claim writes an owner and an expiry, and a completion,
retry or drop counts only while the lease still belongs to its owner. If a server dies, its
leases expire and the events run again (at least once). The same design maps to PostgreSQL's
`FOR UPDATE SKIP LOCKED` later.

Every call is blocking: the async queue runs them on one worker thread, which owns the
connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from stratus.store.diskfull import writing
from stratus.store.sqlite import connect, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS async_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    qualifier TEXT,
    region TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    backoffs INTEGER NOT NULL DEFAULT 0,
    chain INTEGER NOT NULL DEFAULT 0,
    trace TEXT,
    due_ms INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_ms INTEGER
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events(due_ms);
"""


@dataclass(frozen=True)
class NewEvent:
    request_id: str
    function: str
    qualifier: str | None
    region: str
    payload: bytes
    received_ms: int
    chain: int = 0  # how many destination hops led to this event
    trace: str | None = None  # the caller's X-Amzn-Trace-Id


@dataclass(frozen=True)
class QueuedEvent:
    id: int
    request_id: str
    function: str
    qualifier: str | None
    region: str
    payload: bytes
    received_ms: int
    attempts: int
    backoffs: int
    chain: int
    trace: str | None = None


class EventQueue:
    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(SCHEMA)
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(async_events)")}
        if "chain" not in columns:  # a queue written before chains were counted
            self._conn.execute("ALTER TABLE async_events ADD COLUMN chain INTEGER NOT NULL DEFAULT 0")
        if "trace" not in columns:  # a queue written before traces were kept
            self._conn.execute("ALTER TABLE async_events ADD COLUMN trace TEXT")

    def close(self) -> None:
        self._conn.close()

    def enqueue(self, events: list[NewEvent], now_ms: int) -> None:
        """Store events durably, in one transaction (group commit for concurrent callers).
        On a full disk nothing is stored and `errors.DiskFull` is raised."""
        with writing(), transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO async_events(request_id, function, qualifier, region, payload, "
                "received_ms, chain, trace, due_ms) VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        e.request_id,
                        e.function,
                        e.qualifier,
                        e.region,
                        e.payload,
                        e.received_ms,
                        e.chain,
                        e.trace,
                        now_ms,
                    )
                    for e in events
                ],
            )

    def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[QueuedEvent]:
        """Lease up to `limit` due events that nobody holds (or whose lease has expired)."""
        with writing(), transaction(self._conn):
            rows = self._conn.execute(
                "UPDATE async_events SET lease_owner = ?, lease_until_ms = ? WHERE id IN ("
                " SELECT id FROM async_events WHERE due_ms <= ? AND"
                " (lease_owner IS NULL OR lease_until_ms < ?) ORDER BY due_ms, id LIMIT ?)"
                " RETURNING id, request_id, function, qualifier, region, payload, received_ms,"
                " attempts, backoffs, chain, trace",
                (owner, now_ms + lease_ms, now_ms, now_ms, limit),
            ).fetchall()
        return sorted((QueuedEvent(*row) for row in rows), key=lambda e: e.id)

    def complete(self, event_id: int, owner: str) -> bool:
        """Done (ran, or dropped): gone from the queue, if the lease is still ours."""
        with writing():
            cur = self._conn.execute(
                "DELETE FROM async_events WHERE id = ? AND lease_owner = ?", (event_id, owner)
            )
        return cur.rowcount == 1

    def retry(self, event_id: int, owner: str, due_ms: int, attempts: int, backoffs: int) -> bool:
        with writing():
            cur = self._conn.execute(
                "UPDATE async_events SET due_ms = ?, attempts = ?, backoffs = ?, lease_owner = NULL, "
                "lease_until_ms = NULL WHERE id = ? AND lease_owner = ?",
                (due_ms, attempts, backoffs, event_id, owner),
            )
        return cur.rowcount == 1

    def release_dead_owners(self, me: str) -> int:
        """Leases of earlier servers of this data dir whose process is gone: free them now
        rather than when they expire."""
        owners = [
            r[0]
            for r in self._conn.execute(
                "SELECT DISTINCT lease_owner FROM async_events WHERE lease_owner IS NOT NULL"
            )
        ]
        freed = 0
        for owner in owners:
            if owner == me or _alive(owner):
                continue
            with writing():
                cur = self._conn.execute(
                    "UPDATE async_events SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner = ?",
                    (owner,),
                )
            freed += cur.rowcount
        return freed

    def next_due_ms(self) -> int | None:
        row = self._conn.execute("SELECT MIN(due_ms) FROM async_events").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def depth(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM async_events").fetchone()[0])


def _alive(owner: str) -> bool:
    """Owners are "<host>:<pid>:<nonce>"; one on this host is alive while its pid runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != os.uname().nodename or not pid.isdigit():
        return True  # another machine's: only its lease expiry frees it
    return Path(f"/proc/{pid}").exists()
